"""Rendering diagnostics: human (file:line:col, source line, carets), plain, and terraform-like JSON."""

from __future__ import annotations

import json

from datastation.dsl.check import check_source
from datastation.dsl.diagnostics import Related, Span, error, warning
from datastation.dsl.render import render, render_human, render_json, render_plain

SRC = "agent a\ndata a.x csv \"x.csv\"\ncontract c { by a compute rows(a.x) to bb }\n"


def _span(line, col, end_col, start=0):
    return Span(file="f.dsc", line=line, column=col, end_line=line, end_column=end_col, start=start, end=start + end_col - col)


def test_human_has_header_location_source_and_carets():
    d = error("DSC050", "recipient 'bb' is not a declared agent", _span(3, 40, 42), help="did you mean 'a'?")
    out = render_human(d, SRC)
    lines = out.splitlines()
    assert lines[0] == "error[DSC050]: recipient 'bb' is not a declared agent"
    assert lines[1].strip() == "--> f.dsc:3:40"
    src_line = next(line for line in lines if "contract c" in line)
    caret = lines[lines.index(src_line) + 1]
    assert caret.count("^") == 2
    assert caret.index("^") == src_line.index("bb")
    assert lines[-1].strip() == "= help: did you mean 'a'?"
    assert "\033" not in out


def test_human_multi_line_span_marks_to_end_of_first_line():
    d = error("DSC010", "x", Span(file="f.dsc", line=3, column=1, end_line=4, end_column=2))
    caret = render_human(d, SRC).splitlines()[4]
    assert caret.count("^") == len(SRC.splitlines()[2])


def test_human_shows_related_locations():
    d = error("DSC061", "violated", _span(3, 1, 9), related=[Related(message="step one", span=_span(2, 6, 9))])
    out = render_human(d, SRC)
    assert "note: step one" in out and "f.dsc:2:6" in out


def test_human_survives_spans_outside_the_source_and_missing_source():
    d = error("DSC005", "cannot read", Span(file="f.dsc", line=99, column=5, end_line=99, end_column=6))
    assert "f.dsc:99:5" in render_human(d, SRC)
    assert "f.dsc:99:5" in render_human(d, None)


def test_human_window_on_huge_lines():
    line = "x" * 100_000
    d = error("DSC003", "bad", Span(file="f.dsc", line=1, column=50_000, end_line=1, end_column=50_001))
    out = render_human(d, line)
    assert len(out) < 2000
    src_line = next(s for s in out.splitlines() if "xxx" in s)
    caret = out.splitlines()[out.splitlines().index(src_line) + 1]
    assert src_line[caret.index("^")] == "x"


def test_color_only_when_asked():
    d = warning("DSC070", "unused", _span(2, 6, 9))
    assert "\033[" in render([d], {"f.dsc": SRC}, "human", color=True)
    assert "\033[" not in render([d], {"f.dsc": SRC}, "human", color=False)


def test_plain_is_one_line_each():
    d = error("DSC050", "msg", _span(3, 40, 42), help="hint")
    assert render_plain(d) == "f.dsc:3:40: error DSC050: msg (help: hint)"
    out = render([d, d], {}, "plain")
    assert out.count("\n") == 2


def test_json_is_shaped_like_terraform_validate():
    result = check_source(SRC, "f.dsc")
    doc = json.loads(render_json(list(result.diagnostics)))
    assert set(doc) >= {"format_version", "valid", "error_count", "warning_count", "diagnostics"}
    assert doc["valid"] is False
    assert doc["error_count"] == sum(1 for d in result.diagnostics if d.is_error)
    assert doc["warning_count"] == sum(1 for d in result.diagnostics if not d.is_error)
    (first,) = [d for d in doc["diagnostics"] if d["code"] == "DSC050"]
    assert first["severity"] == "error"
    assert first["summary"] and isinstance(first["detail"], str)
    r = first["range"]
    assert r["filename"] == "f.dsc"
    assert r["start"] == {"line": 3, "column": 40, "byte": SRC.index("bb")}
    assert r["end"] == {"line": 3, "column": 42, "byte": SRC.index("bb") + 2}


def test_json_byte_offsets_count_utf8_bytes():
    src = 'agent a "Zürich ☃"\nagent b\ncontract c { by a compute rows(a.x) to zz }\n'
    doc = json.loads(render_json(list(check_source(src, "f.dsc").diagnostics), {"f.dsc": src}))
    (d,) = [d for d in doc["diagnostics"] if d["code"] == "DSC050"]
    assert d["range"]["start"]["byte"] == src.encode("utf-8").index(b"zz")


def test_json_of_no_diagnostics_is_valid():
    doc = json.loads(render_json([]))
    assert doc == {"format_version": "1.0", "valid": True, "error_count": 0, "warning_count": 0, "diagnostics": []}


def test_related_steps_in_json():
    d = error("DSC061", "violated", _span(3, 1, 9), related=[Related(message="step", span=_span(2, 6, 9))])
    (j,) = json.loads(render_json([d]))["diagnostics"]
    assert j["related"][0]["range"]["start"]["line"] == 2
