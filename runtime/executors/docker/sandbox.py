"""The sandbox: run a contract function in a single-use container, inputs in, one serialised
result out.

`DockerSandbox.run_function` is the engine-level entry point (function, module, bound
arguments with `DataRef` markers, and a way to materialise each approved input);
`executor.DockerExecutor` adapts it to the escrow's executor interface.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .container import Container, Limits, Pool, SandboxError, SandboxOutcome, docker_client


@dataclass(frozen=True)
class DataRef:
    """A bound argument that is a data element (replaced by its table inside the container)."""

    key: str


@dataclass(frozen=True)
class InputSource:
    """How to put one approved data element's plaintext into the sandbox: `write(path)`."""

    format: str  # csv | parquet | json
    write: Callable[[Path], None]

    @classmethod
    def from_bytes(cls, data: bytes, fmt: str) -> "InputSource":
        return cls(fmt, lambda p: Path(p).write_bytes(data))

    @classmethod
    def from_file(cls, path: str | os.PathLike, fmt: str) -> "InputSource":
        def write(p):
            try:
                os.link(path, p)  # same filesystem: no copy
            except OSError:
                shutil.copyfile(path, p)

        return cls(fmt, write)


@dataclass(frozen=True)
class Serialized:
    """A value already encoded by `datastation.stdlib.serialize` (e.g. a nested call's model)."""

    kind: str
    data: bytes


def _encode(value, stage) -> dict:
    """Tagged argument nodes for the runner; `stage(Serialized) -> file name` stores payloads."""
    if isinstance(value, DataRef):
        return {"de": value.key}
    if isinstance(value, Serialized):
        return {"ser": {"file": stage(value), "kind": value.kind}}
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(v, stage) for v in value]}
    return {"lit": value}


def data_refs(value) -> set[str]:
    if isinstance(value, DataRef):
        return {value.key}
    if isinstance(value, (list, tuple)):
        return set().union(*(data_refs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(data_refs(v) for v in value.values())) if value else set()
    return set()


class DockerSandbox:
    """Runs functions in single-use containers, optionally from a warm pool."""

    def __init__(self, limits: Limits | None = None, warm_pool: int = 0, client=None):
        self.limits = limits or Limits.from_config(None)
        self._client = client
        self._pool: Pool | None = None
        self.warm_pool = warm_pool
        self._cleanups: list[threading.Thread] = []
        atexit.register(self.close)  # never leave containers or decrypted inputs behind

    @property
    def client(self):
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = Pool(self.limits, self.warm_pool, self.client)
        return self._pool

    def run_function(self, *, function: str, module_path: str | os.PathLike | None = None, args=(), kwargs=None,
                     inputs: dict[str, InputSource] | None = None, module_source: str | None = None,
                     module_name: str = "functions.py", timeout_seconds: float | None = None,
                     state: dict | None = None) -> SandboxOutcome:
        """Run `function(*args, **kwargs)` in a fresh container that holds only `inputs`.

        The function comes from `module_path` or `module_source` (a user module), else it is a
        stdlib built-in. Arguments referencing a data element not in `inputs` are refused before
        anything starts.
        """
        inputs = inputs or {}
        kwargs = kwargs or {}
        missing = sorted(data_refs(list(args)) | data_refs(kwargs)) 
        missing = [k for k in missing if k not in inputs]
        if missing:
            return SandboxOutcome("short_circuit", key=missing[0], error="data element outside the contract")
        t0 = time.perf_counter()
        try:
            container, warm = self.pool.acquire()
        except SandboxError as exc:
            return SandboxOutcome("error", error=str(exc))
        t_acquired = time.perf_counter()
        try:
            staged = []

            def stage(value: Serialized) -> str:
                path = container.data_path(f"v{len(staged)}", value.kind)
                path.write_bytes(value.data)
                container.seal(path)
                staged.append(path)
                return path.name

            spec = {"function": function, "module": None, "args": [_encode(a, stage) for a in args],
                    "kwargs": {str(k): _encode(v, stage) for k, v in kwargs.items()}, "inputs": {},
                    "state": state}
            if module_source is not None:
                spec["module"] = container.put_code_text(module_source, module_name)
            elif module_path is not None:
                spec["module"] = container.put_code(module_path)
            for i, (key, source) in enumerate(sorted(inputs.items())):
                dst = container.data_path(i, source.format)
                source.write(dst)
                container.seal(dst)
                spec["inputs"][key] = {"file": dst.name, "format": source.format}
            t_staged = time.perf_counter()
            outcome = container.run(spec, timeout_seconds)
        except SandboxError as exc:
            outcome = SandboxOutcome("error", error=str(exc))
        finally:
            self._discard(container)
        outcome.timings.update(container=getattr(container, "container_id", None), workdir=str(container.dir), warm=warm, acquire_s=t_acquired - t0, stage_s=t_staged - t_acquired
                               if "t_staged" in locals() else None, total_s=time.perf_counter() - t0)
        return outcome

    def _discard(self, container: Container) -> None:
        """Kill and remove in the background: the result is already in hand."""
        t = threading.Thread(target=container.discard)  # not a daemon: finishes before exit
        t.start()
        self._cleanups = [c for c in self._cleanups if c.is_alive()] + [t]

    def close(self) -> None:
        for t in self._cleanups:
            t.join(timeout=30)
        self._cleanups = []
        if self._pool is not None:
            self._pool.close()
            self._pool = None
