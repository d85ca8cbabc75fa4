"""`dsc fmt`: stdout, -w, --check, --diff, stdin, broken input, atomic writes, exit codes."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from datastation.dsl import formatter
from datastation.runtime import cli
from datastation.runtime.commands import fmt

UGLY = 'agent   a\ncontract c{by a compute f( a.x ) to a}\n'
PRETTY = formatter.format_source(UGLY)[0]
BROKEN = "agent a\ncontract c { by }\n"


def run_fmt(argv: list[str], stdin: bytes = b"") -> int:
    """Run `dsc fmt ARGV` in-process with only the fmt command registered."""
    parser = cli._Parser(prog="dsc")
    fmt.register(parser.add_subparsers(parser_class=cli._Parser))
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        args = parser.parse_args(["fmt", *argv])
        return args.func(args)
    except SystemExit as exc:
        return exc.code
    finally:
        sys.stdin = old


@pytest.fixture
def files(tmp_path):
    def make(name: str, text: str | bytes) -> Path:
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return p

    return make


def test_pretty_is_different_and_stable():
    assert PRETTY != UGLY
    assert formatter.format_source(PRETTY)[0] == PRETTY


def test_stdout_by_default_leaves_file_alone(files, capsys):
    p = files("a.dsc", UGLY)
    assert run_fmt([str(p)]) == 0
    assert capsys.readouterr().out == PRETTY
    assert p.read_text() == UGLY


def test_several_files_are_printed_in_order(files, capsys):
    a, b = files("a.dsc", UGLY), files("b.dsc", "agent   z\n")
    assert run_fmt([str(a), str(b)]) == 0
    assert capsys.readouterr().out == PRETTY + "agent z\n"


def test_write_rewrites_only_changed_files_and_keeps_mode(files, tmp_path, capsys):
    ugly, pretty = files("ugly.dsc", UGLY), files("pretty.dsc", PRETTY)
    os.chmod(ugly, 0o640)
    before = pretty.stat()
    assert run_fmt(["-w", str(ugly), str(pretty)]) == 0
    assert capsys.readouterr().out == ""
    assert ugly.read_text() == PRETTY
    assert stat.S_IMODE(ugly.stat().st_mode) == 0o640
    after = pretty.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pretty.dsc", "ugly.dsc"]  # no temp file left
    assert run_fmt(["--check", str(ugly)]) == 0


def test_write_is_atomic_when_replace_fails(files, tmp_path, monkeypatch, capsys):
    p = files("a.dsc", UGLY)

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fmt.os, "replace", fail)
    assert run_fmt(["-w", str(p)]) == 2
    assert p.read_text() == UGLY
    assert [x.name for x in tmp_path.iterdir()] == ["a.dsc"]
    assert "cannot write" in capsys.readouterr().err


def test_check_lists_files_that_would_change(files, capsys):
    ugly, pretty = files("ugly.dsc", UGLY), files("pretty.dsc", PRETTY)
    assert run_fmt(["--check", str(ugly), str(pretty)]) == 1
    assert capsys.readouterr().out.splitlines() == [str(ugly)]
    assert ugly.read_text() == UGLY
    assert run_fmt(["--check", str(pretty)]) == 0
    assert capsys.readouterr().out == ""


def test_diff(files, capsys):
    p = files("a.dsc", UGLY)
    assert run_fmt(["--diff", str(p)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {p} (original)\n+++ {p} (formatted)\n")
    assert "-agent   a\n" in out and "+agent a\n" in out
    assert run_fmt(["--check", "--diff", str(p)]) == 1
    assert "+agent a\n" in capsys.readouterr().out
    pretty = files("b.dsc", PRETTY)
    assert run_fmt(["--diff", str(pretty)]) == 0
    assert capsys.readouterr().out == ""


def test_stdin(capsys):
    assert run_fmt(["-"], stdin=b"\xef\xbb\xbf" + UGLY.encode()) == 0
    assert capsys.readouterr().out == PRETTY
    assert run_fmt(["--check", "-"], stdin=UGLY.encode()) == 1
    assert capsys.readouterr().out.strip() == "<stdin>"


def test_write_refuses_stdin(capsys):
    assert run_fmt(["-w", "-"], stdin=UGLY.encode()) == 2
    assert capsys.readouterr().out == ""


def test_check_and_write_are_exclusive(files):
    p = files("a.dsc", UGLY)
    assert run_fmt(["--check", "-w", str(p)]) == 2


def test_broken_input_is_reported_and_never_written(files, capsys):
    bad, good = files("bad.dsc", BROKEN), files("good.dsc", UGLY)
    assert run_fmt(["-w", "--format", "plain", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:17: error DSC001" in err
    assert bad.read_text() == BROKEN
    assert good.read_text() == PRETTY  # the other file is still formatted


def test_broken_input_json_diagnostics(files, capsys):
    bad = files("bad.dsc", BROKEN)
    assert run_fmt(["--format", "json", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    doc = json.loads(captured.err)
    assert [d["code"] for d in doc["diagnostics"]] == ["DSC001"]
    assert doc["diagnostics"][0]["range"]["start"]["line"] == 2


def test_unreadable_files_exit_2(files, tmp_path, capsys):
    assert run_fmt([str(tmp_path / "missing.dsc")]) == 2
    assert "DSC005" in capsys.readouterr().err
    latin1 = files("latin1.dsc", b"agent caf\xe9\n")
    assert run_fmt(["--format", "plain", str(latin1)]) == 2
    assert f"{latin1}:1:10: error DSC005" in capsys.readouterr().err
    assert run_fmt(["-"], stdin=b"agent \xff\n") == 2


def test_refusal_when_the_meaning_would_change(files, monkeypatch, capsys):
    p = files("a.dsc", UGLY)
    monkeypatch.setattr(formatter, "format_program", lambda program: "agent other\n")
    assert run_fmt(["-w", "--format", "plain", str(p)]) == 2
    assert f"error {formatter.REFUSED}" in capsys.readouterr().err
    assert p.read_text() == UGLY


def test_refusal_when_a_comment_would_be_lost(monkeypatch):
    monkeypatch.setattr(formatter, "format_program", lambda program: "agent a\n")
    out, diags = formatter.format_source("agent a  # keep me\n")
    assert out is None
    assert [d.code for d in diags] == [formatter.REFUSED]


def test_crlf_becomes_lf(files, capsys):
    p = files("crlf.dsc", "agent a\r\nagent b\r\n")
    assert run_fmt(["--check", str(p)]) == 1
    assert run_fmt(["-w", str(p)]) == 0
    assert p.read_bytes() == b"agent a\nagent b\n"


def test_console_script_end_to_end(files):
    p = files("a.dsc", UGLY)
    proc = subprocess.run(
        [sys.executable, "-m", "datastation.runtime.cli", "fmt", str(p)], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout) == (0, PRETTY), proc.stderr
