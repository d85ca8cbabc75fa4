"""Imports of local code (DSC039): a file beside it, a relative import, one inside a function."""

import pandas
from lib import size
from . import helpers


def n_rows(data) -> int:
    """How many rows."""
    import lib
    return len(data)
