"""The Python client of a served escrow (also importable as `datastation.client`): see `client.py`."""

from .client import Client, RemoteError

__all__ = ["Client", "RemoteError"]
