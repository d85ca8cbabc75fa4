"""`dsc serve`: serve the escrow over HTTP(S) to parties on other machines (docs/server.md)."""

from __future__ import annotations

from datastation.runtime.config import MAX_WORKERS

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the escrow over HTTP to agents on other machines",
                       description="Serve the escrow of --config over HTTP (HTTPS with server.tls_cert/tls_key): "
                                   "every request is signed by an agent's own key; agents join with a token "
                                   "from `dsc invite`. Settings: the `server:` section of the config.")
    p.add_argument("--host", default=None, help="address to listen on (default: server.host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: server.port, 8750)")
    p.add_argument("--workers", type=int, default=None,
                   help="server processes sharing the port and the store (default: server.workers, 1)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
            return cs.fail(f"--workers must be a whole number from 1 to {MAX_WORKERS}", cs.ExitCode.USAGE)
        config = cs.load_config_from(args)
        from datastation.runtime.escrow import open_escrow
        from datastation.runtime.server.serve import check_workers, serve

        check_workers(config, config.server.workers if args.workers is None else args.workers)
        open_escrow(config).close()  # a broken escrow or config is reported here, before listening
        serve(config, host=args.host, port=args.port, log_level=args.log_level, workers=args.workers,
              located=(getattr(args, "escrow", None), args.config))
    except cs.user_errors() as exc:
        return cs.fail(exc)
    return 0
