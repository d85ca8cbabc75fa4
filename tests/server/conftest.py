"""`served`: a `dsc serve` subprocess on a fresh escrow (tests/serving.py)."""

import pytest

from serving import Served


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "site")
    yield s
    s.stop()


@pytest.fixture
def dsc(tmp_path, monkeypatch, capsys):
    """Run `dsc ARGS` in-process in tmp_path; returns returncode/stdout/stderr."""
    from types import SimpleNamespace

    from datastation.runtime.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_CONFIG", raising=False)

    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run
