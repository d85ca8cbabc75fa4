"""The ASGI app of `dsc serve`: the escrow's facade behind HTTP.

    app = create_app(load_config())        # opens the escrow at start-up, closes it at shutdown

Routers: `api` (signed JSON actions and reads), `transfer` (streamed upload and download),
`review` (the review page at `/`: HTML views of signed reads). The JSON API lives under /v1.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from . import api, errors, review, transfer
from .stages import finish_executions
from .limits import BodyLimit

ROUTERS = (api.router, transfer.router, review.router)


def sweep_uploads(config) -> None:
    """Remove the temporary files of uploads a previous server left (killed mid-upload)."""
    folder = Path(config.escrow_dir) / "run" / "uploads"
    for f in folder.glob("upload-*") if folder.is_dir() else ():
        f.unlink(missing_ok=True)


log = logging.getLogger("datastation.server")


def start_warming(escrow) -> tuple[threading.Thread, threading.Event]:
    """Verify the approved contracts into the decision index in the background (`server.warm_decisions`):
    requests are served meanwhile, each contract verified in a snapshot of the store of its own."""
    stop = threading.Event()

    def warm() -> None:
        t = time.perf_counter()
        try:
            verified, refused = escrow.warm_decisions(stop)
        except Exception as exc:  # a store error: decisions stay lazy (each verified on first use)
            log.warning("decision index not warmed: %s", type(exc).__name__)
            return
        log.info("decision index: %d approved contract(s) verified in %.1f s%s", verified,
                 time.perf_counter() - t, f", {refused} refused (not cached)" if refused else "")

    thread = threading.Thread(target=warm, name="dsc-warm-decisions", daemon=True)
    thread.start()
    return thread, stop


# FastAPI's own OpenTelemetry, off: whenever a provider is configured in the server's environment
# (an OTEL_* exporter with FASTAPI_OTEL_AUTO_CONFIGURE, an instrumenting wrapper) it would send
# spans of every request and the message and traceback of every unhandled exception to it, and
# an exception's message may quote data (red team session 14, H49). Nothing leaves the escrow but
# what a contract releases.
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                "auto_configure": False}


def create_app(config, escrow=None, *, sweep: bool = True) -> FastAPI:
    """The app serving the escrow of `config` (or the open `escrow` given, left open at shutdown);
    `sweep`: remove a killed server's upload files at start-up (not in one of several workers)."""
    from datastation.runtime import __version__

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from datastation.runtime.escrow import Escrow

        owned = escrow is None
        app.state.escrow = Escrow.open(config) if owned else escrow
        if sweep:
            sweep_uploads(config)
        # Requests take turns on the store: a few threads keep it busy, more only queue (and
        # lengthen the tail: bench/server_load.py, 50 clients). Set in the event loop, per app.
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.server.threads
        app.state.warming = start_warming(app.state.escrow) if config.server.warm_decisions else None
        try:
            yield
        finally:
            await finish_executions(app)
            if app.state.warming is not None:
                thread, stop = app.state.warming
                stop.set()
                thread.join()
            if owned:
                app.state.escrow.close()

    app = FastAPI(title="DataStation escrow", version=__version__, lifespan=lifespan, telemetry=NO_TELEMETRY,
                  description="Every action and every read is a request signed with the agent's own Ed25519 key "
                              "(envelope {action, params, agent, escrow, nonce, timestamp}); errors are JSON "
                              "{code, message} with the escrow's stable refusal codes. See docs/server.md.")
    app.state.config = config
    if escrow is not None:
        app.state.escrow = escrow
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_request_bytes=config.server.max_request_bytes,
                       max_upload_bytes=config.server.max_upload_bytes)
    app.add_middleware(errors.Answered)  # added last: the outermost of the app's own
    return app
