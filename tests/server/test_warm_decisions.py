"""`dsc serve` verifies the approved contracts into the decision index at start-up
(`server.warm_decisions`, `Escrow.warm_decisions`): their execute requests are then decided from
memory; a contract whose records do not verify is not cached and its execute is still refused."""

import dataclasses
import sqlite3

import pytest
from datastation.runtime.escrow import EXECUTE, EscrowRefusal
from datastation.runtime.server.app import create_app
from fastapi.testclient import TestClient


def _approved(world, *names):
    ids = {}
    for name in names:
        row = world.propose(name, "bank1" if name != "audit_count" else "auditor")
        for agent in row.source_agents:
            world.approve(row.id, agent)
        ids[name] = row.id
    return ids


def _warmed_app(config):
    """The app's escrow once its start-up warming has finished (the app still open)."""
    client = TestClient(create_app(config))
    client.__enter__()
    warming = client.app.state.warming
    if warming is not None:
        warming[0].join(timeout=60)
        assert not warming[0].is_alive()
    return client, client.app.state.escrow


def test_approved_contracts_are_verified_at_start_up(world):
    ids = _approved(world, "joint_model", "pooled")
    pending = world.propose("audit_count", "auditor")
    world.close()
    client, escrow = _warmed_app(world.config)
    try:
        index = escrow.ctx.decisions
        assert set(index.entries) == set(ids.values())  # approved ones only, the pending one not
        assert pending.id not in index.entries
        assert index.stats["built"] == 2
        assert all(e.status == "approved" and e.missing() == [] for e in index.entries.values())
        # the first execute request after start-up is decided from the entry built at start-up
        rep = escrow.execute(escrow.sign_as("bank1", EXECUTE, {"contract": ids["joint_model"]}))
        assert rep.status == "executed"
        assert index.stats["built"] == 2
    finally:
        client.__exit__(None, None, None)


def _sql(world, stmt, params):
    db = sqlite3.connect(world.config.store.path)
    with db:
        db.execute(stmt, params)
    db.close()


def test_a_forged_approval_is_verified_at_start_up_and_does_not_count(world):
    ids = _approved(world, "joint_model", "pooled")
    other = world.store.approvals(ids["pooled"])[0].signature  # a valid signature, over another contract
    world.close()
    _sql(world, "UPDATE approvals SET signature = ? WHERE contract_id = ? AND agent = 'bank2'", (other, ids["joint_model"]))
    client, escrow = _warmed_app(world.config)
    try:
        index = escrow.ctx.decisions
        assert index.entries[ids["joint_model"]].missing() == ["bank2"]
        assert index.entries[ids["pooled"]].missing() == []
        with pytest.raises(EscrowRefusal) as exc:
            escrow.execute(escrow.sign_as("bank1", EXECUTE, {"contract": ids["joint_model"]}))
        assert exc.value.code == "awaiting_approval"
        assert escrow.store.releases(contract_id=ids["joint_model"]) == []
    finally:
        client.__exit__(None, None, None)


def test_a_tampered_contract_record_is_not_cached_and_still_refused(world):
    ids = _approved(world, "joint_model", "pooled")
    world.close()
    _sql(world, "UPDATE contracts SET recipients = ? WHERE id = ?", ('["bank2"]', ids["joint_model"]))
    client, escrow = _warmed_app(world.config)
    try:
        index = escrow.ctx.decisions
        assert ids["joint_model"] not in index.entries and ids["pooled"] in index.entries
        with pytest.raises(EscrowRefusal) as exc:
            escrow.execute(escrow.sign_as("bank2", EXECUTE, {"contract": ids["joint_model"]}))
        assert exc.value.code == "record_tampered"
        assert escrow.store.releases(contract_id=ids["joint_model"]) == []
    finally:
        client.__exit__(None, None, None)


def test_warming_can_be_turned_off(world):
    _approved(world, "joint_model")
    world.close()
    config = dataclasses.replace(world.config, server=dataclasses.replace(world.config.server, warm_decisions=False))
    client, escrow = _warmed_app(config)
    try:
        assert client.app.state.warming is None
        assert escrow.ctx.decisions.entries == {}
    finally:
        client.__exit__(None, None, None)
