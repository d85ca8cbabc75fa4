"""Proposal bundles: the .dsc text and the text of every `use` module, as a proposal carries them.

The client makes a bundle from the files at hand (`make_bundle`); the escrow checks the
bundle itself (`Materialized`, in a private temporary folder) and keeps it, so that
execution later runs exactly the approved text whatever happens to the files on disk
(`bundle_scenario` rebuilds it without touching the disk).
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from datastation.contracts.loading import load_checked
from datastation.contracts.model import Scenario

from .context import EscrowRefusal

MAX_BUNDLE_BYTES = 8 * 1024 * 1024
BUNDLE_ROOT = Path("/dsc-bundle")  # where a stored bundle's modules are said to live


def make_bundle(path: str | Path) -> dict:
    """Client side: the .dsc file and its `use` modules, as text, for a proposal."""
    from datastation.dsl.parser import parse_file

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    modules = {}
    for use in parse_file(path).program.uses:
        rel = use.path.value
        try:
            modules[rel] = (path.parent / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass  # the escrow's check reports the missing module
    return {"file": path.name, "source": text, "modules": modules}


def _safe_rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise EscrowRefusal("bad_bundle", f"module path {rel!r} must stay beside the .dsc file (no '..', not absolute)")
    return p


class Materialized:
    """A bundle written to a private temporary folder and checked (`.loaded`)."""

    def __init__(self, bundle: Any):
        if not isinstance(bundle, dict) or not isinstance(bundle.get("source"), str):
            raise EscrowRefusal("bad_bundle", "the proposal carries no .dsc source")
        modules = bundle.get("modules") or {}
        if not isinstance(modules, dict) or not all(isinstance(v, str) for v in modules.values()):
            raise EscrowRefusal("bad_bundle", "malformed module texts in the proposal")
        size = len(bundle["source"]) + sum(len(v) for v in modules.values())
        if size > MAX_BUNDLE_BYTES:
            raise EscrowRefusal("bad_bundle", f"the proposal is too large ({size} bytes)")
        name = PurePosixPath(str(bundle.get("file") or "contract.dsc")).name or "contract.dsc"
        self._tmp = tempfile.TemporaryDirectory(prefix="dsc-bundle-")
        self.dir = Path(self._tmp.name)
        self.file = self.dir / name
        self.modules = {}
        for rel, text in modules.items():
            p = self.dir / _safe_rel(rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            self.modules[str(p.resolve())] = (rel, text)
        self.file.write_text(bundle["source"], encoding="utf-8")
        self.loaded = load_checked(self.file)

    def use_path_of(self, path: Path) -> tuple[str, str] | None:
        """(use path, module text) of a materialized module file."""
        return self.modules.get(str(Path(path).resolve()))

    def first_errors(self, n: int = 3) -> str:
        """The first `n` errors of the check, one line each."""
        return self.render(self.loaded.errors, n)

    @staticmethod
    def render(errors, n: int = 3) -> str:
        """The first `n` of `errors`, one line each."""
        from datastation.dsl.render import render_plain

        errs = list(errors)[:n]
        more = len(errors) - len(errs)
        text = "; ".join(render_plain(d) for d in errs)
        return text + (f" (and {more} more)" if more > 0 else "")

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bundle_scenario(bundle: dict) -> Scenario:
    """The stored bundle as a Scenario, without touching the disk (modules from the bundle)."""
    from datastation.dsl.parser import parse

    file = str(PurePosixPath(str(bundle.get("file") or "contract.dsc")).name)
    program = parse(bundle["source"], file).program
    return Scenario.build(program, BUNDLE_ROOT, module_texts=dict(bundle.get("modules") or {}))
