"""`dsc check` end to end (subprocess): exit codes, formats, --max-errors, stdin, unreadable input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

DSC = [sys.executable, "-c", "import sys; from datastation.runtime.cli import main; sys.exit(main())"]

GOOD = 'agent a\ndata a.x csv "x.csv"\ncontract c { by a compute rows(a.x) to a }\n'
BAD = 'agent a\ndata a.x csv "x.csv"\ncontract c { by a compute rows(a.y) to b }\ncontract d { by z compute rows(a.x) to a }\n'


def subprocess_dsc(*args, stdin: str | None = None, cwd=None):
    """The real command line, in a child process (slow: used for exit codes and stdin)."""
    return subprocess.run([*DSC, "check", *map(str, args)], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.fixture
def dsc(capsys):
    """`dsc check ARGS` in this process: returns (exit code, stdout, stderr) like a CompletedProcess."""
    from datastation.runtime.cli import main

    def run(*args):
        try:
            code = main(["check", *map(str, args)])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


@pytest.fixture
def files(tmp_path):
    (tmp_path / "x.csv").write_text("id\n1\n")
    (tmp_path / "good.dsc").write_text(GOOD)
    (tmp_path / "bad.dsc").write_text(BAD)
    return tmp_path


def test_clean_file_exits_0(files):
    r = subprocess_dsc(files / "good.dsc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


def test_errors_exit_1_with_located_human_output(files):
    r = subprocess_dsc(files / "bad.dsc")
    assert r.returncode == 1
    assert f"{files / 'bad.dsc'}:3:32" in r.stdout
    assert "rows(a.y)" in r.stdout and "^" in r.stdout
    assert "3 errors" in r.stderr


def test_warnings_alone_exit_0(dsc, files):
    (files / "warn.dsc").write_text(GOOD + "agent idle\n")
    r = dsc(files / "warn.dsc")
    assert r.returncode == 0
    assert "DSC071" in r.stdout


def test_json_format(dsc, files):
    r = dsc(files / "bad.dsc", "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["valid"] is False and doc["error_count"] == 3
    assert {d["code"] for d in doc["diagnostics"]} == {"DSC021", "DSC050", "DSC052"}


def test_plain_format(dsc, files):
    r = dsc(files / "bad.dsc", "--format", "plain")
    lines = [line for line in r.stdout.splitlines() if line]
    assert len(lines) == 3
    assert lines[0].startswith(f"{files / 'bad.dsc'}:3:32: error DSC021")


def test_max_errors_limits_the_output_not_the_exit_code(dsc, files):
    r = dsc(files / "bad.dsc", "--format", "plain", "--max-errors", "1")
    assert r.returncode == 1
    assert len([line for line in r.stdout.splitlines() if " error " in line]) == 1
    assert "not shown" in r.stderr or "not shown" in r.stdout


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_max_errors_is_a_usage_error(dsc, files, value):
    r = dsc(files / "good.dsc", "--max-errors", value)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_several_files(dsc, files):
    r = dsc(files / "good.dsc", files / "bad.dsc", "--format", "json")
    assert r.returncode == 1
    assert {d["range"]["filename"] for d in json.loads(r.stdout)["diagnostics"]} == {str(files / "bad.dsc")}


def test_missing_file_is_a_diagnostic(dsc, files):
    r = dsc(files / "nope.dsc")
    assert r.returncode == 1
    assert "DSC005" in r.stdout and "Traceback" not in r.stdout + r.stderr


def _filenames(r) -> set[str]:
    return {d["range"]["filename"] for d in json.loads(r.stdout)["diagnostics"]}


def test_a_directory_checks_every_dsc_file_below_it(dsc, files):
    deeper = files / "more" / "deeper"
    deeper.mkdir(parents=True)
    (deeper / "x.csv").write_text("id\n1\n")
    (deeper / "deep.dsc").write_text(BAD)
    (deeper / "notes.txt").write_text("not a contract {")
    hidden = files / ".dsc-escrow"  # hidden directories (an escrow, .git) are not searched
    hidden.mkdir()
    (hidden / "junk.dsc").write_text("agent {")
    r = dsc(files, "--format", "json")
    assert r.returncode == 1
    assert _filenames(r) == {str(files / "bad.dsc"), str(deeper / "deep.dsc")}
    assert json.loads(r.stdout)["error_count"] == 6


def test_a_directory_of_clean_files_is_ok(dsc, files):
    (files / "bad.dsc").unlink()
    (files / "sub").mkdir()
    (files / "sub" / "x.csv").write_text("id\n1\n")
    (files / "sub" / "also_good.dsc").write_text(GOOD)
    r = dsc(files)
    assert r.returncode == 0
    assert "ok: 2 files checked" in r.stdout


def test_a_directory_without_dsc_files_is_a_diagnostic(dsc, tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    r = dsc(tmp_path, "--format", "json")
    assert r.returncode == 1
    (d,) = json.loads(r.stdout)["diagnostics"]
    assert d["code"] == "DSC005" and d["range"]["filename"] == str(tmp_path)
    assert "Is a directory" not in r.stdout + r.stderr


def test_non_utf8_file(dsc, files):
    (files / "latin.dsc").write_bytes(b'agent a "Premi\xe8re"\n')
    r = dsc(files / "latin.dsc", "--format", "json")
    assert r.returncode == 1
    (d,) = json.loads(r.stdout)["diagnostics"]
    assert d["code"] == "DSC005" and d["range"]["start"]["line"] == 1


def test_stdin(files):
    r = subprocess_dsc("-", stdin=BAD, cwd=files)
    assert r.returncode == 1
    assert "<stdin>:3:32" in r.stdout
    r = subprocess_dsc("-", stdin=GOOD, cwd=files)
    assert r.returncode == 0


def test_no_files_is_a_usage_error():
    r = subprocess_dsc()
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_unknown_format_is_a_usage_error(dsc, files):
    assert dsc(files / "good.dsc", "--format", "xml").returncode == 2


def test_no_warnings_hides_warnings(dsc, files):
    (files / "warn.dsc").write_text(GOOD + "agent idle\n")
    r = dsc(files / "warn.dsc", "--no-warnings", "--format", "json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["diagnostics"] == []
