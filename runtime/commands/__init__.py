"""One module per `dsc` subcommand; see `runtime/cli.py`."""
