"""Shared helpers of the Docker / no-trust benches (not a bench itself)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path


def ensure_engine_and_image() -> str:
    from datastation.runtime.executors.docker.image import build_image
    from datastation.runtime.executors.docker.container import SandboxError, docker_client

    try:
        docker_client()
    except SandboxError as exc:
        sys.exit(f"bench: {exc}")
    return build_image(log=lambda *_: None)


def stdlib_ref(name: str):
    from datastation.contracts.functions import function_source, stdlib_functions
    from datastation.runtime.executors.base import FunctionRef

    src = function_source(stdlib_functions()[name], name, "stdlib")
    return FunctionRef(name=name, origin="stdlib", source_hash=src.sha256, module_name="")


def user_ref(path: Path, name: str):
    from datastation.contracts.functions import function_source_in_text
    from datastation.runtime.executors.base import FunctionRef

    text = path.read_text()
    src = function_source_in_text(text, path.name, name)
    # what the escrow hands an executor: the function's closure, exactly the text its identity hashes
    return FunctionRef(name=name, origin="user", source_hash=src.sha256, module_name=path.name,
                       module_source=src.closure)


def summary(xs: list[float], unit: str = "ms", scale: float = 1e3) -> str:
    xs = sorted(xs)
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
    return (f"p50 {statistics.median(xs) * scale:.1f} {unit}, p95 {p(0.95) * scale:.1f} {unit}, "
            f"min {xs[0] * scale:.1f} {unit}, max {xs[-1] * scale:.1f} {unit} (n={len(xs)})")
