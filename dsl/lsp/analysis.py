"""One analysed version of a document: checker result, name index and line index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..check import CheckResult, check_source
from .index import Index, build_index
from .positions import LineIndex


@dataclass(frozen=True, slots=True)
class Analysis:
    version: int | None
    text: str
    path: str
    result: CheckResult
    index: Index
    lines: LineIndex

    @property
    def symbols(self):
        return self.result.symbols

    @property
    def program(self):
        return self.result.program


def analyze(text: str, path: str, version: int | None = None, encoding: str = "utf-16") -> Analysis:
    """Check `text` as the file at `path` (modules and data resolve beside it). Runs off the event loop."""
    result = check_source(text, path, Path(path).parent)
    index = build_index(result.program, result.symbols, text)
    return Analysis(version=version, text=text, path=path, result=result, index=index,
                    lines=LineIndex(text, encoding))
