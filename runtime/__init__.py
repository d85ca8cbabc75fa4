"""The escrow: config, store, storage, keys, executors, audit log, CLI and HTTP server."""
