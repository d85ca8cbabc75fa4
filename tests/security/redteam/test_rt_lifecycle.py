"""Revocations, withdrawn policies, replaced data and the reports a recipient gets: races an
attacker (a proposer who is also the recipient) plays around the lifecycle."""

import pytest

from rt_support import SECRET_CSV, SECRET_SUM, SECRET_TEXT, Scenario, COPY_FUNCS

FUNCS = COPY_FUNCS

DSC = '''use "f.py"
agent alice
agent mallory
data alice.t csv "t.csv"

policy alice {
  allow copy on alice.t to mallory
}

contract grab {
  by      mallory
  compute copy(t = alice.t)
  to      mallory
}

contract peek_total {
  by      mallory
  compute rows(data = alice.t)
  to      mallory
  require total(alice.t, "amount") < 0
}
'''

NARROW = '''use "f.py"
agent alice
data alice.t csv "t.csv"
policy alice {
  allow rows on alice.t to any
}
'''


@pytest.fixture
def sc(tmp_path):
    s = Scenario(tmp_path, {"f.py": FUNCS, "s.dsc": DSC, "t.csv": SECRET_CSV, "narrow.dsc": NARROW})
    yield s
    s.close()


def _outbox(sc, who="mallory"):
    d = sc.world.config.outbox_path / who
    return [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []


def test_an_approval_revoked_before_execution_stops_it(sc):
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    sc.world.revoke(row.id, "alice")
    with pytest.raises(Exception) as exc:
        sc.world.execute(row.id, "mallory")
    assert getattr(exc.value, "code", "") in ("awaiting_approval", "revoked", "closed"), exc.value
    assert not _outbox(sc)


def test_a_policy_approval_withdrawn_by_a_new_policy_stops_execution(sc):
    sc.world.apply_policy("alice")
    row = sc.world.propose("grab", "mallory")
    assert sc.status(row.id)["status"] == "approved"  # by alice's standing policy
    sc.world.apply_policy("alice", sc.src / "narrow.dsc")  # alice no longer allows copy
    with pytest.raises(Exception):
        sc.world.execute(row.id, "mallory")
    assert not _outbox(sc)


def test_data_cannot_be_swapped_under_an_approved_contract(sc):
    """The owner approved a contract on the data as it was; the data cannot change under it."""
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    with pytest.raises(Exception) as exc:
        sc.world.data("alice.t", b"name,amount\nother,1\n")  # no --replace: refused either way
    assert "data" in getattr(exc.value, "code", "data")


def test_a_revoked_contract_cannot_be_revived_by_proposing_it_again(sc):
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    sc.world.revoke(row.id, "mallory")
    try:
        again = sc.world.propose("grab", "mallory")
    except Exception:  # noqa: BLE001 - refused: fine
        return
    assert again.id != row.id or sc.status(again.id)["status"] != "approved"
    with pytest.raises(Exception):
        sc.world.execute(again.id, "mallory")
    assert not _outbox(sc)


def test_dsc_execute_shows_no_compared_value_to_a_recipient(sc):
    """mallory (recipient, not the owner) runs a contract whose require compares alice's total."""
    row = sc.world.propose("peek_total", "mallory")
    sc.world.approve(row.id, "alice")
    code, out = sc.cli("execute", row.id, "--as", "mallory")
    code2, out2 = sc.cli("execute", row.id, "--as", "mallory", "--format", "json")
    text = out + out2 + sc.everything_seen(row.id)
    assert "require" in out or "failed" in out or code != 0, out
    for s in (str(SECRET_SUM), SECRET_TEXT):
        assert s not in text, text
