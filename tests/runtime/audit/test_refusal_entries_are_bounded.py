"""A refused request is logged (a `refusal` entry) with what it sent, each value at most
`MAX_LOGGED_TEXT` characters: a request carrying megabytes must not grow the log (and every
reader's work) by them (red team session 10: a 4 MB key refused was logged twice, in the
payload and in the reason)."""

from datastation.runtime.escrow import DATA_REMOVE, EscrowRefusal
from datastation.runtime.escrow.actions import READ_STATUS
from datastation.runtime.escrow.context import MAX_LOGGED_TEXT
from harness import World

import pytest


@pytest.fixture
def w(tmp_path):
    world = World(tmp_path)
    world.agent("alice")
    yield world
    world.close()


def refused_entry(w, call):
    with pytest.raises(EscrowRefusal):
        call()
    entry = list(w.store.audit_entries())[-1]
    assert entry.kind == "refusal"
    return entry


@pytest.mark.parametrize("key", ["alice." + "x" * 400_000, ["alice.t"] * 50_000, {"k": "v" * 300_000}])
def test_a_refused_request_of_megabytes_is_logged_in_a_few_kilobytes(w, key):
    e = w.escrow
    entry = refused_entry(w, lambda: e.remove_data(e.sign_as("alice", DATA_REMOVE, {"key": key})))
    text = str(entry.payload)
    assert len(text) < 4 * MAX_LOGGED_TEXT, len(text)
    assert "characters)" in text  # says how much was sent


def test_a_long_contract_reference_is_cut_in_the_entry(w):
    e = w.escrow
    entry = refused_entry(w, lambda: e.status_for(e.sign_as("alice", READ_STATUS, {"contract": "c" * 100_000})))
    assert entry.contract is None  # no contract's entry: alice is party to none
    assert "characters)" in entry.payload["contract"] and len(str(entry.payload)) < 4 * MAX_LOGGED_TEXT


def test_a_short_refusal_is_logged_as_sent(w):
    e = w.escrow
    entry = refused_entry(w, lambda: e.remove_data(e.sign_as("alice", DATA_REMOVE, {"key": "alice.none"})))
    assert entry.payload["key"] == "alice.none" and "characters)" not in entry.payload["reason"]
