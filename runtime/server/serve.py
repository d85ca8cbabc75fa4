"""Running the app with uvicorn: the config's `server:` section (address, TLS, proxy headers,
worker processes).

With `server.workers` > 1, uvicorn binds the port once and starts that many worker processes,
each importing `worker_app` and opening the escrow itself (its own store connection): they
share the store (PostgreSQL only: `check_workers`), whose transactions (SQLite `BEGIN IMMEDIATE`, the PostgreSQL advisory lock)
and one-time nonces are what every process already relies on, as `dsc` commands do beside a
running server. What one process keeps in memory is safe to split (docs/server.md). Uploads
left by a killed server are swept here, once, before any worker starts: a worker that uvicorn
starts again must not delete the temporary file of another worker's upload in progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

from datastation.runtime.config import ConfigError

WORKER_ENV = "DSC_SERVE_WORKER"  # how the worker processes find the config (set by `serve`)
HEALTHCHECK_SECONDS = 30  # a busy worker may answer uvicorn's ping late: not killed for it
# An idle keep-alive connection is closed after this long: well after a client stops reusing it
# (`client.KEEPALIVE_SECONDS`). With both at 5 s (uvicorn's and httpx's defaults) a request sent
# as the server closed the connection met a reset (bench/server_load.py, tests/server/test_keep_alive.py).
KEEP_ALIVE_SECONDS = 75


def serve(config, *, host: str | None = None, port: int | None = None, log_level: str = "info",
          workers: int | None = None, located: tuple[str | None, str | None] = (None, None)) -> None:
    """Serve `config`'s escrow; `workers` overrides `server.workers`; `located` is the (--escrow,
    --config) the config was found with (the workers find it again the same way)."""
    import uvicorn

    from .app import create_app, sweep_uploads

    s = config.server
    kwargs = {}
    if s.tls_cert is not None:
        kwargs.update(ssl_certfile=str(s.tls_cert), ssl_keyfile=str(s.tls_key))
    if s.forwarded_allow_ips:
        kwargs.update(proxy_headers=True, forwarded_allow_ips=s.forwarded_allow_ips)
    else:
        kwargs.update(proxy_headers=False)
    logging.getLogger("datastation.server").setLevel(log_level.upper())
    address = dict(host=host or s.host, port=s.port if port is None else port, log_level=log_level,
                   server_header=False, timeout_keep_alive=KEEP_ALIVE_SECONDS, **kwargs)
    workers = s.workers if workers is None else workers
    check_workers(config, workers)
    if workers <= 1:
        uvicorn.run(create_app(config), **address)
        return
    sweep_uploads(config)
    os.environ[WORKER_ENV] = json.dumps({"escrow": located[0], "config": located[1], "digest": digest(config)})
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers,
                timeout_worker_healthcheck=HEALTHCHECK_SECONDS, **address)


def check_workers(config, workers: int) -> None:
    """Several workers need a PostgreSQL store (`ConfigError` otherwise). On SQLite they would be
    correct (tests/server/test_workers.py) but unfair: a writer of one process that finds the
    database locked by the other polls for it, sleeping up to 100 ms between tries, while the
    other process's threads take it again at once; under load its requests wait seconds (p99 of
    approvals 1.8 s with 2 workers against 0.6 s with 1, bench/RESULTS.md) and, past the 30 s busy
    timeout, fail with `unavailable`."""
    if workers > 1 and config.store.backend != "postgresql":
        raise ConfigError(f"server.workers (or --workers) {workers} needs a PostgreSQL store (store.url): "
                          "on SQLite, worker processes wait for the database's write lock unfairly; "
                          "serve SQLite with one worker")


def digest(config) -> str:
    """What a worker checks that it found the very config the parent was started with (the store's
    URL, left out of the config's repr, included)."""
    return hashlib.sha256(f"{config!r}\n{config.store.url}".encode()).hexdigest()


def worker_app():
    """The app of one worker process (`uvicorn ... factory=True`): the config found as the parent
    found it, refused if it is not the same (the file changed in between); uploads not swept."""
    from datastation.runtime.discovery import locate

    from .app import create_app

    spec = json.loads(os.environ[WORKER_ENV])
    config = locate(spec["escrow"], spec["config"])
    if digest(config) != spec["digest"]:
        raise RuntimeError("the escrow's configuration changed after `dsc serve` started: restart it")
    return create_app(config, sweep=False)
