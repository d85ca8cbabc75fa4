"""The full-trust executor: built-ins run in the escrow, user functions in a confined child process.

User code never runs in the escrow's process. Each call of a user function gets a fresh child
forked ahead of time by a fork server (`worker.py`, started once per escrow with no handle
on its files): the child holds only what it is sent. The escrow sends the approved function's
closure (exactly the text its identity hashes) and the arguments (encoded by `datastation.stdlib.serialize`, never pickle), serves each
data element the child asks for if the job may read it, and records the read; a key outside
the job kills the child at once (a short-circuit nothing in the child can catch or undo). The
child answers with one serialised result or a failure described by type and line only
(`failure.py`); whatever it sends is checked, and the child is killed when the job ends.

Built-in functions are the escrow's own code: they run here, on values loaded through the
job's `read` callback (recorded), and keep their `BuiltinError` messages. Before any call
the function's source hash is re-derived from the approved text (never imported to check).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from datastation.contracts.conditions import AgentRef

from . import failure
from .base import (
    ERROR,
    OK,
    SHORT_CIRCUIT,
    TIMEOUT,
    DataArg,
    ExecutionJob,
    ExecutionOutcome,
    Executor,
    ListArg,
    ValueArg,
)
from .loader import LoadError, load_value_cached
from .worker import ProtocolError, Reader, encode, wait_ready

KINDS = ("table", "model", "json")
SPARE = 2  # children forked ahead of the jobs that will need them
START_SECONDS = 120.0  # the fork server imports the libraries once, then forks in milliseconds


class FunctionMismatch(Exception):
    pass


def verify(ref) -> str | None:
    """Why the function is not the approved one (its source re-hashed from the approved text), or None."""
    from datastation.contracts.functions import function_source, stdlib_functions, verify_closure

    if ref.origin == "user":  # only the exact closure the identity hashes may run
        return verify_closure(ref.module_source, ref.module_name, ref.name, ref.source_hash)
    path = stdlib_functions().get(ref.name)
    found = function_source(path, ref.name, "stdlib") if path else None
    if found is None or found.sha256 != ref.source_hash:
        return f"built-in '{ref.name}' changed since the contract was approved"
    return None


def resolve(ref) -> object:
    """The callable of a built-in FunctionRef, after checking its source hash is the approved one.

    User functions are never resolved in the escrow: they exist only in a job's child process."""
    why = verify(ref)
    if why:
        raise FunctionMismatch(why)
    if ref.origin == "user":
        raise FunctionMismatch(f"'{ref.name}' is user code: it runs only in a child process")
    from datastation.stdlib import resolve as std_resolve

    func = std_resolve(ref.name)
    if not callable(func):
        raise FunctionMismatch(f"'{ref.name}' is not a function")
    return func


# ---------------------------------------------------------------- the pool of children


@dataclass
class Child:
    pid: int
    job_w: int
    res_r: int
    pidfd: int | None

    def kill(self) -> None:
        """Kill it and let go of its handles (its scratch folder is the fork server's to erase)."""
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        for fd in (self.job_w, self.res_r, self.pidfd):
            try:
                if fd is not None:
                    os.close(fd)
            except OSError:
                pass
        self.pidfd = None


def protected_paths(config) -> tuple[str, ...]:
    """The escrow's folders and key files, which no child may touch (an audit hook refuses them)."""
    if config is None:
        return ()
    paths = [getattr(config, "escrow_dir", None), getattr(config, "storage_path", None),
             getattr(config, "keyring_path", None), getattr(config, "outbox_path", None)]
    store = getattr(config, "store", None)
    if store is not None and getattr(store, "path", None) is not None:
        paths.append(Path(store.path).parent)
    kek = getattr(config, "kek", None)
    if kek is not None and getattr(kek, "file", None) is not None:
        paths.append(Path(kek.file).parent)
    return tuple(sorted({str(Path(p).resolve()) for p in paths if p is not None}))


class Pool:
    """A fork server started once per process, and children forked ahead of the jobs (each
    serves one job, for any escrow: the job names the folders its child must not touch)."""

    def __init__(self, spare: int = SPARE):
        self.spare = max(1, spare)
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        self.asked = 0
        self.ready: list[Child] = []

    def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        if os.environ.get("TMPDIR"):  # where the children's scratch folders go: the operator's choice
            env["TMPDIR"] = os.environ["TMPDIR"]
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "datastation.runtime.executors.worker", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd="/", env=env, start_new_session=True)
        finally:
            child.close()
        self.ctl = parent
        self.asked = 0

    def _ask(self, n: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.ctl.sendall(b"F" * n)
        self.asked += n

    def _collect(self, block: bool) -> None:
        while self.asked:
            if not select.select([self.ctl], [], [], START_SECONDS if block else 0)[0]:
                if block:
                    raise OSError("the worker process does not answer")
                return
            msg, fds, _, _ = socket.recv_fds(self.ctl, 4096, 3)
            if not msg:
                raise OSError("the worker process ended")
            self.asked -= 1
            info = json.loads(msg)
            self.ready.append(Child(info["pid"], fds[0], fds[1], fds[2] if len(fds) > 2 else None))
            block = False

    def warm(self) -> None:
        """Start the fork server and the first children now, without waiting for them."""
        with self.lock:
            try:
                if self.proc is None and not self.ready:
                    self._ask(self.spare)
            except OSError:
                pass

    def acquire(self) -> Child:
        """A forked, confined child waiting for its job (and the next ones asked for)."""
        with self.lock:
            try:
                self._collect(block=False)
                if not self.ready:
                    if not self.asked:
                        self._ask(1)
                    self._collect(block=True)
            except OSError:  # the fork server died: start a new one
                self.close_locked()
                self._ask(1)
                self._collect(block=True)
            child = self.ready.pop(0)
            missing = self.spare - len(self.ready) - self.asked
            if missing > 0:
                self._ask(missing)
            return child

    def release(self, child: Child) -> None:
        """Kill the child once its job ended (the fork server erases its scratch folder)."""
        child.kill()

    def close_locked(self) -> None:
        for c in self.ready:
            c.kill()
        self.ready = []
        if self.ctl is not None:
            self.ctl.close()  # the fork server ends: it kills what it made and erases their folders
            self.ctl = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        self.asked = 0

    def close(self) -> None:
        with self.lock:
            self.close_locked()

    def abandon(self) -> None:
        """In a forked copy of the escrow: let go of the parent's pool without touching its processes."""
        for c in self.ready:
            for fd in (c.job_w, c.res_r, c.pidfd):
                try:
                    if fd is not None:
                        os.close(fd)
                except OSError:
                    pass
        if self.ctl is not None:
            os.close(self.ctl.detach())
        self.ready, self.ctl, self.proc, self.asked = [], None, None, 0
        self.lock = threading.Lock()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A process forked from the escrow (tests, crash drivers) starts its own fork server when it
    needs one: the parent's children and control socket stay the parent's."""
    global _pool, _pool_lock
    if _pool is not None:
        _pool.abandon()
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def pool() -> Pool:
    """This process's pool (started on first use, closed at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
            atexit.register(close_all)
        return _pool


def close_all() -> None:
    global _pool
    with _pool_lock:
        p, _pool = _pool, None
    if p is not None:
        p.close()


# ---------------------------------------------------------------- arguments


def _node(value, blobs: list[bytes]):
    """A value as a tagged node for the child: JSON literals as they are, tables and models serialised."""
    from datastation.stdlib.serialize import to_bytes

    if isinstance(value, ValueArg):
        if value.data is not None and value.kind is not None:
            blobs.append(bytes(value.data))
            return {"ser": {"blob": len(blobs) - 1, "kind": value.kind}}
        return _node(value.value, blobs)
    if isinstance(value, DataArg):
        return {"de": value.key}
    if isinstance(value, ListArg):
        return {"list": [_node(a, blobs) for a in value.items]}
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return {"lit": value}
    if isinstance(value, (list, tuple)):
        return {"list": [_node(v, blobs) for v in value]}
    if isinstance(value, AgentRef):
        return {"lit": value.name}  # an agent, as its name
    kind, data = to_bytes(value)
    if kind == "json":
        return {"lit": json.loads(data)}
    blobs.append(data)
    return {"ser": {"blob": len(blobs) - 1, "kind": kind}}


def _state_snapshot(state) -> dict | None:
    if state is None:
        return None
    snapshot = getattr(state, "snapshot", None)
    return snapshot() if callable(snapshot) else None


# ---------------------------------------------------------------- the executor


class InProcessExecutor(Executor):
    """Full trust: built-ins in the escrow, user functions in a fresh confined child each (see the module doc)."""

    def __init__(self, config=None, *, warm: bool = True):
        self.protected = protected_paths(config)
        if warm:
            pool().warm()  # the fork server imports its libraries while the escrow does other work

    def run(self, job: ExecutionJob) -> ExecutionOutcome:
        start = time.perf_counter()
        out = self._run_user(job) if job.function.origin == "user" else self._run_builtin(job)
        out.seconds = time.perf_counter() - start
        return out

    # -- built-ins, here ----------------------------------------------------------------
    def _run_builtin(self, job: ExecutionJob) -> ExecutionOutcome:
        reads: list[str] = []
        cache: dict = {}

        def load(key: str):
            if key not in job.allowed:
                raise _Refused(key)
            if key not in cache:
                data = job.read(key)
                reads.append(key)
                cache[key] = load_value_cached(data, job.formats.get(key, "csv"), job.content_hashes.get(key))
            return cache[key]

        def bind(arg):
            if isinstance(arg, DataArg):
                return load(arg.key)
            if isinstance(arg, ListArg):
                return [bind(a) for a in arg.items]
            if isinstance(arg, ValueArg):
                if arg.data is not None and arg.kind is not None:
                    from datastation.stdlib.serialize import from_bytes

                    return from_bytes(arg.kind, arg.data)
                return arg.value
            return arg

        try:
            func = resolve(job.function)
        except FunctionMismatch as exc:
            return ExecutionOutcome(ERROR, error=str(exc))
        try:
            value = func(*[bind(a) for a in job.args], **{k: bind(a) for k, a in job.kwargs})
        except _Refused as exc:
            return ExecutionOutcome(SHORT_CIRCUIT, forbidden_key=exc.key, reads=reads,
                                    blocked=failure.describe_blocked("data"))
        except LoadError as exc:
            return ExecutionOutcome(ERROR, error=str(exc), reads=reads)
        except Exception as exc:  # noqa: BLE001 - a failing built-in is an outcome
            info = failure.exception_info(exc, None, builtin_message=True)
            return ExecutionOutcome(ERROR, error=failure.describe_failure(info, function=job.function.name,
                                                                          origin="stdlib", module=""), reads=reads)
        if job.phase != "compute":
            return ExecutionOutcome(OK, value=value, reads=reads)
        from datastation.stdlib.serialize import to_bytes

        try:
            kind, data = to_bytes(value)
        except Exception:  # noqa: BLE001
            return ExecutionOutcome(ERROR, error=failure.describe_failure({"stage": "result"}, function=job.function.name,
                                                                          origin="stdlib", module=""), reads=reads)
        return ExecutionOutcome(OK, kind=kind, data=data, value=value, reads=reads)

    # -- user functions, in a child -------------------------------------------------------
    def _run_user(self, job: ExecutionJob) -> ExecutionOutcome:
        why = verify(job.function)
        if why:
            return ExecutionOutcome(ERROR, error=why)
        try:
            blobs: list[bytes] = []
            header = {"function": job.function.name, "module_name": job.function.module_name or "functions.py",
                      "protected": list(self.protected),
                      "module_source": job.function.module_source,
                      "args": [_node(a, blobs) for a in job.args],
                      "kwargs": {k: _node(a, blobs) for k, a in job.kwargs},
                      "state": _state_snapshot(job.state)}
            header["blobs"] = [len(b) for b in blobs]
            message = encode(header, b"".join(blobs))
        except Exception:  # noqa: BLE001 - an argument that cannot be sent
            return ExecutionOutcome(ERROR, error=f"the arguments of {job.function.name} cannot be passed to it "
                                                 f"(tables, models and plain JSON values only)")
        workers = pool()
        try:
            child = workers.acquire()
        except OSError as exc:
            return ExecutionOutcome(ERROR, error=f"cannot start a process for {job.function.name}: "
                                                 f"{exc.strerror or type(exc).__name__}")
        try:
            return _Session(job, child).serve(message)
        finally:
            workers.release(child)


class _Refused(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class _Session:
    """One job in one child: send it, serve its reads, take its one result."""

    def __init__(self, job: ExecutionJob, child: Child):
        self.job, self.child = job, child
        self.reads: list[str] = []
        self.deadline = time.monotonic() + job.timeout_seconds if job.timeout_seconds else None

    def out(self, status: str, **kw) -> ExecutionOutcome:
        return ExecutionOutcome(status, reads=list(self.reads), **kw)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            wait_ready(self.child.job_w, self.deadline, write=True)
            view = view[os.write(self.child.job_w, view[:1 << 20]):]

    def serve(self, message: bytes) -> ExecutionOutcome:
        name = self.job.function.name
        reader = Reader(self.child.res_r)
        try:
            self.send(message)
            while True:
                got = reader.message(self.deadline)
                if got is None:
                    return self.out(ERROR, error=f"the process running {name} ended without a result")
                header, payload = got
                op = header.get("op")
                if op == "read":
                    refused = self.read(header.get("key"))
                    if refused is not None:
                        return refused
                elif op == "blocked":
                    return self.out(SHORT_CIRCUIT, blocked=failure.describe_blocked(header.get("category"),
                                                                                  header.get("event")))
                elif op == "result":
                    return self.result(header, payload)
                else:
                    return self.out(ERROR, error=f"the process running {name} broke the protocol with the escrow")
        except TimeoutError:
            return self.out(TIMEOUT, error="wall-time limit reached")
        except (BrokenPipeError, ConnectionResetError):
            return self.out(ERROR, error=f"the process running {name} ended without a result")
        except ProtocolError:
            return self.out(ERROR, error=f"the process running {name} broke the protocol with the escrow")

    def read(self, key) -> ExecutionOutcome | None:
        """Serve one read, or the short-circuit that ends the job (the child is killed right after)."""
        if not isinstance(key, str) or key not in self.job.allowed:
            return self.out(SHORT_CIRCUIT, forbidden_key=key if isinstance(key, str) else None,
                            blocked=failure.describe_blocked("data"))
        data = self.job.read(key)  # checked and recorded by the escrow; raises if it refuses
        if key not in self.reads:
            self.reads.append(key)
        self.send(encode({"op": "data", "format": self.job.formats.get(key, "csv")}, data))
        return None

    def result(self, header: dict, payload: bytes) -> ExecutionOutcome:
        fn = self.job.function
        if header.get("status") != "ok":
            return self.out(ERROR, error=failure.describe_failure(header.get("failure"), function=fn.name,
                                                                  origin="user", module=fn.module_name or "functions.py",
                                                                  source=fn.module_source, line_map=fn.line_map))
        kind = header.get("kind")
        if kind not in KINDS:
            return self.out(ERROR, error=f"the process running {fn.name} broke the protocol with the escrow")
        writes = header.get("state")
        if writes and self.job.state is not None:
            if not isinstance(writes, dict):
                return self.out(ERROR, error=f"the process running {fn.name} broke the protocol with the escrow")
            try:
                for key, value in writes.items():
                    self.job.state.store_value(key, value)  # validated: keys, plain JSON, sizes
            except ValueError:
                return self.out(ERROR, error=f"{fn.name} stored app state the escrow does not keep (keys of letters, "
                                             f"digits, '_', '.', '-'; plain JSON values of at most 64 KiB)")
        return self.out(OK, kind=kind, data=payload)
