"""An escrow database on a full file system: SQLite says "disk I/O error" (or "database or disk is
full"); the store's message also names the cause, the file system and its free bytes, and never
claims a full disk when there is room."""

import os
import shutil
import subprocess
import sys
from collections import namedtuple

import pytest

from datastation.runtime.store import AgentRow, StoreError, StoreFull
from datastation.runtime.store import sqlite as sqlite_store
from datastation.runtime.store.sqlite import SQLiteStore

Usage = namedtuple("Usage", "total used free")


def full_database(tmp_path) -> SQLiteStore:
    """A store whose database may not grow by a page (SQLite's SQLITE_FULL, as on a full disk)."""
    store = SQLiteStore(tmp_path / "escrow.db")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    return store


def test_a_full_file_system_is_named_in_the_message(tmp_path, monkeypatch):
    store = full_database(tmp_path)
    monkeypatch.setattr(sqlite_store.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(StoreError) as err:
        for i in range(200):
            store.add_agent(AgentRow(name=f"a{i}", public_key="P" * 2000))
    assert isinstance(err.value, StoreFull)  # what the server logs: its name
    assert "4,096 bytes free" in str(err.value) and str(tmp_path) in str(err.value)
    store.close()


def test_no_full_disk_is_claimed_when_there_is_room(tmp_path):
    store = full_database(tmp_path)
    with pytest.raises(StoreError) as err:
        for i in range(200):
            store.add_agent(AgentRow(name=f"a{i}", public_key="P" * 2000))
    assert "full" in str(err.value) and "bytes free" not in str(err.value)  # SQLite's own words only
    assert not isinstance(err.value, StoreFull)
    store.close()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounts a small tmpfs (root only)")
def test_dsc_on_a_really_full_file_system_says_so(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        env = {**os.environ, "HOME": str(disk / "home"), "DSC_ESCROW": "", "NO_COLOR": "1"}
        env.pop("DSC_ESCROW")

        def dsc(*args):
            return subprocess.run([sys.executable, "-m", "datastation.runtime.cli", *args], cwd=disk, env=env,
                                  capture_output=True, text=True, timeout=120)

        assert dsc("init").returncode == 0
        assert dsc("agent", "create", "alice", "--no-passphrase").returncode == 0
        with open(disk / "filler", "wb", buffering=0) as f:  # fill what is left
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        out = dsc("contracts", "--as", "alice")
        assert out.returncode == 1, out
        assert "bytes free: it is full" in out.stderr and "Traceback" not in out.stderr, out.stderr
        (disk / "filler").unlink()
        assert dsc("contracts", "--as", "alice").returncode == 0  # nothing was lost
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)

