"""Rendering DOT with Graphviz `dot` (a subprocess; `dsc graph` and the review page use it)."""

from __future__ import annotations

import shutil
import subprocess


class GraphvizMissing(RuntimeError):
    pass


def render(dot_text: str, fmt: str, timeout: float = 60) -> bytes:
    """Render DOT to `fmt` (svg, png, pdf) with Graphviz `dot`."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "Graphviz 'dot' is not installed: install it (e.g. `apt-get install graphviz`) or write .dot output"
        )
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout
