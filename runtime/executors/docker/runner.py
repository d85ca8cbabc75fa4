"""Runs one contract function inside the sandbox container (standard library + pandas/pyarrow).

Started by the Docker executor as the container's command. It pre-imports the heavy
libraries, then blocks on the FIFO `/job/in/go` until the escrow writes the job (one JSON
document). That lets a warm pool start containers before a job exists. Then it:

1. loads the approved data elements from `/job/in/data` (read-only mount, plaintext in a tmpfs);
2. imports the user module from `/job/in/code` (read-only) or takes a stdlib built-in;
3. calls the function with the bound arguments;
4. writes ONE frame to the FIFO `/job/in/result`: a JSON header line, then the result
   encoded by `datastation.stdlib.serialize.to_bytes` (Parquet / JSON, never pickle).

The function's own stdout/stderr go to a capped tmpfs nobody reads (they could smuggle data
past the release decision); output beyond the cap fails the run. Any read of a data element outside the contract, or any file access outside
the allow-list, writes a `short_circuit` frame and ends the process at once (`os._exit`).
The container (no network, read-only root, limits) is the boundary; these checks are an
early, precise stop that names what was attempted.
"""

from __future__ import annotations

import json
import os
import sys
import time

IN = "/job/in"
LOG = "/job/log/output"
SRC = "/opt/datastation"
EXIT_OK, EXIT_ERROR, EXIT_SHORT = 0, 1, 3
# Files a function may open (read) once it runs; everything else stops it.
READ_PREFIXES = (
    IN + "/", SRC + "/", "/usr/lib/", "/usr/local/lib/", "/usr/share/zoneinfo/", "/etc/localtime",
    "/etc/timezone", "/dev/null", "/dev/urandom", "/proc/self/", "/proc/cpuinfo", "/proc/meminfo",
    "/sys/devices/system/cpu/", "/sys/fs/cgroup/", "/tmp/",
)
WRITE_PREFIXES = ("/tmp/", "/dev/null", "/job/log/")

_out_fd: int | None = None
_api = None
_armed = False


def _frame(header: dict, payload: bytes = b"") -> None:
    """Write the single result frame on the saved stdout and never again."""
    global _out_fd
    fd, _out_fd = _out_fd, None
    if fd is None:
        return
    header = dict(header, size=len(payload))
    data = json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _stop(header: dict, code: int) -> None:
    _frame(header)
    os._exit(code)


def short_circuit(reason: str, key: str | None = None, path: str | None = None) -> None:
    """Stop at once: the function tried to read something outside its contract."""
    t_ns = time.time_ns()
    _stop({"status": "short_circuit", "reason": reason, "key": key, "path": path, "t_ns": t_ns,
           "reads": list(_api.reads) if _api is not None else []}, EXIT_SHORT)


def _audit(event: str, args) -> None:
    if not _armed:
        return
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, str):
            return  # an fd, or bytes of a path already checked through str
        path = os.path.normpath(path) if path.startswith("/") else os.path.normpath(os.path.join(os.getcwd(), path))
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        allowed = WRITE_PREFIXES if writing else READ_PREFIXES
        if not (path + ("/" if os.path.isdir(path) else "")).startswith(allowed) and path not in allowed:
            short_circuit("write outside the output" if writing else "file outside the contract", path=path)
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
        short_circuit(f"network access ({event})")
    elif event in ("subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.system"):
        short_circuit(f"process creation ({event})")
    elif event == "pickle.find_class":
        short_circuit(f"deserialisation of code ({event})")


class EscrowAPI:
    """What a function sees of the escrow: only the data elements its contract names.

    Installed as `datastation.runtime.app_api` (the same names as in full-trust mode):
    `read_data(key)`, `store_state(key, value)`, `load_state(key, default=None)`.
    """

    def __init__(self, inputs: dict, loader, state: dict | None = None):
        self._inputs = inputs
        self._loader = loader
        self._cache: dict = {}
        self._state = state
        self.writes: dict = {}
        self.reads: list[str] = []

    def read_data(self, key: str):
        return self.read(key)

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

    def read(self, key: str):
        if key not in self._inputs:
            short_circuit("data element outside the contract", key=key)
        if key not in self._cache:
            self._cache[key] = self._loader(key)
            self.reads.append(key)
        return self._cache[key]


def load_value(path: str, fmt: str):
    """A DE's plaintext as functions receive it: the escrow's own loader (mounted read-only)."""
    with open(path, "rb") as f:
        data = f.read()
    from dsc_loader import load_value as escrow_load  # runtime/executors/loader.py, mounted read-only

    return escrow_load(data, fmt)


def _bind(node, api: EscrowAPI):
    """Arguments arrive as tagged nodes: {"de": key} | {"list": [...]} | {"lit": v} | {"ser": {file, kind}}."""
    if "de" in node:
        return api.read(node["de"])
    if "list" in node:
        return [_bind(n, api) for n in node["list"]]
    if "ser" in node:
        from datastation.stdlib.serialize import from_bytes

        with open(os.path.join(IN, "data", os.path.basename(node["ser"]["file"])), "rb") as f:
            return from_bytes(node["ser"]["kind"], f.read())
    return node.get("lit")


def _error_message(exc: BaseException) -> str:
    """Built-in errors are written by the stdlib; anything else may carry data, so only its type."""
    from datastation.stdlib.errors import BuiltinError

    if isinstance(exc, BuiltinError):
        return f"{type(exc).__name__}: {str(exc)[:500]}"
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(IN + "/code/"):
            where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{type(exc).__name__}{where}"


def _load_function(job: dict):
    if job.get("module"):
        import importlib.util

        path = os.path.join(IN, "code", os.path.basename(job["module"]))
        name = "dsc_user_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        fn = getattr(module, job["function"], None)
    else:
        from datastation import stdlib

        fn = stdlib.resolve(job["function"])
    if not callable(fn):
        raise LookupError(f"function {job['function']} not found")
    return fn


def main() -> int:
    global _out_fd, _armed, _api
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

    from datastation.stdlib import serialize

    with open(os.path.join(IN, "go"), "rb") as fifo:
        job = json.loads(fifo.read().decode())
    inputs = job.get("inputs", {})
    api = EscrowAPI(inputs, lambda key: load_value(os.path.join(IN, "data", os.path.basename(inputs[key]["file"])),
                                                   inputs[key]["format"]), job.get("state"))
    import types

    app_api = api.module()
    runtime_pkg = types.ModuleType("datastation.runtime")
    runtime_pkg.__path__ = []  # nothing else of the escrow exists in here
    runtime_pkg.app_api = app_api
    sys.modules.update({"datastation.runtime": runtime_pkg, "datastation.runtime.app_api": app_api,
                        "datastation_escrow": api})
    _api = api
    sys.addaudithook(_audit)
    try:
        _armed = True  # from here on user code runs: the module's top level included
        fn = _load_function(job)
        args = [_bind(n, api) for n in job.get("args", [])]
        kwargs = {k: _bind(n, api) for k, n in job.get("kwargs", {}).items()}
        result = fn(*args, **kwargs)
        _armed = False
        kind, payload = serialize.to_bytes(result)
    except serialize.SerializeError as exc:
        _armed = False
        _frame({"status": "error", "error": f"result cannot be released: {str(exc)[:300]}"})
        return EXIT_ERROR
    except MemoryError:
        _armed = False
        _frame({"status": "resource_limit", "error": "memory limit reached"})
        return EXIT_ERROR
    except BaseException as exc:  # noqa: BLE001 - every failure of user code becomes a frame
        _armed = False
        _frame({"status": "error", "error": _error_message(exc)})
        return EXIT_ERROR
    if os.fstat(1).st_size >= int(job.get("max_output_bytes", 1 << 20)) - 4096:
        _frame({"status": "resource_limit", "error": "the function printed more than the output limit"})
        return EXIT_ERROR
    if len(payload) > int(job.get("max_result_bytes", 1 << 30)):
        _frame({"status": "resource_limit", "error": "result larger than the configured limit"})
        return EXIT_ERROR
    _frame({"status": "ok", "kind": kind, "reads": api.reads, "state": api.writes}, payload)
    return EXIT_OK


if __name__ == "__main__":
    os._exit(main())
