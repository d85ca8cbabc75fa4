"""Hole 4(b): a contract that reads no data needs nobody's approval, so it is refused.

Its source agents are nobody: it used to be approved the moment it was proposed, and its
function then ran in the escrow under nobody's approval. `dsc check` refuses it (DSC013) and
so does the escrow at propose, which checks the bundle itself; nothing is recorded but the
refusal.
"""

from __future__ import annotations

import pytest

from attack_support import play

FUNCTIONS = '''
import os


def look_around(root: str):
    return sorted(os.listdir(root))
'''

DSC = '''use "functions.py"

agent alice
agent mallory

data alice.t csv "t.csv"

contract snoop {
  by      mallory
  compute look_around(root = "/")
  to      mallory
}
'''


def test_refused_by_the_checker(tmp_path):
    from datastation.dsl.check import check_source

    (tmp_path / "functions.py").write_text(FUNCTIONS)
    result = check_source(DSC, "s.dsc", base_dir=tmp_path)
    assert [d.code for d in result.diagnostics if d.severity.value == "error"] == ["DSC013"]


def test_refused_at_propose(tmp_path):
    from harness import World
    from datastation.runtime.escrow import EscrowRefusal

    (tmp_path / "functions.py").write_text(FUNCTIONS)
    (tmp_path / "s.dsc").write_text(DSC)
    w = World(tmp_path, tmp_path / "s.dsc")
    try:
        w.agent("alice", "mallory")
        with pytest.raises(EscrowRefusal) as refused:
            w.propose("snoop", "mallory")
        assert "DSC013" in str(refused.value)
        assert w.store.list_contracts() == []
        assert "proposal" not in w.audit_kinds() and "refusal" in w.audit_kinds()
    finally:
        w.close()


def test_nothing_runs_in_dsc_run(tmp_path):
    played = play(tmp_path, {"s.dsc": DSC, "functions.py": FUNCTIONS, "t.csv": "x\n1\n"})
    assert played.code != 0
    assert played.released() == []
    assert "DSC013" in played.terminal


def test_the_escrow_refuses_it_from_its_own_records(tmp_path, monkeypatch):
    """Even if the checker let it through, the escrow finds no source data and refuses."""
    from harness import World
    from datastation.dsl import check as checker
    from datastation.dsl.checks import contract_reads_data
    from datastation.runtime.escrow import EscrowRefusal

    from collections import OrderedDict

    from datastation.runtime.escrow import bundle

    monkeypatch.setattr(checker, "RULES", tuple(r for r in checker.RULES if r is not contract_reads_data))
    monkeypatch.setattr(bundle, "_CHECKED", OrderedDict())  # no check outcome cached with the rule in place
    (tmp_path / "functions.py").write_text(FUNCTIONS)
    (tmp_path / "s.dsc").write_text(DSC)
    w = World(tmp_path, tmp_path / "s.dsc")
    try:
        w.agent("alice", "mallory")
        with pytest.raises(EscrowRefusal) as refused:
            w.propose("snoop", "mallory")
        assert refused.value.code == "reads_no_data"
        assert w.store.list_contracts() == []
    finally:
        w.close()
