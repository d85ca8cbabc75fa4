"""The escrow: configuration, store, content storage, keys, executors, audit log, the escrow's
services (`escrow/`) and the command line (`cli.py`, `commands/`)."""

__version__ = "0.1.0"  # the package's version (pyproject.toml reads it from here)
