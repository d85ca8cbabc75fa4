"""Proposal bundles: the .dsc text and the text of every `use` module, as a proposal carries them.

The client makes a bundle from the files at hand (`make_bundle`); the escrow checks the
bundle itself (`Materialized`, in a private temporary folder) and keeps it, so that
execution later runs exactly the approved text whatever happens to the files on disk
(`bundle_scenario` rebuilds it without touching the disk).
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any

from datastation.contracts.loading import load_checked
from datastation.contracts.model import Scenario

from .context import EscrowRefusal

MAX_BUNDLE_BYTES = 8 * 1024 * 1024
BUNDLE_ROOT = Path("/dsc-bundle")  # where a stored bundle's modules are said to live
MAX_MODULES = 256
MAX_PATH_CHARS = 1024  # a module path, whole
MAX_PART_BYTES = 255  # one name in it (UTF-8), as most file systems allow
MAX_DEPTH = 32


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
        except (OSError, UnicodeDecodeError, ValueError):
            pass  # the escrow's check reports the missing (or unnameable) module
    return {"file": path.name, "source": text, "modules": modules}


def _bad(message: str) -> EscrowRefusal:
    return EscrowRefusal("bad_bundle", message)


def _shown(text: str, limit: int = 60) -> str:
    """A path as a refusal may quote it: control characters escaped, long ones cut."""
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def _safe_rel(rel: Any) -> PurePosixPath:
    """A module path of a bundle, if it names a file beside the .dsc file; else a refusal."""
    if not isinstance(rel, str):
        raise _bad("module paths must be text")
    if any(ord(c) < 32 or ord(c) == 127 for c in rel):
        raise _bad(f"module path {_shown(rel)} holds a control character (NUL, newline, ...)")
    if len(rel) > MAX_PATH_CHARS:
        raise _bad(f"module path {_shown(rel)} is too long ({len(rel)} characters, at most {MAX_PATH_CHARS})")
    p = PurePosixPath(rel.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise _bad(f"module path {_shown(rel)} must stay beside the .dsc file (no '..', not absolute)")
    if len(p.parts) > MAX_DEPTH:
        raise _bad(f"module path {_shown(rel)} is nested too deep ({len(p.parts)} folders, at most {MAX_DEPTH})")
    try:
        too_long = [part for part in p.parts if len(part.encode("utf-8")) > MAX_PART_BYTES]
    except UnicodeEncodeError:
        raise _bad(f"module path {_shown(rel)} is not valid Unicode") from None
    if too_long:
        raise _bad(f"module path {_shown(rel)} has a name longer than {MAX_PART_BYTES} bytes")
    return p


def _file_name(value: Any) -> str:
    name = PurePosixPath(str(value or "contract.dsc").replace("\\", "/")).name or "contract.dsc"
    _safe_rel(name)
    return name


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
        if len(modules) > MAX_MODULES:
            raise _bad(f"the proposal carries {len(modules)} modules (at most {MAX_MODULES})")
        name = _file_name(bundle.get("file"))
        paths = {rel: _safe_rel(rel) for rel in modules}  # every path checked before anything is written
        self._tmp = tempfile.TemporaryDirectory(prefix="dsc-bundle-")
        try:
            self._write(name, bundle["source"], modules, paths)
            self.loaded = load_checked(self.file)
        except BaseException:
            self._tmp.cleanup()
            raise

    def _write(self, name: str, source: str, modules: dict, paths: dict) -> None:
        self.dir = Path(self._tmp.name)
        self.file = self.dir / name
        self.modules = {}
        try:
            for rel, text in modules.items():
                p = self.dir / paths[rel]
                if p == self.file or p.is_dir():
                    raise _bad(f"module path {_shown(rel)} names the .dsc file or a folder of another module")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text, encoding="utf-8")
                self.modules[str(p.resolve())] = (rel, text)
            self.file.write_text(source, encoding="utf-8")
        except UnicodeEncodeError:
            raise _bad("the proposal's text is not valid Unicode (lone surrogates)") from None
        except (OSError, ValueError) as exc:
            raise _bad(f"the proposal's files cannot be laid out ({type(exc).__name__}: "
                       f"{getattr(exc, 'strerror', None) or 'invalid path'})") from None

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


# Identical bundles are checked (and parsed) once: a proposer sends the same file for each of
# its contracts. Keyed by the SHA-256 of the bundle's canonical JSON; the most recently used
# kept (an evicted one's folder is removed when its last user lets go of it: TemporaryDirectory's
# finalizer). Enough for a served escrow's active proposers: with 50 parties each proposing its
# own file, 16 entries thrashed and every proposal and execution checked its bundle again
# (bench/server_load.py).
CACHE_SIZE = 256
_CHECKED: OrderedDict = OrderedDict()
_SCENARIOS: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _bundle_key(bundle: Any) -> str | None:
    if not isinstance(bundle, dict):
        return None
    from ..keys import canonical_json

    try:
        return hashlib.sha256(canonical_json(bundle)).hexdigest()
    except (TypeError, ValueError):
        return None


def _cached(cache: OrderedDict, key: str | None, make):
    if key is None:
        return make()
    with _LOCK:
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
    value = make()
    with _LOCK:
        cache[key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


def checked_bundle(bundle: Any) -> Materialized:
    """`Materialized(bundle)`, checked once per identical bundle (the caller must not close it).
    The check reads only the bundle's own text (and the built-in signatures), so its outcome is
    a function of the bundle."""
    return _cached(_CHECKED, _bundle_key(bundle), lambda: Materialized(bundle))


def bundle_scenario(bundle: dict) -> Scenario:
    """The stored bundle as a Scenario, without touching the disk (modules from the bundle);
    parsed once per identical bundle (callers only read it)."""
    return fresh_functions(_cached(_SCENARIOS, _bundle_key(bundle), lambda: _bundle_scenario(bundle)))


def fresh_functions(scenario: Scenario) -> Scenario:
    """A shallow copy of a shared scenario whose function table resolves names afresh: a function's
    source (a built-in's included) is found again, so an identity recomputed from it sees a
    built-in that changed since (the parsed modules stay cached while their text is unchanged)."""
    from datastation.contracts.functions import FunctionTable

    ft = scenario.functions
    out = copy.copy(scenario)
    if ft is not None:
        out.functions = FunctionTable(ft.module_paths, ft._symbols, ft._texts)
    return out


def _bundle_scenario(bundle: dict) -> Scenario:
    from datastation.dsl.parser import parse

    file = str(PurePosixPath(str(bundle.get("file") or "contract.dsc").replace("\\", "/")).name or "contract.dsc")
    program = parse(bundle["source"], file).program
    return Scenario.build(program, BUNDLE_ROOT, module_texts=dict(bundle.get("modules") or {}))
