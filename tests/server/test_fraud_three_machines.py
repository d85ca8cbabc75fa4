"""The fraud example across three "machines": bank1, bank2 and an outsider, each with its own home
and keyring, talking to one `dsc serve` over 127.0.0.1 through `datastation.client`. The model
is released to the two banks only; the outsider sees nothing of it."""

import json
from pathlib import Path

import pytest

from datastation.client import RemoteError

FRAUD = Path(__file__).parents[2] / "examples" / "fraud"


def refused(code: str, call, *args, **kw) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        call(*args, **kw)
    assert info.value.code == code, (info.value.code, str(info.value))
    return info.value


def test_fraud_model_reaches_only_the_banks(served):
    bank1, bank2, outsider = (served.agent(n) for n in ("bank1", "bank2", "outsider"))
    assert (bank1.home / ".config/datastation/keys/bank1.pem").is_file()
    assert not list(served.root.joinpath("escrow").rglob("*.pem"))[1:]  # the escrow's own key only

    for bank in (bank1, bank2):
        for part in ("train", "test"):
            row = bank.add_data(f"{bank.agent}.{part}", FRAUD / "data" / f"{bank.agent}_{part}.csv")
            assert row["owner"] == bank.agent and row["inferred_schema"]["is_fraud"] == "bool"
        assert bank.apply_policy(FRAUD / "fraud.dsc")["owner"] == bank.agent
    refused("not_owner", outsider.add_data, "bank1.extra", FRAUD / "data" / "bank1_test.csv")

    proposal = bank1.propose(FRAUD / "fraud.dsc", "joint_model")
    cid = proposal["contract"]["id"]
    assert proposal["contract"]["status"] == "pending"
    assert [c["id"] for c in bank2.pending()] == [cid]
    assert outsider.pending() == [] and outsider.contracts() == []
    refused("no_contract", outsider.status, cid)
    refused("no_contract", outsider.summary, cid)
    refused("no_contract", outsider.status, cid[:8])  # a prefix finds only the agent's own contracts

    shown = []
    assert bank2.approve(cid[:10], confirm=lambda s: shown.append(s) or True)["status"] == "pending"
    assert shown[0]["identity"] == cid and shown[0]["source_agents"] == ["bank1", "bank2"]
    refused("awaiting_approval", bank1.execute, cid)
    assert bank1.approve(cid)["status"] == "approved"
    refused("no_contract", outsider.execute, cid)  # an outsider: as for an unknown id

    report = bank1.execute(cid)
    assert report["status"] == "executed", report
    assert sorted(r["recipient"] for r in report["releases"]) == ["bank1", "bank2"]

    got = [bank.result(cid, bank.home / "model.json") for bank in (bank1, bank2)]
    assert got[0].read_bytes() == got[1].read_bytes()
    assert json.loads(got[0].read_text())["format"] == "datastation.linear_model/1"
    refused("no_contract", outsider.result, cid, outsider.home / "model.json")
    assert not (outsider.home / "model.json").exists()

    assert all(e["contract"] != cid for e in outsider.audit())
    assert not any(e["kind"] == "data_add" for e in outsider.audit())
    mine = bank2.audit(contract=cid)
    assert {"proposal", "approval", "release", "result_fetch"} <= {e["kind"] for e in mine}
    assert {d["key"] for d in bank2.data_list()} == {"bank2.train", "bank2.test"}
    assert outsider.data_list() == []
    assert bank2.status(cid)["status"] == "executed"

    code, out = served.dsc("audit", "verify", "--format", "json")
    assert code == 0 and json.loads(out)["ok"], out
