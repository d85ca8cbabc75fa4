"""Values as bytes for crossing a trust boundary: tables as Parquet, models and plain values as JSON.

Never pickle: decoding only ever parses data (Parquet, JSON) and validates it, so bytes
from an untrusted party cannot run code. `from_bytes` refuses any kind it does not know.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd

from .models import LinearModel

KINDS: tuple[str, ...] = ("table", "model", "json")
EXTENSIONS: dict[str, str] = {"table": ".parquet", "model": ".model.json", "json": ".json"}


class SerializeError(ValueError):
    """A value that cannot be encoded, or bytes that are not a valid encoding of their kind."""


def _plain(value: object, depth: int = 0) -> object:
    """A JSON-able copy of value (numpy scalars unwrapped, tuples as lists, NaN as null)."""
    if depth > 100:
        raise SerializeError("value is nested too deeply")
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SerializeError("dictionary keys must be strings")
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    raise SerializeError(f"cannot serialise a value of type {type(value).__name__}")


def kind_of(value: object) -> str:
    """The kind `to_bytes` would give value."""
    if isinstance(value, pd.DataFrame):
        return "table"
    if isinstance(value, LinearModel):
        return "model"
    _plain(value)
    return "json"


def to_bytes(value: object) -> tuple[str, bytes]:
    """Encode a table (Parquet), a model (JSON) or a JSON value; returns (kind, bytes)."""
    if isinstance(value, pd.DataFrame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = value.copy()
        frame.columns = [str(c) for c in frame.columns]
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise SerializeError(f"cannot store the table as Parquet: {exc}") from None
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return "table", sink.getvalue()
    if isinstance(value, LinearModel):
        return "model", value.to_json().encode()
    # Key order is kept (a schema's column order is information); it is deterministic anyway.
    text = json.dumps(_plain(value), separators=(",", ":"), allow_nan=False)
    return "json", text.encode()


def _reject_constant(name: str) -> None:
    raise SerializeError(f"invalid JSON constant {name}")


def from_bytes(kind: str, data: bytes) -> object:
    """Decode bytes made by `to_bytes`; SerializeError for an unknown kind or malformed bytes."""
    if kind not in KINDS:
        raise SerializeError(f"unknown value kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializeError("data must be bytes")
    data = bytes(data)
    if kind == "table":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(io.BytesIO(data)).to_pandas()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise SerializeError(f"not a Parquet table: {exc}") from None
    if kind == "model":
        try:
            return LinearModel.from_json(data)
        except ValueError as exc:
            raise SerializeError(str(exc)) from None
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SerializeError(f"not valid JSON: {exc}") from None
