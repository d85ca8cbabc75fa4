"""Name confusion between agents: a proposer registered under a look-alike of a data owner's
name makes a contract `to` itself that reads, in the summary, like a release to that owner."""

import pytest

from rt_support import dsc


@pytest.mark.parametrize("name", ["bаnk1", "ｂａｎｋ1", "bank1\u200b", "bank1.x", "../bank1", "bank1 "])
def test_look_alike_agent_names_are_refused(tmp_path, name):
    cfg = tmp_path / "e.yaml"
    cfg.write_text(f"escrow_dir: '{tmp_path / 'escrow'}'\n")
    assert dsc("agent", "create", "bank1", "--no-passphrase", "--config", cfg)[0] == 0
    code, out = dsc("agent", "create", name, "--no-passphrase", "--config", cfg)
    assert code != 0, out


@pytest.mark.xfail(strict=True, reason="HOLE (low): agent names that differ only in case (`Bank1` next to "
                   "`bank1`) are both accepted; a summary `to Bank1` reads as bank1, and on a case-insensitive "
                   "filesystem their outbox folders and keyring files are the same")
def test_agent_names_differing_only_in_case_are_refused(tmp_path):
    cfg = tmp_path / "e.yaml"
    cfg.write_text(f"escrow_dir: '{tmp_path / 'escrow'}'\n")
    assert dsc("agent", "create", "bank1", "--no-passphrase", "--config", cfg)[0] == 0
    code, out = dsc("agent", "create", "Bank1", "--no-passphrase", "--config", cfg)
    assert code != 0, out
