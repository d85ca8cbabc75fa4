"""Issue 10 item 5: a contract that ended without a release can be proposed again, as a new
attempt of the same contract; `dsc status` shows the history."""

import json

from datastation.runtime.escrow import open_escrow  # noqa: F401 - the package must import


def test_a_failed_require_then_a_new_attempt_needs_the_owner_whose_data_changed(scen):
    cid = scen.approved("total")
    r = scen("execute", cid, "--as", "bob")
    assert r.returncode == 1 and scen.status(cid)["status"] == "failed"
    # alice fixes her data: her approval was for the data the last run read, so it does not carry
    (scen.root / "nums.csv").write_text("x\n1\n2\n3\n")
    assert scen("data", "add", "alice.nums", "nums.csv", "--as", "alice", "--replace").returncode == 0
    r = scen.propose("total")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == cid and json.loads(r.stdout)["status"] == "pending"
    assert scen("execute", cid, "--as", "bob").returncode == 4  # awaiting alice
    assert scen("approve", cid, "--as", "alice", "--yes").returncode == 0
    r = scen("execute", cid, "--as", "bob")
    assert r.returncode == 0, r.stderr
    st = scen.status(cid)
    assert st["status"] == "executed" and st["attempt"] == 2
    assert [(a["attempt"], a["outcome"]) for a in st["attempts"]] == [(1, "failed"), (2, "executed")]
    assert [(e["number"], e["attempt"], e["status"]) for e in st["executions"]] == [(1, 1, "failed"), (2, 2, "executed")]
    human = scen("status", cid).stdout
    assert "attempt 1" in human and "attempt 2" in human and "execution #2" in human
    reproposal = [e for e in _log(scen, cid) if e["kind"] == "reproposal"]
    assert [(e["payload"]["carried"], e["payload"]["dropped"]) for e in reproposal] == [([], ["alice"])]
    assert scen("audit", "verify").returncode == 0


def test_an_attempt_that_released_nothing_carries_the_approvals_when_no_data_changed(scen):
    cid = scen.approved("quits")
    assert scen("execute", cid, "--as", "bob").returncode == 1 and scen.status(cid)["status"] == "error"
    r = scen.propose("quits")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "approved"  # alice's consent stands
    reproposal = [e for e in _log(scen, cid) if e["kind"] == "reproposal"]
    assert [(e["payload"]["carried"], e["payload"]["dropped"]) for e in reproposal] == [(["alice"], [])]


def test_an_owner_withdraws_consent_after_an_attempt_that_released_nothing(scen):
    """After a run that released nothing, a source agent may still reject (recorded; the attempt's
    outcome stays) or revoke its approval: either way it does not carry over to a new attempt."""
    for contract, withdraw in (("quits", ("reject", "--why", "no more")), ("raises", ("revoke",))):
        cid = scen.approved(contract)
        assert scen("execute", cid, "--as", "bob").returncode == 1
        r = scen(withdraw[0], cid, "--as", "alice", *withdraw[1:])
        assert r.returncode == 0, r.stderr
        assert scen.status(cid)["status"] == "error"
        r = scen.propose(contract)
        assert r.returncode == 0 and json.loads(r.stdout)["status"] == "pending", r.stdout
        assert scen("execute", cid, "--as", "bob").returncode == 4
    assert scen("audit", "verify").returncode == 0


def _log(scen, cid) -> list[dict]:
    r = scen("log", "--contract", cid, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_released_contract_is_done(scen):
    (scen.root / "nums.csv").write_text("x\n1\n2\n3\n")
    assert scen("data", "add", "alice.nums", "nums.csv", "--as", "alice", "--replace").returncode == 0
    cid = scen.approved("total")
    assert scen("execute", cid, "--as", "bob").returncode == 0
    r = scen.propose("total")
    assert r.returncode == 1 and "released its result" in r.stderr
    assert scen("execute", cid, "--as", "bob").returncode == 1
    assert scen.status(cid)["attempt"] == 1


def test_an_open_contract_is_not_proposed_twice(scen):
    cid = scen.approved("total")
    r = scen.propose("total")
    assert r.returncode == 1 and "already proposed" in r.stderr
    assert scen.status(cid)["attempt"] == 1


def test_a_rejection_voids_the_rejecters_earlier_approval(scen):
    cid = scen.approved("total")
    assert scen("reject", cid, "--as", "alice", "--why", "changed my mind").returncode == 0
    r = scen.propose("total")
    assert r.returncode == 0, r.stderr
    st = scen.status(cid)
    assert st["status"] == "pending" and st["missing_approvals"] == ["alice"] and st["attempt"] == 2
    assert scen("execute", cid, "--as", "bob").returncode != 0
    assert scen("approve", cid, "--as", "alice", "--yes").returncode == 0
    assert scen.status(cid)["status"] == "approved"
    assert scen("audit", "verify").returncode == 0


def test_consent_to_an_ended_attempt_is_withdrawn_once(scen):
    """Red team (session 12): a source agent's `reject` of an attempt that released nothing was
    accepted again and again, each a rejection (its reason up to 2,000 characters) in the history
    every party reads. Once per attempt: a repeat is refused (`already_rejected`), and a refusal
    is no entry of the contract (H43)."""
    cid = scen.approved("quits")
    assert scen("execute", cid, "--as", "bob").returncode == 1 and scen.status(cid)["status"] == "error"
    assert scen("reject", cid, "--as", "alice", "--why", "no more").returncode == 0
    history = len(_log(scen, cid))
    r = scen("reject", cid, "--as", "alice", "--why", "again")
    assert r.returncode == 1 and "already withdrew" in r.stderr
    assert len(_log(scen, cid)) == history + 1  # the refusal, listed for the operator, about alice
    assert [e["contract"] for e in _log(scen, cid)][-1] is None
    assert len(scen.status(cid)["rejections"]) == 1
    # a new attempt that again releases nothing: its consent can be withdrawn (once) again
    assert scen.propose("quits").returncode == 0
    assert scen("approve", cid, "--as", "alice", "--yes").returncode == 0
    assert scen("execute", cid, "--as", "bob").returncode == 1
    assert scen("reject", cid, "--as", "alice", "--why", "still no").returncode == 0
    assert scen("reject", cid, "--as", "alice", "--why", "and again").returncode == 1
    assert len(scen.status(cid)["rejections"]) == 2
