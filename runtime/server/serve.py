"""Running the app with uvicorn: the config's `server:` section (address, TLS, proxy headers)."""

from __future__ import annotations

import logging


def serve(config, *, host: str | None = None, port: int | None = None, log_level: str = "info") -> None:
    import uvicorn

    from .app import create_app

    s = config.server
    kwargs = {}
    if s.tls_cert is not None:
        kwargs.update(ssl_certfile=str(s.tls_cert), ssl_keyfile=str(s.tls_key))
    if s.forwarded_allow_ips:
        kwargs.update(proxy_headers=True, forwarded_allow_ips=s.forwarded_allow_ips)
    else:
        kwargs.update(proxy_headers=False)
    logging.getLogger("datastation.server").setLevel(log_level.upper())
    uvicorn.run(create_app(config), host=host or s.host, port=s.port if port is None else port,
                log_level=log_level, server_header=False, **kwargs)
