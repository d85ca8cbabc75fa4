"""A data element's bytes as the value a function receives (tables as pandas DataFrames).

This module is mounted read-only into the no-trust sandbox container as `dsc_loader.py`
(see `docker/container.py`), so that functions see the same values in both trust modes.
It must therefore import nothing from `datastation` but the stdlib (also mounted).
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any


class LoadError(Exception):
    pass


def load_value(data: bytes, fmt: str):
    """A DE's bytes as the value functions receive: tables as pandas DataFrames.

    `fmt` is the data element's format (csv, parquet, json) or "result:KIND" for a kept result.
    """
    import pandas as pd

    try:
        if fmt.startswith("result:"):
            from datastation.stdlib.serialize import from_bytes

            return from_bytes(fmt[len("result:"):], data)
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data))
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "json":
            try:
                return pd.read_json(io.BytesIO(data), orient="records")
            except ValueError:
                return pd.read_json(io.BytesIO(data), lines=True)
    except Exception as exc:  # malformed data must never crash the escrow; its message may quote the data
        raise LoadError(f"cannot read the data as {fmt} ({type(exc).__name__})") from None
    raise LoadError(f"unknown data format {fmt!r}")


# Decoded tables by content hash: parsing a CSV costs far more than reading it, and the same
# data elements are read again and again. Callers get a copy, so functions that modify their
# input in place cannot affect a later run.
_TABLES: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
_TABLE_BYTES = 0
TABLE_CACHE_BYTES = 256 * 1024 * 1024


def load_value_cached(data: bytes, fmt: str, content_hash: str | None):
    """`load_value`, remembering decoded DataFrames by (content hash, format)."""
    global _TABLE_BYTES
    import pandas as pd

    if content_hash is None:
        return load_value(data, fmt)
    key = (content_hash, fmt)
    hit = _TABLES.get(key)
    if hit is not None:
        _TABLES.move_to_end(key)
        return hit[0].copy()
    value = load_value(data, fmt)
    if isinstance(value, pd.DataFrame) and len(data) <= TABLE_CACHE_BYTES // 4:
        _TABLES[key] = (value.copy(), len(data))
        _TABLE_BYTES += len(data)
        while _TABLE_BYTES > TABLE_CACHE_BYTES and _TABLES:
            _, (_, size) = _TABLES.popitem(last=False)
            _TABLE_BYTES -= size
    return value
