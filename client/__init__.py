"""`datastation.client`: the public Python API of a served escrow (`dsc serve`).

    from datastation.client import Client

It is `datastation.runtime.client`, under a shorter name (docs/server.md).
"""

from datastation.runtime.client import Client, RemoteError

__all__ = ["Client", "RemoteError"]
