"""The executor interface: an `ExecutionJob` in, an `ExecutionOutcome` out.

A job is one approved function call: which function (module source + name + source hash),
its bound arguments (data arguments by DE key), the DE keys it may read, and a `read(key)`
callback that returns a DE's plaintext bytes and records the read in the audit log; an
executor that stages inputs as files prefers `read_into(key, path)` when the job offers it
(same checks and audit entry, the plaintext streamed to `path`: no whole DE in memory). An
outcome is the result encoded by `datastation.stdlib.serialize` (never pickle) or a failure:
a short-circuit naming the forbidden key, an error, a timeout or a resource limit.
"""

from __future__ import annotations

import abc
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

# Outcome statuses
OK = "ok"
SHORT_CIRCUIT = "short_circuit"
ERROR = "error"
TIMEOUT = "timeout"
RESOURCE_LIMIT = "resource_limit"


# ---------------------------------------------------------------- arguments


@dataclass(frozen=True, slots=True)
class DataArg:
    """A data element (original "owner.name" or kept name), passed as its loaded value."""

    key: str


@dataclass(frozen=True, slots=True)
class ListArg:
    items: tuple["Arg", ...]


@dataclass(frozen=True, slots=True)
class ValueArg:
    """A literal (JSON value) or, for a nested call's result, its serialized form."""

    value: Any = None
    kind: str | None = None  # set with `data` when the value travels serialized
    data: bytes | None = None


Arg = Union[DataArg, ListArg, ValueArg]


def data_keys(arg: Arg) -> list[str]:
    if isinstance(arg, DataArg):
        return [arg.key]
    if isinstance(arg, ListArg):
        return [k for a in arg.items for k in data_keys(a)]
    return []


# ---------------------------------------------------------------- job and outcome


@dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    origin: str  # "user" | "stdlib"
    source_hash: str  # sha256 of the function's closure text (contracts.functions)
    module_name: str = ""  # the `use` path ("functions.py") or the stdlib module
    module_source: str | None = None  # the approved module text (user functions)


@dataclass(frozen=True)
class ExecutionJob:
    contract_id: str
    contract_name: str
    function: FunctionRef
    args: tuple[Arg, ...] = ()
    kwargs: tuple[tuple[str, Arg], ...] = ()
    allowed: frozenset[str] = frozenset()  # DE keys the function may read
    # key -> csv | parquet | json for data as added; "result:KIND" (KIND a serialize kind:
    # table, model, json) for kept results, which are stored in serialized form
    formats: dict[str, str] = field(default_factory=dict)
    read: Callable[[str], bytes] | None = None  # plaintext bytes of a DE; records the read
    # the fast path: write a DE's plaintext to a file (decrypted chunk by chunk); records the read
    read_into: Callable[[str, Path], None] | None = None
    content_hashes: dict[str, str] = field(default_factory=dict)  # key -> sha256 (decoded-table cache key)
    state: Any = None  # an app_state.AppState scoped to the contract (or None)
    phase: str = "compute"  # "compute" or "require"/"ensure" for calls inside conditions
    timeout_seconds: float | None = None

    def data_keys(self) -> list[str]:
        out = [k for a in self.args for k in data_keys(a)]
        out += [k for _, a in self.kwargs for k in data_keys(a)]
        return list(dict.fromkeys(out))


@dataclass
class ExecutionOutcome:
    status: str  # OK | SHORT_CIRCUIT | ERROR | TIMEOUT | RESOURCE_LIMIT
    kind: str | None = None  # serialize kind of the result when OK
    data: bytes | None = None  # serialized result when OK
    value: Any = None  # the decoded result (in-process: the object itself)
    forbidden_key: str | None = None  # what a short-circuited function tried to read
    error: str | None = None
    reads: list[str] = field(default_factory=list)  # DE keys read, in order
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK

    def result_value(self):
        """The result as a Python value (decoding the serialized form if needed)."""
        if self.value is None and self.data is not None and self.kind is not None:
            from datastation.stdlib.serialize import from_bytes

            self.value = from_bytes(self.kind, self.data)
        return self.value


class Executor(abc.ABC):
    @abc.abstractmethod
    def run(self, job: ExecutionJob) -> ExecutionOutcome:
        """Run the job's function once. Never raises for a failing function: the outcome says."""


# ---------------------------------------------------------------- loading values


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
    except Exception as exc:  # malformed data must never crash the escrow
        raise LoadError(f"cannot read the data as {fmt}: {type(exc).__name__}: {exc}") from None
    raise LoadError(f"unknown data format {fmt!r}")


# Decoded tables by content hash: parsing a CSV costs far more than reading it, and the same
# data elements are read again and again. Callers get a copy, so functions that modify their
# input in place cannot affect a later run.
_TABLES: "OrderedDict[tuple[str, str], tuple[Any, int]]" = None  # type: ignore[assignment]
_TABLE_BYTES = 0
TABLE_CACHE_BYTES = 256 * 1024 * 1024


def load_value_cached(data: bytes, fmt: str, content_hash: str | None):
    """`load_value`, remembering decoded DataFrames by (content hash, format)."""
    global _TABLES, _TABLE_BYTES
    import pandas as pd
    from collections import OrderedDict

    if content_hash is None:
        return load_value(data, fmt)
    if _TABLES is None:
        _TABLES = OrderedDict()
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
