"""The full-trust executor: calls the approved function in this process.

Before calling, it checks that a user function's text is exactly its approved closure (the
text its identity hashes: `contracts.functions.verify_closure`), or re-derives a built-in's
hash from the stdlib source, and refuses on any difference. Data arguments are loaded through the
job's `read` callback (recorded), reads through `app_api.read_data` are checked against the
job's allowed keys (short-circuit on anything else), and the result is encoded with
`datastation.stdlib.serialize` (never pickle).
"""

from __future__ import annotations

import hashlib
import sys
import time
import types

from .. import app_api
from .base import (
    ERROR,
    OK,
    SHORT_CIRCUIT,
    DataArg,
    ExecutionJob,
    ExecutionOutcome,
    Executor,
    ListArg,
    ValueArg,
)
from .loader import LoadError, load_value_cached

_MODULES: dict[str, types.ModuleType] = {}


class FunctionMismatch(Exception):
    pass


def _module_from_source(name: str, source: str) -> types.ModuleType:
    digest = hashlib.sha256(source.encode()).hexdigest()
    mod = _MODULES.get(digest)
    if mod is None:
        if len(_MODULES) >= 256:  # bounded: a long-running escrow sees many module versions
            for old in _MODULES.values():
                sys.modules.pop(old.__name__, None)
            _MODULES.clear()
        mod = types.ModuleType(f"dsc_user_{digest[:12]}")
        mod.__file__ = name
        code = compile(source, name, "exec")
        sys.modules[mod.__name__] = mod  # dataclasses and pickling-free helpers look modules up
        try:
            exec(code, mod.__dict__)  # the approved module text; full trust mode runs user code
        except BaseException:
            sys.modules.pop(mod.__name__, None)
            raise
        _MODULES[digest] = mod
    return mod


def resolve(ref) -> object:
    """The callable for a FunctionRef, after checking its source hash is the approved one."""
    from datastation.contracts.functions import function_source, stdlib_functions, verify_closure

    if ref.origin == "user":
        mismatch = verify_closure(ref.module_source, ref.module_name, ref.name, ref.source_hash)
        if mismatch:  # only the exact closure the identity hashes may run
            raise FunctionMismatch(mismatch)
        func = getattr(_module_from_source(ref.module_name, ref.module_source), ref.name, None)
    else:
        path = stdlib_functions().get(ref.name)
        found = function_source(path, ref.name, "stdlib") if path else None
        if found is None or found.sha256 != ref.source_hash:
            raise FunctionMismatch(f"built-in '{ref.name}' changed since the contract was approved")
        from datastation.stdlib import resolve as std_resolve

        func = std_resolve(ref.name)
    if not callable(func):
        raise FunctionMismatch(f"'{ref.name}' is not a function")
    return func


class InProcessExecutor(Executor):
    def run(self, job: ExecutionJob) -> ExecutionOutcome:
        start = time.perf_counter()
        out = self._run(job)
        out.seconds = time.perf_counter() - start
        return out

    def _run(self, job: ExecutionJob) -> ExecutionOutcome:
        reads: list[str] = []
        cache: dict[str, object] = {}

        def load(key: str):
            if key not in cache:
                data = job.read(key)
                reads.append(key)
                cache[key] = load_value_cached(data, job.formats.get(key, "csv"), job.content_hashes.get(key))
            return cache[key]

        ctx = app_api.RunContext(allowed=frozenset(job.allowed), load=load, state=job.state, reads=reads)

        def bind(arg):
            if isinstance(arg, DataArg):
                return ctx.read(arg.key)
            if isinstance(arg, ListArg):
                return [bind(a) for a in arg.items]
            if isinstance(arg, ValueArg):
                if arg.data is not None and arg.kind is not None:
                    from datastation.stdlib.serialize import from_bytes

                    return from_bytes(arg.kind, arg.data)
                return arg.value
            return arg  # already a value (conditions pass evaluated values)

        try:
            func = resolve(job.function)
        except FunctionMismatch as exc:
            return ExecutionOutcome(ERROR, error=str(exc))
        except Exception as exc:  # the approved module fails to import
            return ExecutionOutcome(ERROR, error=f"cannot load {job.function.module_name}: {type(exc).__name__}: {exc}")
        token = app_api.activate(ctx)
        try:
            args = [bind(a) for a in job.args]
            kwargs = {k: bind(a) for k, a in job.kwargs}
            value = func(*args, **kwargs)
        except app_api.ShortCircuit as exc:
            return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=ctx.violation or exc.key, reads=reads,
                                    error=str(exc))
        except LoadError as exc:
            return ExecutionOutcome(ERROR, error=str(exc), reads=reads)
        except Exception as exc:
            if ctx.violation:
                return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=ctx.violation, reads=reads)
            return ExecutionOutcome(ERROR, error=f"{job.function.name} raised {type(exc).__name__}: {exc}", reads=reads)
        finally:
            app_api.deactivate(token)
        if ctx.violation:  # the function caught the short-circuit: it still stops here
            return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=ctx.violation, reads=reads)
        if job.phase != "compute":
            return ExecutionOutcome(OK, value=value, reads=reads)
        from datastation.stdlib.serialize import SerializeError, to_bytes

        try:
            kind, data = to_bytes(value)
        except SerializeError as exc:
            return ExecutionOutcome(ERROR, error=f"the result cannot be released: {exc}", reads=reads)
        return ExecutionOutcome(OK, kind=kind, data=data, value=value, reads=reads)
