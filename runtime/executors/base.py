"""The executor interface: an `ExecutionJob` in, an `ExecutionOutcome` out.

A job is one approved function call: which function (name + source hash, and for a user
function its closure text: exactly what its identity hashes, run as the whole module),
its bound arguments (data arguments by DE key), the DE keys it may read, and a `read(key)`
callback that returns a DE's plaintext bytes and records the read in the audit log; an
executor that stages inputs as files prefers `read_into(key, path)` when the job offers it
(same checks and audit entry, the plaintext streamed to `path`: no whole DE in memory). An
outcome is the result encoded by `datastation.stdlib.serialize` (never pickle) or a failure:
a short-circuit naming what was refused (the forbidden key, or the kind of access), an error,
a timeout or a resource limit. An outcome's texts never carry data: a failing function is
described by its exception's type and line (`failure.py`).
"""

from __future__ import annotations

import abc
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
    module_source: str | None = None  # user functions: the closure text the identity hashes (run as the module)
    line_map: tuple[int, ...] = ()  # closure line -> line of the user's module (for failure reports)


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
    forbidden_key: str | None = None  # the data element a short-circuited function tried to read
    blocked: str | None = None  # what a short-circuit refused, in words (`network access (socket.connect)`)
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
