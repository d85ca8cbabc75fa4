"""Position conversions and edit shifts used by the language server (no server process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from lsprotocol import types

from datastation.dsl.lsp.completion import complete
from datastation.dsl.lsp.positions import LineIndex, Shift


def test_utf16_positions_count_surrogate_pairs():
    text = 'agent a "😋é"\nagent b\r\nagent c'
    idx = LineIndex(text)
    quote_end = text.index('"', 10)
    assert idx.position(quote_end) == types.Position(line=0, character=12)  # 😋 is two UTF-16 units
    assert idx.offset(types.Position(line=0, character=12)) == quote_end
    assert idx.position(text.index("agent b")) == types.Position(line=1, character=0)
    assert idx.position(text.index("agent c")) == types.Position(line=2, character=0)
    assert idx.end() == types.Position(line=2, character=7)
    utf32 = LineIndex(text, types.PositionEncodingKind.Utf32)
    assert utf32.position(quote_end) == types.Position(line=0, character=11)


@given(st.text(alphabet="ab\n😋é", max_size=40), st.data())
def test_offset_position_round_trip(text, data):
    idx = LineIndex(text)
    offset = data.draw(st.integers(0, len(text)))
    assert idx.offset(idx.position(offset)) == offset


@given(st.text(alphabet="abc \n", max_size=60), st.text(alphabet="abc \n", max_size=10), st.data())
def test_shift_maps_offsets_outside_the_edit(old, inserted, data):
    at = data.draw(st.integers(0, len(old)))
    cut = data.draw(st.integers(at, len(old)))
    new = old[:at] + inserted + old[cut:]
    shift = Shift(old, new)
    for offset in range(len(new) + 1):
        back = shift.to_old(offset)
        if back is not None:
            assert old[back:back + 1] == new[offset:offset + 1]
            assert shift.to_new(back) == offset


@pytest.mark.parametrize("before, want", [
    ("# a comment ", set()),
    ('agent x "unterminated ', set()),
    ("", {"agent", "contract"}),
])
def test_completion_outside_code_and_without_analysis(before, want):
    labels = {i.label for i in complete(None, before, len(before))}
    assert want <= labels and (want or not labels)


def test_completion_and_hover_never_fail_anywhere_in_a_file(tmp_path):
    """Every cursor position of the scenario, whole and cut short (broken), answers without raising."""
    from pathlib import Path

    from datastation.dsl.lsp.analysis import analyze
    from datastation.dsl.lsp.hover import hover_text

    text = (Path(__file__).resolve().parent / "lsp_fixture" / "scenario.dsc").read_text()
    for cut in (len(text), len(text) * 2 // 3, len(text) // 3):
        part = text[:cut]
        a = analyze(part, str(tmp_path / "s.dsc"))
        for offset in range(0, len(part) + 1, 3):
            complete(a, part, offset)
            occ = a.index.at(offset)
            if occ is not None:
                hover_text(a, occ)


_EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/*.dsc"))


@pytest.mark.parametrize("path", _EXAMPLES, ids=[p.parent.name + "/" + p.name for p in _EXAMPLES])
def test_server_diagnostics_are_dsc_check_diagnostics(path):
    from datastation.dsl.check import check_file
    from datastation.dsl.lsp.analysis import analyze
    from datastation.dsl.lsp.server import server

    text = path.read_text(encoding="utf-8")
    got = server.lsp_diagnostics(analyze(text, str(path)))
    want = check_file(path).diagnostics
    assert [(g.code, g.range.start.line + 1, g.range.start.character + 1, g.range.end.line + 1,
             g.range.end.character + 1) for g in got] == \
        [(d.code, d.span.line, d.span.column, d.span.end_line, d.span.end_column) for d in want]
