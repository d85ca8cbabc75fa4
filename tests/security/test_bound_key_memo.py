"""The escrow remembers which key the log binds to each agent (`audit.bound_agent_key`), so that a
request does not look the `agent_created` entry up again. The memo must never outlive what it
was derived from: after a request of an agent was accepted (memo filled), a key written into the
agents table by hand, a newer signed entry binding another key, or an entry rewritten in place
is refused at the very next request, exactly as without the memo."""

import sqlite3

import pytest

from datastation.runtime.audit import public_key_sha256
from datastation.runtime.escrow import REVOKE
from datastation.runtime.escrow.context import Unauthenticated, authenticate
from datastation.runtime.keys import canonical_json, fingerprint, make_request, sign
from harness import World


@pytest.fixture
def w(tmp_path):
    world = World(tmp_path)
    world.agent("bank1", "mallory")
    yield world
    world.close()


def _auth(w, agent: str, key) -> str:
    """Authenticate a request of `agent` signed with `key` (in a transaction, as every action)."""
    req = make_request(agent, key, REVOKE, {"contract": "x"}, escrow=w.escrow.ctx.escrow_id)
    with w.store.transaction():
        return authenticate(w.escrow.ctx, req, REVOKE)


def _refused(w, agent: str, key) -> str:
    with pytest.raises(Unauthenticated) as info:
        _auth(w, agent, key)
    return info.value.code


def _sql(w, sql: str, params=()):
    db = sqlite3.connect(w.store.path, isolation_level=None)
    try:
        db.execute(sql, params)
    finally:
        db.close()


def test_key_written_into_the_agents_table_after_a_request_signs_nothing(w):
    bank1, mallory = w.escrow._key("bank1"), w.escrow._key("mallory")
    assert _auth(w, "bank1", bank1) == "bank1"  # the memo now holds bank1's bound key
    _sql(w, "UPDATE agents SET public_key = ? WHERE name = 'bank1'", (w.store.get_agent("mallory").public_key,))
    assert _refused(w, "bank1", mallory) == "unbound_key"
    assert _refused(w, "bank1", bank1) == "bad_signature"


def test_a_newer_entry_binding_another_key_is_seen_at_once(w):
    bank1, mallory = w.escrow._key("bank1"), w.escrow._key("mallory")
    assert _auth(w, "bank1", bank1) == "bank1"
    other = w.store.get_agent("mallory").public_key
    # The escrow records another key for bank1 (as a key change would); the row keeps the old one.
    w.escrow.ctx.audit.append("agent_created", actor="bank1", payload={
        "agent": "bank1", "display": "bank1", "key": fingerprint(other), "public_key_sha256": public_key_sha256(other)})
    assert _refused(w, "bank1", bank1) == "unbound_key"
    assert _refused(w, "bank1", mallory) == "bad_signature"


def test_entry_rewritten_in_place_binds_nothing(w):
    bank1, mallory = w.escrow._key("bank1"), w.escrow._key("mallory")
    assert _auth(w, "bank1", bank1) == "bank1"
    pem = w.store.get_agent("mallory").public_key
    entry = w.store.audit_find(("agent_created",), field="agent", value="bank1")[-1]
    payload = {**entry.payload, "key": fingerprint(pem), "public_key_sha256": public_key_sha256(pem)}
    # Rewritten with a signature by another key: its seq stays, its text and hash change.
    forged = sign(mallory, b"anything")
    _sql(w, "UPDATE audit SET payload = ?, hash = ?, signature = ? WHERE seq = ?",
         (canonical_json(payload).decode(), "f" * 64, forged, entry.seq))
    _sql(w, "UPDATE agents SET public_key = ? WHERE name = 'bank1'", (pem,))
    assert _refused(w, "bank1", mallory) == "unbound_key"


def test_an_agent_removed_from_the_table_is_unknown_at_once(w):
    bank1 = w.escrow._key("bank1")
    assert _auth(w, "bank1", bank1) == "bank1"
    _sql(w, "DELETE FROM agents WHERE name = 'bank1'")
    assert _refused(w, "bank1", bank1) == "unknown_agent"
