"""Containers that run one contract function each, a warm pool of them, and their limits.

Every container is single-use: it is created blank (no data, no code), started, handed
exactly one job, then removed. The pool only keeps blank containers started ahead of
time, so a container is never shared between two jobs, let alone two contracts.

Per container the escrow makes a private directory in a tmpfs (`/dev/shm`), mounted
read-only at `/job/in`. It holds two FIFOs (`go`: the job, escrow -> container;
`result`: one frame, container -> escrow), the user module under `code/` and the
approved data elements, decrypted, under `data/`. Nothing in the container is writable
but a small `/tmp` tmpfs and a capped log tmpfs for the function's prints.
"""

from __future__ import annotations

import hmac
import json
import os
import queue
import secrets
import select
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from datastation.runtime.config import DockerConfig

RUNNER_UID = 65534
IN_MOUNT = "/job/in"
SRC_MOUNT = "/opt/datastation"
RUNNER_IN_CONTAINER = f"{SRC_MOUNT}/dsc_runner.py"
HEADER_LIMIT = 32 << 20  # the header carries app-state writes (<= 256 x 64 KiB)
STARTUP_SECONDS = 120.0
KINDS = ("table", "model", "json")


class SandboxError(Exception):
    """The sandbox could not run a job (engine missing, image missing...): a clear message."""


_CONFIGURED = DockerConfig()  # the defaults of the settings a user configures live there, once


@dataclass(frozen=True)
class Limits:
    """What one container may use (the configurable ones default to `config.DockerConfig`'s)."""

    image: str = _CONFIGURED.image
    cpus: float = _CONFIGURED.cpus
    memory: str = _CONFIGURED.memory
    pids: int = _CONFIGURED.pids
    timeout_seconds: float = _CONFIGURED.timeout_seconds
    tmp_size: str = "64m"
    log_size: str = "1m"
    max_result_bytes: int = 1 << 30

    @classmethod
    def from_config(cls, docker_config: DockerConfig | None, **overrides) -> "Limits":
        """The limits of a configuration's `docker` section (the defaults for None)."""
        base = {f: getattr(docker_config, f) for f in ("image", "cpus", "memory", "pids", "timeout_seconds")
                if getattr(docker_config, f, None) is not None}
        return cls(**{**base, **overrides})


@dataclass
class SandboxOutcome:
    """What came out of one container. `status`: ok | short_circuit | error | timeout | resource_limit."""

    status: str
    kind: str | None = None
    data: bytes | None = None
    key: str | None = None  # the data element a short-circuit tried to read
    path: str | None = None  # the file a short-circuit tried to open
    error: str | None = None
    timings: dict = field(default_factory=dict)
    stop_ns: int | None = None  # container clock: when a short-circuit stopped the function
    reads: list = field(default_factory=list)  # DE keys the function loaded, in order
    state_writes: dict = field(default_factory=dict)  # app state the function stored (JSON values)
    failure: dict | None = None  # a failed function's facts (`failure.exception_info`), to describe
    category: str | None = None  # what kind of access a short-circuit refused (`failure.BLOCKED`)
    event: str | None = None  # the audit event that refused it

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _workroot() -> Path:
    base = Path(os.environ.get("DSC_SANDBOX_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"))
    root = base / f"datastation-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def source_mounts() -> dict[str, dict]:
    """Read-only mounts of the stdlib and the runner (public code; no data, no keys)."""
    from datastation import stdlib

    runner = Path(__file__).with_name("runner.py")
    loader = Path(__file__).resolve().parent.parent / "loader.py"
    failure = Path(__file__).resolve().parent.parent / "failure.py"
    confine = Path(__file__).resolve().parent.parent / "confine.py"
    return {
        str(confine): {"bind": f"{SRC_MOUNT}/dsc_confine.py", "mode": "ro"},
        str(loader): {"bind": f"{SRC_MOUNT}/dsc_loader.py", "mode": "ro"},
        str(failure): {"bind": f"{SRC_MOUNT}/dsc_failure.py", "mode": "ro"},
        str(Path(stdlib.__file__).resolve().parent): {"bind": f"{SRC_MOUNT}/datastation/stdlib", "mode": "ro"},
        str(runner.resolve()): {"bind": RUNNER_IN_CONTAINER, "mode": "ro"},
    }


class Container:
    """One blank, started, single-use sandbox container and its private directory."""

    def __init__(self, client, limits: Limits):
        self.limits = limits
        self.client = client
        self.created = time.perf_counter()
        self.dir = _workroot() / secrets.token_hex(8)
        self.dir.mkdir(mode=0o700)
        self.indir = self.dir / "in"
        self.indir.mkdir(mode=0o755)
        (self.indir / "code").mkdir(mode=0o755)
        (self.indir / "data").mkdir(mode=0o755)
        os.mkfifo(self.indir / "go", 0o644)
        os.mkfifo(self.indir / "result", 0o622)
        os.chmod(self.indir / "result", 0o622)  # umask-proof: the container user must write it
        self.container = None
        self.container_id = None
        # Held open for the container's life so the runner's open-for-write never blocks.
        self.rfd = os.open(self.indir / "result", os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.container = client.containers.create(  # create never pulls: no registry is assumed
                limits.image,
                command=["python3", "-I", RUNNER_IN_CONTAINER],
                user=f"{RUNNER_UID}:{RUNNER_UID}",
                network_mode="none",
                read_only=True,
                volumes={str(self.indir): {"bind": IN_MOUNT, "mode": "ro"}, **source_mounts()},
                tmpfs={"/tmp": f"rw,size={limits.tmp_size},mode=1777,nosuid,nodev,noexec",
                       "/job/log": f"rw,size={limits.log_size},mode=1777,nosuid,nodev,noexec"},
                nano_cpus=int(limits.cpus * 1e9),
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                pids_limit=limits.pids,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                ipc_mode="none",
                log_config={"type": "none"},
                environment={"OMP_NUM_THREADS": str(max(1, int(limits.cpus))),
                             "OPENBLAS_NUM_THREADS": str(max(1, int(limits.cpus))), "HOME": "/tmp"},
                labels={"datastation.sandbox": "1"},
            )
            self.container.start()
            self.container_id = self.container.id
        except Exception as exc:
            self.discard()
            if type(exc).__name__ == "ImageNotFound":
                raise SandboxError(f"the runtime image {limits.image} is not on this machine: "
                                   "run `dsc image build`") from None
            raise SandboxError(f"cannot start a sandbox container from image {limits.image}: {_short(exc)}") from None

    def alive(self) -> bool:
        try:
            self.container.reload()
            return self.container.status == "running"
        except Exception:
            return False

    def put_code(self, module_path: str | os.PathLike) -> str:
        dst = self.indir / "code" / Path(module_path).name
        shutil.copyfile(module_path, dst)
        os.chmod(dst, 0o444)
        return dst.name

    def put_code_text(self, source: str, name: str) -> str:
        name = Path(name).name
        if not name.endswith(".py") or name.startswith("."):
            name = "functions.py"
        dst = self.indir / "code" / name
        dst.write_text(source, encoding="utf-8")
        os.chmod(dst, 0o444)
        return dst.name

    def data_path(self, index, fmt: str) -> Path:
        return self.indir / "data" / f"{index}.{fmt}"

    def seal(self, path: Path) -> None:
        os.chmod(path, 0o444)

    def run(self, job: dict, timeout_seconds: float | None = None) -> SandboxOutcome:
        """Hand the job over and wait for its single frame, within the wall-time limit."""
        t0 = time.perf_counter()
        limit = min(timeout_seconds or self.limits.timeout_seconds, self.limits.timeout_seconds)
        token = secrets.token_hex(16)  # the runner's alone: the function never sees it
        job = dict(job, token=token, max_result_bytes=self.limits.max_result_bytes,
                   max_output_bytes=_bytes(self.limits.log_size))
        # Start-up (a cold container importing its libraries) has its own budget; the wall-time
        # limit starts when the function gets the job.
        self._send(json.dumps(job).encode(), time.monotonic() + max(STARTUP_SECONDS, limit))
        t_sent = time.perf_counter()
        deadline = time.monotonic() + limit
        outcome = self._receive(self.rfd, deadline, token)
        outcome.timings.update(send_s=t_sent - t0, run_s=time.perf_counter() - t0)
        return outcome

    def _send(self, payload: bytes, deadline: float) -> None:
        # The runner holds `go` open for reading once it is ready; O_NONBLOCK fails with ENXIO until then.
        while True:
            try:
                wfd = os.open(self.indir / "go", os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline or not self._maybe_alive():
                    raise SandboxError("the sandbox container did not start its runner") from None
                time.sleep(0.002)
        try:
            os.set_blocking(wfd, True)
            view = memoryview(payload)
            while view:
                view = view[os.write(wfd, view):]
        finally:
            os.close(wfd)

    _last_check = 0.0

    def _maybe_alive(self) -> bool:
        now = time.monotonic()
        if now - self._last_check < 0.5:
            return True
        self._last_check = now
        return self.alive()

    def _receive(self, rfd: int, deadline: float, token: str | None = None) -> SandboxOutcome:
        buf = bytearray()
        header = None
        need = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return SandboxOutcome("timeout", error="wall-time limit reached")
            ready, _, _ = select.select([rfd], [], [], min(remaining, 0.5))
            if not ready:
                if not self._maybe_alive():
                    return self._died()
                continue
            try:
                chunk = os.read(rfd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                break  # the runner has exited (it opened the FIFO before taking the job)
            buf += chunk
            if header is None:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > HEADER_LIMIT:
                        return SandboxOutcome("error", error="malformed result frame from the sandbox")
                    continue
                try:
                    header = json.loads(bytes(buf[:nl]))
                    size = int(header.get("size", 0))
                except (ValueError, TypeError, AttributeError):
                    return SandboxOutcome("error", error="malformed result frame from the sandbox")
                if token is not None and not hmac.compare_digest(str(header.get("token")).encode(), token.encode()):
                    return SandboxOutcome("error", error=FORGED)
                if size < 0 or size > self.limits.max_result_bytes:
                    return SandboxOutcome("resource_limit", error="result larger than the configured limit")
                del buf[:nl + 1]
                need = size
            if header is not None and len(buf) >= need:
                outcome = parse_frame(header, bytes(buf[:need]))
                outcome.timings["frame_ns"] = time.time_ns()
                if outcome.status == "short_circuit":
                    self._await_exit(rfd, deadline)
                    outcome.timings["exit_ns"] = time.time_ns()
                return outcome
        if header is None:
            return self._died()
        return SandboxOutcome("error", error="the sandbox closed the result channel mid-frame")

    def _await_exit(self, rfd: int, deadline: float) -> None:
        """Until the runner's end of the FIFO closes (its process is gone), briefly."""
        end = min(deadline, time.monotonic() + 2.0)
        while time.monotonic() < end:
            ready, _, _ = select.select([rfd], [], [], max(0.0, end - time.monotonic()))
            if ready:
                try:
                    if not os.read(rfd, 1 << 16):
                        return
                except BlockingIOError:
                    pass

    def _died(self) -> SandboxOutcome:
        """The result channel closed without a frame: find out why from the engine."""
        state = {}
        try:
            self.container.wait(timeout=5)  # PID 1 is the runner: its death ends the container
        except Exception:
            pass
        try:
            self.container.reload()
            state = self.container.attrs.get("State", {})
        except Exception:
            pass
        if state.get("OOMKilled"):
            return SandboxOutcome("resource_limit", error=f"memory limit of {self.limits.memory} reached")
        if state.get("Running"):
            return SandboxOutcome("error", error="the function closed the result channel without a result")
        code = state.get("ExitCode")
        if code == 137:
            return SandboxOutcome("resource_limit", error="killed (memory or process limit)")
        return SandboxOutcome("error", error=f"the sandbox exited without a result (exit code {code})")

    def discard(self) -> None:
        """Kill and remove the container, and erase its directory (the decrypted inputs)."""
        if getattr(self, "rfd", None) is not None:
            os.close(self.rfd)
            self.rfd = None
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:
                pass
            self.container = None
        shutil.rmtree(self.dir, ignore_errors=True)


FORGED = "the result channel carried a frame the runner did not write: refused"
LIMITS = {"memory": "memory limit reached", "output": "the function printed more than the output limit",
          "result": "result larger than the configured limit", "killed": "killed (memory or process limit)"}


def parse_frame(header: dict, payload: bytes) -> SandboxOutcome:
    """Turn the runner's frame into an outcome. Only known kinds; the bytes are not decoded here.

    No text of the frame is kept as a message: a failure keeps its facts (`failure`), to be
    described by the escrow; a short-circuit its category and event; a limit one known word."""
    status = header.get("status")
    reads = header.get("reads")
    reads = [r for r in reads if isinstance(r, str)][:10000] if isinstance(reads, list) else []
    if status == "ok":
        kind = header.get("kind")
        if kind not in KINDS:
            return SandboxOutcome("error", error=f"the sandbox returned an unknown result kind {str(kind)[:40]!r}")
        writes = header.get("state")
        writes = {k: v for k, v in writes.items() if isinstance(k, str)} if isinstance(writes, dict) else {}
        return SandboxOutcome("ok", kind=kind, data=payload, reads=reads, state_writes=writes)
    if status == "short_circuit":
        category = _str(header.get("category"), 40) or "data"
        return SandboxOutcome("short_circuit", key=_str(header.get("key")), path=_str(header.get("path")), reads=reads,
                              category=category, event=_str(header.get("event"), 40),
                              error="read outside the contract" if category == "data" else "access outside the contract",
                              stop_ns=header.get("t_ns") if isinstance(header.get("t_ns"), int) else None)
    if status == "resource_limit":
        return SandboxOutcome(status, error=LIMITS.get(header.get("limit"), "a resource limit was reached"), reads=reads)
    if status == "error":
        info = header.get("failure")
        if isinstance(info, dict):
            return SandboxOutcome(status, error="the function failed", failure=info, reads=reads)
        return SandboxOutcome(status, error="the function broke the protocol with the sandbox's runner", reads=reads)
    return SandboxOutcome("error", error="malformed result frame from the sandbox")


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    size = str(size).strip().lower()
    return int(float(size[:-1]) * units[size[-1]]) if size[-1:] in units else int(size)


def _str(value, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else type(exc).__name__


class Pool:
    """Blank containers started ahead of time; each is handed to exactly one job."""

    def __init__(self, limits: Limits, size: int = 0, client=None):
        self.limits = limits
        self.size = max(0, size)
        self._client = client
        self._ready: queue.Queue[Container] = queue.Queue()
        self._lock = threading.Lock()
        self._filling = 0
        self._closed = False
        self._fill()

    @property
    def client(self):
        if self._client is None:
            self._client = docker_client()
        return self._client

    def _fill(self) -> None:
        with self._lock:
            missing = self.size - self._ready.qsize() - self._filling
            self._filling += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._add_one, daemon=True).start()

    def _add_one(self) -> None:
        try:
            c = Container(self.client, self.limits)
            if self._closed:
                c.discard()
            else:
                self._ready.put(c)
        except SandboxError:
            pass
        finally:
            with self._lock:
                self._filling -= 1

    def acquire(self) -> tuple[Container, bool]:
        """A started blank container and whether it came warm from the pool."""
        while True:
            try:
                c = self._ready.get_nowait()
            except queue.Empty:
                break
            if c.alive():
                self._fill()
                return c, True
            c.discard()
        self._fill()
        return Container(self.client, self.limits), False

    def wait_ready(self, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._ready.qsize() >= self.size:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._closed = True
        end = time.monotonic() + 15  # containers still being started are discarded by their threads
        while self._filling and time.monotonic() < end:
            time.sleep(0.05)
        while True:
            try:
                self._ready.get_nowait().discard()
            except queue.Empty:
                return


def docker_client():
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:
        raise SandboxError(f"the Docker engine is not reachable ({_short(exc)}); run docker/setup-docker.sh") from None

