"""Character offsets <-> LSP positions, and offsets across an edit.

Spans in the IR are character (code point) offsets; LSP positions count UTF-16 code units by
default. `LineIndex` is built once per analysed text, so each conversion costs a bisect.
"""

from __future__ import annotations

import bisect
import re

from lsprotocol import types

from ..diagnostics import Span

_NEWLINE = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Line starts of one text, for position conversions in a given position encoding."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = getattr(encoding, "value", encoding)  # "utf-8" | "utf-16" | "utf-32"
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def _line_text(self, line: int) -> str:
        start = self.starts[line]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def _units(self, s: str) -> int:
        if s.isascii() or self.encoding == "utf-32":
            return len(s)
        if self.encoding == "utf-8":
            return len(s.encode("utf-8"))
        return len(s.encode("utf-16-le")) // 2

    def position(self, offset: int) -> types.Position:
        """The LSP position of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        col = offset - self.starts[line]
        line_text = self._line_text(line)
        return types.Position(line=line, character=self._units(line_text[:col]))

    def offset(self, pos: types.Position) -> int:
        """The character offset of an LSP position (clamped to the text)."""
        if pos.line >= len(self.starts):
            return len(self.text)
        line_text = self._line_text(pos.line)
        if line_text.isascii() or self.encoding == "utf-32":
            col = min(pos.character, len(line_text))
        else:
            col, units = 0, 0
            for ch in line_text:
                step = self._units(ch)
                if units + step > pos.character:
                    break
                units += step
                col += 1
        return self.starts[pos.line] + col

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(max(start, end)))

    def span_range(self, span: Span) -> types.Range:
        """The range of a span; spans without offsets (start == end == 0) use line/column."""
        if span.end > span.start or span.start > 0:
            return self.range(span.start, span.end)
        line = max(span.line - 1, 0)
        return types.Range(
            start=types.Position(line=line, character=max(span.column - 1, 0)),
            end=types.Position(line=max(span.end_line - 1, line), character=max(span.end_column - 1, 0)),
        )

    def end(self) -> types.Position:
        return self.position(len(self.text))


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # memcmp-speed slices: O(n log n) in C, not a Python loop over characters
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b)) - limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Shift:
    """Maps offsets of the current text to an older text it was edited from (one edited region).

    Lets requests use the last finished analysis while a newer check is still running.
    """

    def __init__(self, old: str, new: str):
        self.same = old is new or old == new
        self.prefix = self.suffix = 0
        self.delta = 0
        self.new_len = len(new)
        if not self.same:
            self.prefix = _common_prefix(old, new)
            self.suffix = _common_suffix(old, new, self.prefix)
            self.delta = len(new) - len(old)

    def to_old(self, offset: int) -> int | None:
        """The offset in the old text, or None inside the edited region."""
        if self.same or offset < self.prefix:
            return offset
        if offset >= self.new_len - self.suffix:
            return offset - self.delta
        return None

    def to_new(self, offset: int) -> int | None:
        """The offset in the new text of an old offset, or None inside the edited region."""
        if self.same or offset < self.prefix:
            return offset
        if offset >= self.new_len - self.suffix - self.delta:
            return offset + self.delta
        return None
