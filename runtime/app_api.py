"""The escrow API a contract's function may call while it runs.

    from datastation.runtime.app_api import read_data, store_state, load_state

`read_data(key)` reads a data element through the escrow (recorded like every read); a key
outside what the contract was approved to read stops the function at once (short-circuit)
and nothing is released. `store_state`/`load_state` keep small JSON state for the contract.
Outside an execution every call fails with `NotInEscrow`.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable


class NotInEscrow(RuntimeError):
    """The API was used outside a running contract."""


class ShortCircuit(BaseException):
    """Raised into a function that read outside its contract.

    A BaseException so that a function's `except Exception` cannot swallow it; the executor
    also remembers the violation, so even `except BaseException` does not help.
    """

    def __init__(self, key: str):
        super().__init__(f"read of data element '{key}' outside the contract")
        self.key = key


@dataclass
class RunContext:
    allowed: frozenset[str]
    load: Callable[[str], Any]
    state: Any = None  # app_state.AppState
    violation: str | None = None
    reads: list[str] = field(default_factory=list)

    def read(self, key: str):
        if self.violation is not None or key not in self.allowed:
            self.violation = self.violation or str(key)
            raise ShortCircuit(str(key))
        return self.load(key)


_current: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("dsc_run_context", default=None)


def _context() -> RunContext:
    ctx = _current.get()
    if ctx is None:
        raise NotInEscrow("the DataStation app API is only available inside a contract run by the escrow")
    return ctx


def read_data(key: str):
    """The value of data element `key` ("owner.name" or a kept name): a DataFrame for tables."""
    return _context().read(key)


def store_state(key: str, value) -> None:
    """Keep a small JSON value for this contract's later runs."""
    ctx = _context()
    if ctx.state is None:
        raise NotInEscrow("app state is not available in this run")
    ctx.state.store_value(key, value)


def load_state(key: str, default=None):
    """A value stored by an earlier (or this) run of this contract, or `default`."""
    ctx = _context()
    if ctx.state is None:
        return default
    return ctx.state.load(key, default)


def activate(ctx: RunContext):
    """Make `ctx` current (returns the token for `deactivate`)."""
    return _current.set(ctx)


def deactivate(token) -> None:
    _current.reset(token)
