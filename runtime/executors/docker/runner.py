"""Runs one contract function inside the sandbox container (standard library + pandas/pyarrow).

Started by the Docker executor as the container's command (PID 1). It pre-imports the heavy
libraries, forks the child that will run user code, then blocks on the FIFO `/job/in/go`
until the escrow writes the job (one JSON document). That lets a warm pool start containers
before a job exists. Two processes, so that nothing the function does can speak for the runner:

* **the runner** (this process, never runs user code) holds the result FIFO `/job/in/result`
  and the job's one-time `token`, which the child never sees (the child is forked before the
  job is read, and the runner is not dumpable, so its memory cannot be read). It sends the
  job to the child without the token, serves the child's reads of data elements (only the
  bound inputs; each read is recorded) and writes ONE frame: a JSON header line carrying the
  token, then the result encoded by `datastation.stdlib.serialize` (Parquet / JSON, never
  pickle). The escrow refuses any frame without the token: a frame forged by the function.
* **the child** closes the result FIFO, confines itself with an audit hook, imports the user
  module from `/job/in/code` (read-only) or takes a stdlib built-in, calls the function and
  sends the runner its value, or the facts of its failure (`dsc_failure.exception_info`:
  exception type names and a line, never a message), or what it was stopped for (a category
  and an audit event, never text of the function's choosing).

The function's own stdout/stderr go to a capped tmpfs nobody reads (they could smuggle data
past the release decision); output beyond the cap fails the run. The container (no network,
read-only root, limits) is the boundary; the hook is an early, precise stop that names what
was attempted.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import time

IN = "/job/in"
LOG = "/job/log/output"
SRC = "/opt/datastation"
CODE = IN + "/code/"
EXIT_OK, EXIT_ERROR, EXIT_SHORT = 0, 1, 3
# Files the child may open (read) once user code runs; everything else stops it. The data
# elements are not among them: the runner hands them over, one recorded read each.
READ_PREFIXES = (
    CODE, SRC + "/", "/usr/lib/", "/usr/local/lib/", "/usr/share/zoneinfo/", "/etc/localtime",
    "/etc/timezone", "/dev/null", "/dev/urandom", "/proc/self/", "/proc/cpuinfo", "/proc/meminfo",
    "/sys/devices/system/cpu/", "/sys/fs/cgroup/", "/tmp/",
)
WRITE_PREFIXES = ("/tmp/", "/dev/null", "/job/log/")
NETWORK = frozenset({"socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                     "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"})
PROCESS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                     "os.forkpty"})
_PREFIX = struct.Struct(">II")
MAX_HEADER = 32 << 20  # the header carries app-state writes (<= 256 x 64 KiB)
CHUNK = 1 << 20

_out_fd: int | None = None  # the runner's result FIFO (closed in the child)


# ---------------------------------------------------------------- messages between the two processes


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, CHUNK))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send(fd: int, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    _write_all(fd, _PREFIX.pack(len(head), len(payload)) + head)
    _write_all(fd, payload)


def receive_header(fd: int) -> tuple[dict, int]:
    """A message's header and the size of the payload that follows it."""
    hlen, plen = _PREFIX.unpack(_read_exact(fd, _PREFIX.size))
    if hlen > MAX_HEADER:
        raise ValueError("header too large")
    header = json.loads(_read_exact(fd, hlen))
    if not isinstance(header, dict):
        raise ValueError("not a JSON object")
    return header, plen


# ---------------------------------------------------------------- the child: runs user code


class EscrowAPI:
    """What a function sees of the escrow: only the data elements its contract names.

    Installed as `datastation.runtime.app_api` (the same names as in full-trust mode):
    `read_data(key)`, `store_state(key, value)`, `load_state(key, default=None)`. Each data
    element is asked of the runner, which refuses (and ends this process) any other key.
    """

    def __init__(self, job_fd: int, res_fd: int, state: dict | None):
        self._job_fd, self._res_fd = job_fd, res_fd
        self._cache: dict = {}
        self._state = state
        self.writes: dict = {}

    def read_data(self, key):
        return self.read(key)

    def read(self, key):
        key = key if isinstance(key, str) else str(key)
        if key not in self._cache:
            send(self._res_fd, {"op": "read", "key": key[:1000]})
            header, size = receive_header(self._job_fd)
            data = _read_exact(self._job_fd, size)
            if header.get("op") != "data":
                os._exit(EXIT_SHORT)
            from dsc_loader import load_value  # runtime/executors/loader.py, mounted read-only

            self._cache[key] = load_value(data, str(header.get("format")))
        return self._cache[key]

    def store_state(self, key: str, value) -> None:
        if self._state is None:
            raise RuntimeError("app state is not available in this run")
        if not isinstance(key, str):
            raise TypeError("app state keys are strings")
        self.writes[key] = json.loads(json.dumps(value, allow_nan=False))  # plain JSON only

    def load_state(self, key: str, default=None):
        if key in self.writes:
            return self.writes[key]
        return (self._state or {}).get(key, default)

    def module(self):
        import types

        mod = types.ModuleType("datastation.runtime.app_api")
        mod.read_data, mod.store_state, mod.load_state = self.read_data, self.store_state, self.load_state
        mod.ShortCircuit = type("ShortCircuit", (BaseException,), {})
        mod.NotInEscrow = RuntimeError
        return mod


def _hook(res_fd: int):
    """The child's audit hook: what user code must not do stops the process, naming the kind and event."""
    me = os.getpid()
    _exit, normpath, join, getcwd, isdir = os._exit, os.path.normpath, os.path.join, os.getcwd, os.path.isdir

    def stop(category: str, event: str, path: str | None = None) -> None:
        try:
            send(res_fd, {"op": "blocked", "category": category, "event": event, "path": path})
        finally:
            _exit(EXIT_SHORT)

    def hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = args
            if not isinstance(path, str):
                return  # an fd, or bytes of a path already checked through str
            path = normpath(path if path.startswith("/") else join(getcwd(), path))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            allowed = WRITE_PREFIXES if writing else READ_PREFIXES
            if not (path + ("/" if isdir(path) else "")).startswith(allowed) and path not in allowed:
                stop("write" if writing else "file", event, path)
        elif event in NETWORK:
            stop("network", event)
        elif event in PROCESS:
            stop("process", event)
        elif event in ("os.kill", "os.killpg"):
            if not args or args[0] not in (me, 0):
                stop("process", event)
        elif event == "pickle.find_class":
            stop("code", event)

    return hook


def _bind(node, api: EscrowAPI, blobs: dict):
    """Arguments arrive as tagged nodes: {"de": key} | {"list": [...]} | {"lit": v} | {"ser": {file, kind}}."""
    if "de" in node:
        return api.read(node["de"])
    if "list" in node:
        return [_bind(n, api, blobs) for n in node["list"]]
    if "ser" in node:
        from datastation.stdlib.serialize import from_bytes

        return from_bytes(node["ser"]["kind"], blobs[os.path.basename(node["ser"]["file"])])
    return node.get("lit")


def _serialized_files(node, out: set) -> set:
    if "ser" in node:
        out.add(os.path.basename(node["ser"]["file"]))
    for n in node.get("list", []) if isinstance(node.get("list"), list) else []:
        _serialized_files(n, out)
    return out


def child(job_fd: int, res_fd: int) -> int:
    """Serve the one job the runner sends; the exit code of this process."""
    from datastation.stdlib import serialize
    from dsc_failure import exception_info  # runtime/executors/failure.py, mounted read-only

    job, size = receive_header(job_fd)
    _read_exact(job_fd, size)
    args, kwargs = job.get("args", []), job.get("kwargs", {})
    names: set = set()
    for node in list(args) + list(kwargs.values()):
        _serialized_files(node, names)
    blobs = {}
    for name in names:  # values of nested calls, read before any user code runs
        with open(os.path.join(IN, "data", name), "rb") as f:
            blobs[name] = f.read()
    api = EscrowAPI(job_fd, res_fd, job.get("state"))
    import types

    app_api = api.module()
    runtime_pkg = types.ModuleType("datastation.runtime")
    runtime_pkg.__path__ = []  # nothing else of the escrow exists in here
    runtime_pkg.app_api = app_api
    sys.modules.update({"datastation.runtime": runtime_pkg, "datastation.runtime.app_api": app_api})
    module_file = CODE + os.path.basename(job["module"]) if job.get("module") else None
    source = None
    if module_file is not None:
        with open(module_file, encoding="utf-8") as f:
            source = f.read()

    def fail(exc: BaseException, stage: str) -> int:
        if isinstance(exc, MemoryError):
            send(res_fd, {"op": "limit", "limit": "memory"})
        else:
            info = exception_info(exc, module_file, stage=stage, builtin_message=module_file is None)
            send(res_fd, {"op": "failure", "failure": info})
        return EXIT_ERROR

    import dsc_confine  # the escrow's confine.py, mounted read-only

    dsc_confine.container_filter()  # no file locks or watches: channels to a container beside this one
    sys.addaudithook(_hook(res_fd))  # from here on user code runs: the module's top level included
    try:
        if source is not None:
            module = types.ModuleType("dsc_user_module")
            module.__file__ = module_file
            sys.modules[module.__name__] = module
            exec(compile(source, module_file, "exec"), module.__dict__)
            fn = getattr(module, str(job.get("function")), None)
        else:
            from datastation import stdlib

            fn = stdlib.resolve(job["function"])
        if not callable(fn):
            raise LookupError("function not found")
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is an outcome
        return fail(exc, "load")
    try:
        value = fn(*[_bind(n, api, blobs) for n in args], **{str(k): _bind(n, api, blobs) for k, n in kwargs.items()})
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        return fail(exc, "call")
    try:
        kind, payload = serialize.to_bytes(value)
    except BaseException as exc:  # noqa: BLE001
        return fail(exc, "result")
    send(res_fd, {"op": "result", "kind": kind, "state": api.writes}, payload)
    return EXIT_OK


# ---------------------------------------------------------------- the runner: serves the child, writes the frame


def _frame(header: dict, token: str, payload: bytes = b"") -> None:
    """Write the single result frame on the result FIFO and never again."""
    global _out_fd
    fd, _out_fd = _out_fd, None
    if fd is None:
        return
    header = dict(header, token=token, size=len(payload))
    _write_all(fd, json.dumps(header, separators=(",", ":")).encode() + b"\n")
    _write_all(fd, payload)


def _end(pid: int) -> int:
    """Kill the child and wait until it is gone (so nothing of it runs while the frame is written)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _not_dumpable() -> None:
    """Nothing of the same user (the child) may read this process's memory (the token)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def serve(pid: int, job: dict, job_w: int, res_r: int, log_fd: int) -> int:
    """Hand the job to the child, serve its reads, turn its answer into the frame."""
    token = str(job.pop("token", ""))
    inputs = job.get("inputs", {})
    reads: list[str] = []

    def stop(header: dict, code: int, payload: bytes = b"") -> int:
        _end(pid)
        _frame(dict(header, reads=reads), token, payload)
        return code

    try:
        send(job_w, {k: v for k, v in job.items() if k != "inputs"})
        while True:
            header, size = receive_header(res_r)
            op = header.get("op")
            if op == "read":
                key = header.get("key")
                if size or not isinstance(key, str) or key not in inputs:
                    return stop({"status": "short_circuit", "category": "data", "t_ns": time.time_ns(),
                                 "key": key if isinstance(key, str) else None}, EXIT_SHORT)
                with open(os.path.join(IN, "data", os.path.basename(inputs[key]["file"])), "rb") as f:
                    data = f.read()
                if key not in reads:
                    reads.append(key)
                send(job_w, {"op": "data", "format": inputs[key]["format"]}, data)
                del data
            elif op == "blocked" and not size:
                return stop({"status": "short_circuit", "category": header.get("category"), "t_ns": time.time_ns(),
                             "event": header.get("event"), "path": header.get("path")}, EXIT_SHORT)
            elif op == "failure" and not size:
                return stop({"status": "error", "failure": header.get("failure")}, EXIT_ERROR)
            elif op == "limit" and not size:
                return stop({"status": "resource_limit", "limit": "memory"}, EXIT_ERROR)
            elif op == "result":
                break
            else:
                return stop({"status": "error", "protocol": True}, EXIT_ERROR)
    except (EOFError, OSError, ValueError, struct.error):
        return _ended(pid, reads, token)
    if os.fstat(log_fd).st_size >= int(job.get("max_output_bytes", 1 << 20)) - 4096:
        return stop({"status": "resource_limit", "limit": "output"}, EXIT_ERROR)
    if size > int(job.get("max_result_bytes", 1 << 30)):
        return stop({"status": "resource_limit", "limit": "result"}, EXIT_ERROR)
    try:
        payload = _read_exact(res_r, size)
    except EOFError:
        return _ended(pid, reads, token)
    kind, state = header.get("kind"), header.get("state")
    return stop({"status": "ok", "kind": kind, "state": state if isinstance(state, dict) else {}}, EXIT_OK, payload)


def _ended(pid: int, reads: list, token: str) -> int:
    """The child ended (or broke the protocol) without an answer: say how, in the runner's words."""
    status = None
    end = time.monotonic() + 1.0
    while status is None and time.monotonic() < end:  # did it die by itself (the memory limit)?
        try:
            got, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            got, st = pid, 0
        status = st if got == pid else None
        if status is None:
            time.sleep(0.01)
    if status is None:
        _end(pid)
        status = 0
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        _frame({"status": "resource_limit", "limit": "killed", "reads": reads}, token)
    else:
        _frame({"status": "error", "protocol": True, "reads": reads}, token)
    return EXIT_ERROR


def main() -> int:
    global _out_fd
    sys.path.insert(0, SRC)
    sys.dont_write_bytecode = True
    # The result channel: a FIFO the escrow already holds open for reading.
    _out_fd = os.open(os.path.join(IN, "result"), os.O_WRONLY | os.O_CLOEXEC)
    # The function's prints go to a small capped tmpfs that nobody reads (they could smuggle
    # data past the release decision); filling it makes printing fail.
    log = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import numpy  # noqa: F401  pre-import: this is what a warm container saves
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import dsc_failure  # noqa: F401
    import dsc_confine  # noqa: F401
    import dsc_loader  # noqa: F401
    from datastation.stdlib import serialize  # noqa: F401

    _not_dumpable()
    job_r, job_w = os.pipe2(os.O_CLOEXEC)
    res_r, res_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()  # before the job (and its token) exists in this process
    if pid == 0:
        code = EXIT_ERROR
        try:
            os.close(_out_fd)
            _out_fd = None
            os.close(job_w)
            os.close(res_r)
            os.close(log)
            code = child(job_r, res_w)
        except BaseException:  # noqa: BLE001 - the child never returns into the runner
            code = EXIT_ERROR
        finally:
            os._exit(code)
    os.close(job_r)
    os.close(res_w)
    with open(os.path.join(IN, "go"), "rb") as fifo:
        job = json.loads(fifo.read().decode())
    return serve(pid, job, job_w, res_r, log)


if __name__ == "__main__":
    os._exit(main())
