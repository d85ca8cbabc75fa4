"""The fraud example's lifecycle end to end on each store: policies, propose, approve, execute,
release, the audit log verified, and everything still there when the escrow is opened again."""

import json
import shutil
from pathlib import Path

from datastation.runtime.audit import verify_log
from harness import World

FRAUD = Path(__file__).parents[3] / "examples" / "fraud"


def test_fraud_example_end_to_end(tmp_path, config, backend):
    src = tmp_path / "fraud"
    shutil.copytree(FRAUD, src, ignore=shutil.ignore_patterns("__pycache__"))
    w = World(tmp_path / "w", src / "fraud.dsc", config)
    w.setup_from_file()
    w.apply_policy("bank1")
    w.apply_policy("bank2")
    row = w.propose("joint_model", "bank1")
    assert (row.status, row.source_agents) == ("pending", ("bank1", "bank2"))
    assert w.approve(row.id, "bank1").status == "pending"
    assert w.approve(row.id, "bank2").status == "approved"
    report = w.execute(row.id, "bank2")
    assert report.status == "executed", report.error
    assert [c.held for c in report.conditions] == [True, True]
    assert sorted(r for r, _ in report.releases) == ["bank1", "bank2"]
    for _, path in report.releases:
        assert json.loads(Path(path).read_bytes())  # the released model, in each recipient's outbox
    pem = w.escrow.ctx.escrow_public_pem
    assert verify_log(w.store, pem).ok
    w.close()

    again = World(tmp_path / "w", src / "fraud.dsc", config)  # a new process would see the same
    try:
        assert again.store.get_contract(row.id).status == "executed"
        assert sorted(r.recipient for r in again.store.releases(contract_id=row.id)) == ["bank1", "bank2"]
        kinds = again.audit_kinds()
        assert kinds[0] == "genesis" and kinds.count("release") == 2 and kinds.count("approval") == 2
        result = verify_log(again.store, pem)
        assert result.ok, result.describe()
    finally:
        again.close()
