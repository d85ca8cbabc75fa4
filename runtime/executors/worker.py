"""The processes that run user code under full trust: a fork server and one child per job.

The escrow starts this module once (`python -I -m datastation.runtime.executors.worker`) as a
fresh interpreter: it inherits no file of the escrow but one control socket, and it never
opens the store, the storage or a key. It imports the libraries functions use (pandas,
NumPy, pyarrow, scikit-learn, the stdlib), then forks one child per request, ahead of time,
and hands the escrow the child's two pipes (and a pidfd) over the control socket.

Each child serves exactly one job, then exits: nothing a function leaves behind reaches
another contract. Before it reads its job the child closes every other file, moves into a
private scratch folder and confines itself (`confine.py`: audit hook, Landlock, seccomp).
It receives the job (the approved module text, the arguments encoded with
`datastation.stdlib.serialize`, never pickle), asks the escrow for each data element it reads
(the escrow decides: a key outside the contract ends this process at once), and sends back
one result: the value encoded by `serialize`, or a failure described by type and line only
(`failure.py`). The escrow kills it when the job is over.

Messages on the pipes: a 4-byte header length, a 4-byte payload length, the JSON header,
the payload bytes.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time

MAX_HEADER = 32 << 20  # a job's state snapshot may hold 256 values of 64 KiB
MAX_PAYLOAD = 1 << 31
_PREFIX = struct.Struct(">II")
EXIT_OK, EXIT_ERROR, EXIT_STOPPED = 0, 1, 3
# The escrow's waits on a child wake this often: Ctrl-C delivered by the kernel to another thread
# of the escrow's process (a library's) is handled only when the main thread runs Python again.
WAKE = 0.5


def wait_ready(fd: int, deadline: float | None, *, write: bool = False) -> None:
    """Return once `fd` is readable (or writable); TimeoutError past `deadline` (monotonic; None:
    no limit). Wakes every WAKE seconds meanwhile."""
    while True:
        wait = WAKE if deadline is None else min(WAKE, max(0.0, deadline - time.monotonic()))
        r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], wait)
        if r or w:
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError


# ---------------------------------------------------------------- messages


class ProtocolError(Exception):
    """A message that is not one (too large, not JSON, cut short)."""


def encode(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    return _PREFIX.pack(len(head), len(payload)) + head + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def decode_header(head: bytes) -> dict:
    try:
        header = json.loads(head)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("a message that is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message that is not a JSON object")
    return header


def receive(fd: int) -> tuple[dict, bytes]:
    """One message, blocking (the child's side)."""
    hlen, plen = _PREFIX.unpack(_read_exact(fd, _PREFIX.size))
    if hlen > MAX_HEADER or plen > MAX_PAYLOAD:
        raise ProtocolError("message too large")
    return decode_header(_read_exact(fd, hlen)), _read_exact(fd, plen)


class Reader:
    """The escrow's side of a child's pipe: whole messages, within a deadline, never blocking past it."""

    def __init__(self, fd: int, max_payload: int = MAX_PAYLOAD):
        self.fd, self.max_payload = fd, max_payload
        self.buf = bytearray()

    def _fill(self, n: int, deadline: float | None) -> bool:
        while len(self.buf) < n:
            wait_ready(self.fd, deadline)
            chunk = os.read(self.fd, max(1 << 16, min(n - len(self.buf), 1 << 24)))
            if not chunk:
                return False
            self.buf += chunk
        return True

    def message(self, deadline: float | None) -> tuple[dict, bytes] | None:
        """The next message; None at end of file; TimeoutError past the deadline."""
        if not self._fill(_PREFIX.size, deadline):
            if self.buf:
                raise ProtocolError("a message cut short")
            return None
        hlen, plen = _PREFIX.unpack(self.buf[:_PREFIX.size])
        if hlen > MAX_HEADER or plen > self.max_payload:
            raise ProtocolError("message too large")
        if not self._fill(_PREFIX.size + hlen + plen, deadline):
            raise ProtocolError("a message cut short")
        head = bytes(self.buf[_PREFIX.size:_PREFIX.size + hlen])
        payload = bytes(self.buf[_PREFIX.size + hlen:_PREFIX.size + hlen + plen])
        del self.buf[:_PREFIX.size + hlen + plen]
        return decode_header(head), payload


# ---------------------------------------------------------------- the child: one job


def _plain_json(value, depth: int = 0):
    """App state values are plain JSON (the escrow checks them again)."""
    if depth > 50:
        raise ValueError("app state is nested too deeply")
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("app state dictionaries must have string keys")
        return {k: _plain_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError("app state must be plain JSON")


class _Escrow:
    """What a function sees of the escrow, as `datastation.runtime.app_api` (same names as ever)."""

    def __init__(self, job_fd: int, res_fd: int, state: dict | None, load_value):
        self._job_fd, self._res_fd = job_fd, res_fd
        self._state = state
        self._load_value = load_value
        self._cache: dict = {}
        self.writes: dict = {}

    def read(self, key):
        if not isinstance(key, str):
            key = str(key)
        if key not in self._cache:
            write_all(self._res_fd, encode({"op": "read", "key": key[:1000]}))
            header, payload = receive(self._job_fd)
            if header.get("op") != "data":
                os._exit(EXIT_STOPPED)
            self._cache[key] = self._load_value(payload, str(header.get("format")))
        return self._cache[key]

    def set_state(self, state: dict | None) -> None:
        """The job's app state snapshot (None: app state is not available in this run)."""
        self._state = state

    def store_state(self, key, value) -> None:
        if self._state is None:
            raise RuntimeError("app state is not available in this run")
        if not isinstance(key, str):
            raise TypeError("app state keys are strings")
        self.writes[key] = json.loads(json.dumps(_plain_json(value), allow_nan=False))

    def load_state(self, key, default=None):
        if key in self.writes:
            return self.writes[key]
        return (self._state or {}).get(key, default)

    def install(self) -> None:
        """Make this the only escrow API the function can import; the escrow's own code is gone."""
        import types

        api = types.ModuleType("datastation.runtime.app_api")
        api.read_data, api.store_state, api.load_state = self.read, self.store_state, self.load_state
        api.ShortCircuit = type("ShortCircuit", (BaseException,), {})
        api.NotInEscrow = RuntimeError
        pkg = types.ModuleType("datastation.runtime")
        pkg.__path__ = []  # nothing else of the escrow can be imported in here
        pkg.app_api = api
        for name in [n for n in sys.modules if n == "datastation.runtime" or n.startswith("datastation.runtime.")]:
            del sys.modules[name]
        sys.modules.update({"datastation.runtime": pkg, "datastation.runtime.app_api": api})


def _bind(node, api: _Escrow, blobs: list[bytes]):
    """Arguments as tagged nodes: {"de": key} | {"list": [...]} | {"lit": v} | {"ser": {"blob", "kind"}}."""
    if "de" in node:
        return api.read(node["de"])
    if "list" in node:
        return [_bind(n, api, blobs) for n in node["list"]]
    if "ser" in node:
        from datastation.stdlib.serialize import from_bytes

        return from_bytes(node["ser"]["kind"], blobs[node["ser"]["blob"]])
    return node.get("lit")


def _split(payload: bytes, sizes) -> list[bytes]:
    out, at = [], 0
    for n in sizes:
        out.append(payload[at:at + n])
        at += n
    return out


def run_job(job_fd: int, res_fd: int, stop, api: _Escrow, tools: dict) -> int:
    """Serve one job in this (confined) child; the exit code of the process.

    `api` is already installed as `datastation.runtime.app_api`, and the escrow's own modules are
    gone from `sys.modules`, so `tools` holds the modules the job needs (imported before that)."""
    confine, exception_info, serialize = tools["confine"], tools["exception_info"], tools["serialize"]
    header, payload = receive(job_fd)
    protected = header.get("protected")
    confine.install_hook([p for p in protected if isinstance(p, str)] if isinstance(protected, list) else [], stop)
    module_file = str(header.get("module_name") or "functions.py")
    state = header.get("state")
    api.set_state(state if isinstance(state, dict) else None)

    def fail(exc: BaseException, stage: str) -> int:
        write_all(res_fd, encode({"op": "result", "status": "error", "failure": exception_info(exc, module_file,
                                                                                               stage=stage)}))
        return EXIT_ERROR

    import types

    module = types.ModuleType("dsc_user_module")
    module.__file__ = module_file
    sys.modules[module.__name__] = module
    try:
        exec(compile(str(header.get("module_source") or ""), module_file, "exec"), module.__dict__)
        fn = getattr(module, str(header.get("function")), None)
        if not callable(fn):
            raise LookupError("function not found")
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is an outcome
        return fail(exc, "load")
    try:
        blobs = _split(payload, header.get("blobs") or [])
        args = [_bind(n, api, blobs) for n in header.get("args", [])]
        kwargs = {str(k): _bind(n, api, blobs) for k, n in (header.get("kwargs") or {}).items()}
        value = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        return fail(exc, "call")
    try:
        kind, data = serialize.to_bytes(value)
    except BaseException as exc:  # noqa: BLE001
        return fail(exc, "result")
    write_all(res_fd, encode({"op": "result", "status": "ok", "kind": kind, "state": api.writes}, data))
    return EXIT_OK


# ---------------------------------------------------------------- the fork server


def _preload() -> None:
    """What every job's child inherits already imported (the point of forking)."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from datastation import stdlib
    from datastation.stdlib import serialize  # noqa: F401

    for name in stdlib.MODULES:
        __import__(f"datastation.stdlib.{name}")
    for name in ("sklearn.linear_model", "sklearn.preprocessing", "sklearn.ensemble", "sklearn.tree"):
        try:
            __import__(name)
        except ImportError:
            pass
    from . import confine, failure, loader  # noqa: F401

    _warm_up()


def _warm_up() -> None:
    """Run the loading and encoding paths once on tiny values: their lazy imports and first-call
    set-up happen here (in the fork server, for every child) or before a child's job arrives,
    not while a job waits."""
    from datastation.stdlib.serialize import from_bytes, to_bytes

    from .loader import load_value

    table = load_value(b"x,y\n1,a\n2,b\n", "csv")
    kind, data = to_bytes(table)
    from_bytes(kind, data)
    load_value(data, "parquet")
    load_value(b'[{"x": 1}]', "json")
    to_bytes(len(table))
    compile("def f(t):\n    return len(t)\n", "warm.py", "exec")


def read_dirs() -> list[str]:
    """What a child may read: the Python installation and its packages, system libraries, a few files.

    The escrow's folders are not among them (wherever the escrow keeps them, unless inside one of
    these: then only the audit hook refuses them)."""
    import sysconfig

    import importlib.util

    # The packages of ours a function may import (`datastation.stdlib`, `datastation.runtime.app_api`),
    # wherever they are installed (an editable install keeps them outside site-packages).
    ours = {os.path.dirname(importlib.util.find_spec(f"datastation.{p}").origin) for p in ("stdlib", "runtime")}
    # ... and, for an editable install, its source tree (imports look up siblings of the packages;
    # the escrow's folders, should they lie inside it, stay refused by the audit hook)
    dirs = ours | {os.path.dirname(d) for d in ours}
    dirs.update(p for p in sys.path if p and os.path.isdir(p))
    dirs.update(v for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib"))
    dirs.update(os.path.join(p, "lib") for p in {sys.prefix, sys.base_prefix})
    dirs.update(["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/zoneinfo",
                 "/etc/ld.so.cache", "/etc/localtime", "/etc/timezone", "/dev/urandom", "/dev/zero",
                 "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu", "/sys/fs/cgroup"])
    return [d for d in sorted(dirs) if os.path.exists(d)]


def _child(job_r: int, res_w: int, scratch: str, readable) -> None:
    """In the freshly forked child: shed everything, confine, serve one job. Never returns."""
    _exit, _write = os._exit, os.write
    code = EXIT_ERROR
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        low, high = sorted((job_r, res_w))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _max_fd())
        os.chdir(scratch)
        os.environ.clear()
        os.environ.update({"TMPDIR": scratch, "HOME": scratch, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        tempfile.tempdir = scratch
        from . import confine

        def stop(category, event):
            try:
                _write(res_w, encode({"op": "blocked", "category": category, "event": event}))
            finally:
                _exit(EXIT_STOPPED)

        confine.confine(readable, scratch)
        _warm_up()  # the pages it touches are copied now, before the job, not while it waits
        from datastation.stdlib import serialize

        from .failure import exception_info
        from .loader import load_value

        tools = {"confine": confine, "exception_info": exception_info, "serialize": serialize}
        api = _Escrow(job_r, res_w, None, load_value)
        api.install()  # now, not when the job arrives: freeing the escrow's modules takes milliseconds
        code = run_job(job_r, res_w, stop, api, tools)
    except BaseException:  # noqa: BLE001 - the child never returns into the fork server
        code = EXIT_ERROR
    finally:
        _exit(code)


def _max_fd() -> int:
    try:
        return max(int(os.sysconf("SC_OPEN_MAX")), 256)
    except (ValueError, OSError):
        return 1 << 16


def serve(ctl: socket.socket) -> None:
    """Fork one confined child per byte received; hand its pipes (and pidfd) to the escrow.

    The fork server owns what it made: it erases each child's scratch folder once the child has
    exited, and when the escrow is gone (its end of `ctl` closed: a normal close, or the escrow
    killed) it kills the children still there (asked for but never collected, or mid-job) and
    erases theirs, so no process and no scratch folder outlives the escrow."""
    import gc

    readable = read_dirs()
    gc.collect()
    gc.freeze()  # what the children inherit stays out of their collections (fewer pages copied)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    made: dict[int, tuple[int | None, str]] = {}  # pid -> (our pidfd, scratch)
    try:
        while True:
            try:
                if not select.select([ctl], [], [], REAP_SECONDS)[0]:
                    _forget_exited(made)
                    continue
                request = ctl.recv(64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not request:
                return
            _forget_exited(made)
            for _ in request:
                pid, scratch, pidfd = _fork_one(ctl, readable)
                made[pid] = (pidfd, scratch)
    finally:
        _end_all(made)


REAP_SECONDS = 1.0


def _fork_one(ctl: socket.socket, readable) -> tuple[int, str, int | None]:
    """Fork a child waiting for its job; send the escrow its pipes and a pidfd; (pid, scratch,
    a pidfd of our own or None)."""
    job_r, job_w = os.pipe2(os.O_CLOEXEC)
    res_r, res_w = os.pipe2(os.O_CLOEXEC)
    scratch = tempfile.mkdtemp(prefix="dsc-job-")
    pid = os.fork()
    if pid == 0:
        ctl.close()
        os.close(job_w)
        os.close(res_r)
        _child(job_r, res_w, scratch, readable)
    os.close(job_r)
    os.close(res_w)
    fds = [job_w, res_r]
    own = None
    try:
        fds.append(os.pidfd_open(pid))
        own = os.dup(fds[-1])
    except (AttributeError, OSError):
        pass
    try:
        socket.send_fds(ctl, [json.dumps({"pid": pid}).encode()], fds)
    except OSError:
        pass  # the escrow is gone: `_end_all` kills this child too
    finally:
        for fd in fds:
            os.close(fd)
    return pid, scratch, own


def _exited(pidfd: int | None) -> bool:
    return pidfd is None or bool(select.select([pidfd], [], [], 0)[0])


def _forget_exited(made: dict) -> None:
    for pid, (pidfd, scratch) in list(made.items()):
        if pidfd is not None and _exited(pidfd):
            os.close(pidfd)
            shutil.rmtree(scratch, ignore_errors=True)
            del made[pid]


def _end_all(made: dict) -> None:
    for pidfd, _ in made.values():
        if pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
    end = time.monotonic() + 2
    while any(not _exited(fd) for fd, _ in made.values()) and time.monotonic() < end:
        time.sleep(0.01)
    for pidfd, scratch in made.values():
        if pidfd is not None:
            os.close(pidfd)
        shutil.rmtree(scratch, ignore_errors=True)
    made.clear()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ctl = socket.socket(fileno=int(argv[0]))
    _preload()
    serve(ctl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
