"""Makes the shared test helpers under tests/ importable (`from harness import World`), and keeps
every test away from the user's own keyring (`DSC_KEYRING` points into the test's tmp_path)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

_SESSION_KEYRING: str | None = None
_KEY_ENV = ("DSC_PASSPHRASE", "DSC_ESCROW_ID")


def pytest_configure(config):
    # Fixtures of wider scope run before the per-test one below: they get a session keyring.
    global _SESSION_KEYRING
    _SESSION_KEYRING = tempfile.mkdtemp(prefix="dsc-test-keyring-")
    os.environ["DSC_KEYRING"] = os.path.join(_SESSION_KEYRING, "keys")


def pytest_unconfigure(config):
    if _SESSION_KEYRING:
        shutil.rmtree(_SESSION_KEYRING, ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_keyring(tmp_path, monkeypatch):
    """Each test's agents keep their keys in `tmp_path/keyring`; no passphrase set from outside."""
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "keyring"))
    for name in list(os.environ):
        if name in _KEY_ENV or name.startswith("DSC_PASSPHRASE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def dsc_in(monkeypatch, capsys):
    """`dsc_in(cwd, *args)`: run `dsc ARGS` in this process in `cwd`, with no config file or
    escrow chosen from the environment; returncode/stdout/stderr. A traceback fails the test."""
    from types import SimpleNamespace

    from datastation.runtime.cli import main

    for var in ("DSC_CONFIG", "DSC_ESCROW"):
        monkeypatch.delenv(var, raising=False)

    def run(cwd, *args):
        monkeypatch.chdir(cwd)
        capsys.readouterr()  # only this command's output
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


@pytest.fixture
def dsc(tmp_path, dsc_in):
    """`dsc ARGS` in tmp_path, where `dsc init` made an escrow (every command but `dsc init` needs one)."""
    def run(*args):
        return dsc_in(tmp_path, *args)

    assert run("init").returncode == 0
    return run


@pytest.fixture
def world(tmp_path):
    """An escrow with the bank fixture's agents and data registered (`harness.bank_world`)."""
    from harness import bank_world

    w = bank_world(tmp_path)
    yield w
    w.close()
