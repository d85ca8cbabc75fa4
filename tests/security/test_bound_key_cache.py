"""The escrow remembers each agent's key binding (verified once from its signed `agent_created`
entry, `audit.bound_agent_key`) instead of looking it up on every request: a key swapped into the
agents table by hand after the binding was remembered still signs nothing."""

from __future__ import annotations

import sqlite3

import pytest


from datastation.runtime.escrow import EXECUTE, EscrowRefusal
from datastation.runtime.keys import generate_key, make_request, public_pem


def _request(world, key, agent):
    return make_request(agent, key, EXECUTE, {"contract": "0" * 64},
                        escrow=world.escrow.ctx.escrow_id)


def test_key_swapped_into_the_agents_table_after_caching_signs_nothing(world):
    e = world.escrow
    with pytest.raises(EscrowRefusal) as first:  # a genuine request: the binding is remembered
        e.execute(e.sign_as("bank1", EXECUTE, {"contract": "0" * 64}))
    assert first.value.code == "no_contract"
    thief = generate_key()
    db = sqlite3.connect(world.config.store.path)
    with db:
        db.execute("UPDATE agents SET public_key = ? WHERE name = 'bank1'", (public_pem(thief),))
    db.close()
    with pytest.raises(EscrowRefusal) as exc:
        e.execute(_request(world, thief, "bank1"))
    assert exc.value.code == "unbound_key"
