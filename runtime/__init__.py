"""The escrow: configuration, store, content storage, keys, executors, audit log, the escrow's
services (`escrow/`) and the command line (`cli.py`, `commands/`)."""
