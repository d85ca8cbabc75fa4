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
