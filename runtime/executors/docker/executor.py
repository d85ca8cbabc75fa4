"""The Docker executor (no-trust mode): each function call runs in a single-use sandbox container.

`DockerExecutor(config).run(job)` implements `datastation.runtime.executors.base.Executor`.
Only the data elements the job binds are decrypted (by the escrow, through `job.read_into`)
into a private tmpfs directory and mounted read-only; the result comes back as serialised
bytes (Parquet / JSON) and is never unpickled. `sandbox.py` runs the function in a container;
`container.py` holds the container settings and the warm pool.
"""

from __future__ import annotations

import atexit
import json
import threading
import time

from datastation.contracts import functions as fn
from datastation.stdlib.serialize import to_bytes

from .. import failure
from ..base import (ERROR, RESOURCE_LIMIT, SHORT_CIRCUIT, TIMEOUT, DataArg, ExecutionJob, ExecutionOutcome, Executor,
                    ListArg, ValueArg)
from .container import Limits, SandboxError, SandboxOutcome
from .sandbox import DataRef, DockerSandbox, InputSource, Serialized

_sandboxes: dict[tuple, DockerSandbox] = {}
_lock = threading.Lock()


def sandbox_for(limits: Limits, warm_pool: int = 0) -> DockerSandbox:
    """One sandbox (and warm pool) per process and settings, shared by every executor instance."""
    key = (limits, warm_pool)
    with _lock:
        if not _sandboxes:
            atexit.register(close_all)
        if key not in _sandboxes:
            _sandboxes[key] = DockerSandbox(limits, warm_pool)
        return _sandboxes[key]


def close_all() -> None:
    """Remove the warm containers (and their directories) this process started."""
    with _lock:
        boxes = list(_sandboxes.values())
        _sandboxes.clear()
    for box in boxes:
        box.close()


def _arg(arg):
    if isinstance(arg, DataArg):
        return DataRef(arg.key)
    if isinstance(arg, ListArg):
        return [_arg(a) for a in arg.items]
    if isinstance(arg, ValueArg):
        if arg.data is not None and arg.kind is not None:
            return Serialized(arg.kind, bytes(arg.data))
        return _value(arg.value)
    return _value(arg)  # conditions pass values they already evaluated


def _value(value):
    """A plain value crosses as JSON; tables and models as their serialised bytes (never pickle)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    kind, data = to_bytes(value)
    if kind == "json":
        return json.loads(data)
    return Serialized(kind, data)


def verify_function(ref) -> str | None:
    """Refuse a function whose source is not the approved one (read with `ast`, never imported here)."""
    if ref.origin == "user":  # only the exact closure the identity hashes may run
        return fn.verify_closure(ref.module_source, ref.module_name, ref.name, ref.source_hash)
    path = fn.stdlib_functions().get(ref.name)
    found = fn.function_source(path, ref.name, "stdlib") if path else None
    if found is None or found.sha256 != ref.source_hash:
        return f"built-in '{ref.name}' changed since the contract was approved"
    return None


def _state_snapshot(state) -> dict | None:
    """The contract's app state as the function will see it (store values plus pending writes)."""
    if state is None:
        return None
    snap = {}
    store = getattr(state, "store", None)
    scope = getattr(state, "scope", None)
    if store is not None and scope is not None and hasattr(store, "list_state"):
        snap.update(store.list_state(scope))
    snap.update({k: json.loads(v) for k, v in getattr(state, "pending", {}).items()})
    return snap


def to_outcome(result: SandboxOutcome, seconds: float, ref=None) -> ExecutionOutcome:
    """The executor's outcome, in the escrow's words: a failure is described from its facts
    exactly as the full-trust executor describes it (`failure.describe_failure`), a
    short-circuit by the kind of access refused; no text of the container's is passed on."""
    reads = list(result.reads)
    if result.status == "ok":
        return ExecutionOutcome("ok", kind=result.kind, data=result.data, reads=reads, seconds=seconds)
    if result.status == "short_circuit":
        if result.category in (None, "data"):
            return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=result.key, reads=reads, seconds=seconds,
                                    blocked=failure.describe_blocked("data"))
        return ExecutionOutcome(SHORT_CIRCUIT, reads=reads, seconds=seconds,
                                blocked=failure.describe_blocked(result.category, result.event))
    status = {"timeout": TIMEOUT, "resource_limit": RESOURCE_LIMIT}.get(result.status, ERROR)
    error = result.error
    if result.failure is not None and ref is not None:
        user = ref.origin == "user"
        error = failure.describe_failure(result.failure, function=ref.name, origin="user" if user else "stdlib",
                                         module=(ref.module_name or "functions.py") if user else "",
                                         source=ref.module_source if user else None,
                                         line_map=ref.line_map if user else ())
    elif result.failure is not None:
        error = "the function failed"
    return ExecutionOutcome(status, error=error, reads=reads, seconds=seconds)


class DockerExecutor(Executor):
    """Runs each job in a fresh container with the config's limits (warm pool: `docker.warm_pool`)."""

    def __init__(self, config=None, *, limits: Limits | None = None, warm_pool: int | None = None):
        docker_cfg = getattr(config, "docker", None)
        self.limits = limits or Limits.from_config(docker_cfg)
        pool = warm_pool if warm_pool is not None else int(getattr(docker_cfg, "warm_pool", 0) or 0)
        self.sandbox = sandbox_for(self.limits, pool)

    def run(self, job: ExecutionJob) -> ExecutionOutcome:
        t0 = time.perf_counter()
        keys = job.data_keys()
        outside = [k for k in keys if k not in job.allowed]
        if outside:
            return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=outside[0], blocked=failure.describe_blocked("data"))
        mismatch = verify_function(job.function)
        if mismatch:
            return ExecutionOutcome(ERROR, error=mismatch)
        try:
            inputs = {}
            # Optional fast path: `read_into(key, path)` streams a DE's plaintext straight into the
            # sandbox's tmpfs (bounded memory; see crypto.codec.decrypt_to_path), recording the read.
            read_into = getattr(job, "read_into", None)
            for key in keys:
                fmt = job.formats.get(key, "csv")
                if read_into is not None:
                    inputs[key] = InputSource(fmt, lambda p, k=key: read_into(k, p))
                    continue
                if job.read is None:
                    raise SandboxError("the job gives no way to read its data elements")
                inputs[key] = InputSource.from_bytes(job.read(key), fmt)
            fn = job.function
            module_source = fn.module_source if fn.origin == "user" else None
            if fn.origin == "user" and module_source is None:
                raise SandboxError(f"the approved source of {fn.module_name or 'the user module'} is missing from the job")
            result = self.sandbox.run_function(
                function=fn.name,
                module_source=module_source,
                module_name=fn.module_name or "functions.py",
                args=[_arg(a) for a in job.args],
                kwargs={k: _arg(a) for k, a in job.kwargs},
                inputs=inputs,
                timeout_seconds=job.timeout_seconds,
                state=_state_snapshot(job.state),
            )
            if result.status == "ok" and result.state_writes and job.state is not None:
                for key, value in result.state_writes.items():
                    job.state.store_value(key, value)  # validated (size, key) like in-process writes
        except SandboxError as exc:
            return ExecutionOutcome(ERROR, error=str(exc), seconds=time.perf_counter() - t0)
        except Exception as exc:  # reading or staging the inputs failed: nothing ran, nothing released
            return ExecutionOutcome(ERROR, error=f"cannot stage the inputs: {type(exc).__name__}: {exc}"[:500],
                                    seconds=time.perf_counter() - t0)
        return to_outcome(result, time.perf_counter() - t0, job.function)
