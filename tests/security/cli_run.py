"""Run `dsc` in this process for the attacker tests (exit code, stdout, stderr)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from datastation.runtime.cli import main


@pytest.fixture
def dsc(tmp_path, monkeypatch, capsys):
    """`dsc ARGS` in tmp_path, with no config file in sight (`dsc init` made the escrow there); a
    traceback fails the test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_CONFIG", raising=False)
    monkeypatch.delenv("DSC_ESCROW", raising=False)

    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    assert run("init").returncode == 0  # every command but `dsc init` needs an escrow made by it
    return run


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result
