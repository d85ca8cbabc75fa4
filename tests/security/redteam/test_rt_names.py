"""Name confusion between agents: a proposer registered under a look-alike of a data owner's
name makes a contract `to` itself that reads, in the summary, like a release to that owner."""

import pytest

from rt_support import dsc


@pytest.mark.parametrize("name", ["bаnk1", "ｂａｎｋ1", "bank1\u200b", "bank1.x", "../bank1", "bank1 "])
def test_look_alike_agent_names_are_refused(tmp_path, name):
    cfg = tmp_path / "e.yaml"
    cfg.write_text(f"escrow_dir: '{tmp_path / 'escrow'}'\n")
    assert dsc("init", "--config", cfg)[0] == 0
    assert dsc("agent", "create", "bank1", "--no-passphrase", "--config", cfg)[0] == 0
    code, out = dsc("agent", "create", name, "--no-passphrase", "--config", cfg)
    assert code != 0, out


def test_agent_names_differing_only_in_case_are_refused(tmp_path):
    cfg = tmp_path / "e.yaml"
    cfg.write_text(f"escrow_dir: '{tmp_path / 'escrow'}'\n")
    assert dsc("init", "--config", cfg)[0] == 0
    assert dsc("agent", "create", "bank1", "--no-passphrase", "--config", cfg)[0] == 0
    code, out = dsc("agent", "create", "Bank1", "--no-passphrase", "--config", cfg)
    assert code != 0, out


def test_data_element_names_differing_only_in_case_are_refused(tmp_path):
    from harness import World

    (tmp_path / "s.dsc").write_text('agent bank1\ndata bank1.tx csv "t.csv"\n')
    (tmp_path / "t.csv").write_text("a\n1\n")
    w = World(tmp_path, tmp_path / "s.dsc")
    try:
        w.agent("bank1")
        w.data("bank1.tx", b"a\n1\n")
        with pytest.raises(Exception) as exc:
            w.data("bank1.TX", b"a\n2\n")
        assert getattr(exc.value, "code", None) == "name_confusable", exc.value
    finally:
        w.close()
