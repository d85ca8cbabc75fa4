"""Hole 9: what an owner reads before approving is the proposal as the escrow stored it.

The proposer holds a stale copy of the file in which the kept result `pool` comes from
bank1's data only; in the escrow, `pool` was computed from bank1's and bank2's. The summary
`dsc approve` and `dsc show ID` display must tell the escrow's story (both owners), show the
identity recomputed from the stored proposal, and the approval must sign exactly that identity.
"""

import json

import pytest

from datastation.runtime.cli import main

STALE_POOL = 'keep pool = fraud_model(train = [bank1.train], label = "is_fraud")'
REAL_POOL = 'keep pool = fraud_model(train = [bank1.train, bank2.train], label = "is_fraud")'


def _cli(attack, capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*map(str, args), "--config", str(attack.config_file)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _stale_file(attack):
    src = attack.world.dsc.read_text()
    assert REAL_POOL in src
    stale = attack.world.dsc.with_name("stale.dsc")
    stale.write_text(src.replace(REAL_POOL, STALE_POOL))
    return stale


@pytest.fixture(params=["kept_result_exists", "keeping_contract_pending"])
def stale_proposal(request, attack):
    w = attack.world
    pooled = w.propose("pooled", "bank1")
    if request.param == "kept_result_exists":
        attack.approve_all(pooled.id)
        assert w.execute(pooled.id, "bank1").status == "executed"
    row = w.propose("audit_count", "auditor", path=_stale_file(attack))
    assert row.source_agents == ("bank1", "bank2")  # the escrow asks the right owners
    return row


def test_approve_shows_the_stored_provenance(attack, capsys, stale_proposal):
    code, out = _cli(attack, capsys, "approve", stale_proposal.id, "--as", "bank2", "--yes")
    assert code == 0, out
    text = " ".join(out.split())
    assert "comes from bank1.train, bank2.train" in text, out
    assert "must approve: bank1, bank2" in text, out
    assert f"identity {stale_proposal.id}" in text


def test_show_by_id_is_the_stored_summary(attack, capsys, stale_proposal):
    code, out = _cli(attack, capsys, "show", stale_proposal.id[:12], "--format", "json")
    assert code == 0, out
    s = json.loads(out)
    assert s["identity"] == stale_proposal.id
    assert s["source_agents"] == ["bank1", "bank2"]
    assert [k["sources"] for k in s["kept_inputs"]] == [["bank1.train", "bank2.train"]]
    assert {c["agent"] for c in s["contributors"]} == {"bank1", "bank2"}


def test_tampered_stored_proposal_is_not_shown_nor_signed(attack, capsys):
    # The stored module text is edited after the proposal: what would be shown (and run) is no
    # longer what the identity the approval signs stands for.
    w = attack.world
    row = w.propose("joint_model", "bank1")
    modules = dict(row.meta["bundle"]["modules"])
    modules["functions.py"] = modules["functions.py"].replace("THRESHOLD = 0.5", "THRESHOLD = 0.5\n\n\n")
    modules["functions.py"] = modules["functions.py"].replace(
        'return {"predict": _mean_label(train, label) >= THRESHOLD}',
        'return {"predict": _mean_label(train, label) >= THRESHOLD, "rows": len(train[0])}')
    attack.set_meta(row.id, "bundle.modules", modules)
    code, out = _cli(attack, capsys, "approve", row.id, "--as", "bank2", "--yes")
    assert code == 1, out
    assert "bank2" not in {a.agent for a in w.store.approvals(row.id)}
    code, out = _cli(attack, capsys, "show", row.id)
    assert code == 1, out
