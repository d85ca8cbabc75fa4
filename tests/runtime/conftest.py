"""Fixtures shared by the escrow tests."""

from types import SimpleNamespace

import pytest

from datastation.runtime.cli import main


@pytest.fixture
def dsc(tmp_path, monkeypatch, capsys):
    """Run `dsc ARGS` in-process (fast) in tmp_path, where `dsc init` made an escrow; returns
    returncode/stdout/stderr."""
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
