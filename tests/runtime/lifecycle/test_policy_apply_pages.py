"""`policy.apply` over many open contracts: the policy is registered, and applied to the owner's
first page of contracts, in the request's transaction; the rest a page per transaction, so the
store's write lock (every other party's action) is let go between pages. Before, 100,000 pending
contracts were one transaction of 22 s."""

import contextlib

import pytest

from datastation.runtime.escrow import lifecycle
from harness import World

N = 7
DSC = "agent owner\nagent lab\ndata owner.t csv \"o.csv\"\n" + "".join(
    f"contract c{i} {{\n  by      lab\n  compute rows(owner.t)\n  to      lab\n}}\n" for i in range(N))
ALLOW = "policy owner {\n  allow rows on owner.*\n}\n"
DENY = "policy owner {\n  deny rows on owner.*\n}\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def w(request, tmp_path):
    """The owner's N open contracts, on SQLite and on a fresh PostgreSQL schema."""
    schema = None
    config = None
    if request.param == "postgresql":
        from pg_support import Schema, server_url

        from datastation.runtime.config import config_from_dict

        schema = Schema(server_url())
        config = config_from_dict({"store": {"url": schema.url}}, tmp_path)
    path = tmp_path / "s.dsc"
    path.write_text(DSC)
    world = World(tmp_path, path, config=config)
    try:
        world.agent("owner", "lab")
        world.data("owner.t", b"x\n1\n")
        world.ids = [world.propose(f"c{i}", "lab").id for i in range(N)]
        yield world
    finally:
        world.close()
        if schema is not None:
            schema.drop()


def policy(w, text: str, name: str):
    path = w.dsc.parent / name
    path.write_text(text)
    return path


def outermost_transactions(w, monkeypatch, before=None):
    """Count the store's outermost transactions; `before(n)` runs before the n-th begins."""
    store, real, count = w.store, w.store.transaction, []

    @contextlib.contextmanager
    def counted():
        if not store.in_transaction:
            count.append(1)
            if before is not None:
                before(len(count))
        with real():
            yield

    monkeypatch.setattr(store, "transaction", counted)
    return count


def decided(w) -> dict[str, str]:
    return {cid: w.store.get_contract(cid).status for cid in w.ids}


def test_a_policy_is_applied_a_page_per_transaction_with_the_same_decisions(w, monkeypatch):
    monkeypatch.setattr(lifecycle, "POLICY_PAGE", 2)
    count = outermost_transactions(w, monkeypatch)
    applied = w.apply_policy("owner", policy(w, ALLOW, "allow.dsc"))
    assert sorted(cid for cid, _, d in applied.decisions if d.effect == "allow") == sorted(w.ids)
    assert set(decided(w).values()) == {"approved"} and not applied.superseded
    assert len(count) >= N // 2 + 1  # the request's own, then a page (of 2) each
    # the same policy again: every decision recorded already is kept, none twice
    again = w.apply_policy("owner", policy(w, ALLOW, "allow.dsc"))
    assert again.decisions == [] and set(decided(w).values()) == {"approved"}
    assert all(len([a for a in w.store.approvals(cid) if a.agent == "owner"]) == 1 for cid in w.ids)


def test_a_newer_policy_applied_between_pages_decides_the_rest(w, monkeypatch):
    monkeypatch.setattr(lifecycle, "POLICY_PAGE", 2)
    allow, deny = policy(w, ALLOW, "allow.dsc"), policy(w, DENY, "deny.dsc")
    hook = {"on": True}

    def between(n):
        if n == 2 and hook.pop("on", False):  # after the request's transaction: another request
            w.apply_policy("owner", deny)

    outermost_transactions(w, monkeypatch, between)
    applied = w.apply_policy("owner", allow)
    assert applied.superseded
    statuses = decided(w)
    first_page = w.ids[:2]
    # the first page was approved by `allow`; `deny` then decided every open contract, those too
    assert [statuses[c] for c in w.ids] == ["denied"] * N
    assert {cid for cid, _, d in applied.decisions} == set(first_page)


def test_a_page_refused_keeps_the_policy_and_the_pages_before(w, monkeypatch):
    monkeypatch.setattr(lifecycle, "POLICY_PAGE", 2)
    real, calls = lifecycle._apply_policy, []

    def failing(ctx, row, *args):
        calls.append(row.id)
        if len(calls) == 4:  # the second page
            raise lifecycle.EscrowRefusal("record_tampered", "a row that does not hold together")
        return real(ctx, row, *args)

    monkeypatch.setattr(lifecycle, "_apply_policy", failing)
    entries = w.store.audit_count()
    with pytest.raises(lifecycle.EscrowRefusal) as exc:
        w.apply_policy("owner", policy(w, ALLOW, "allow.dsc"))
    assert exc.value.code == "record_tampered" and "apply it again" in str(exc.value)
    assert w.store.get_policy("owner") is not None
    assert [decided(w)[c] for c in w.ids[:4]] == ["approved", "approved", "pending", "pending"]
    kinds = [e.kind for e in w.store.audit_entries(after_seq=0)][entries:]
    assert kinds == ["policy_apply", "policy_decision", "policy_decision", "refusal"]
    monkeypatch.setattr(lifecycle, "_apply_policy", real)
    w.apply_policy("owner", policy(w, ALLOW, "allow.dsc"))  # again: the rest
    assert set(decided(w).values()) == {"approved"}


def test_an_approval_of_a_replaced_policy_still_shows_but_does_not_count(w, monkeypatch):
    """Red team (session 12): the owner replaces a policy that approved its contracts by one that
    allows none of them, and the apply stops after its first page: the contracts not reached
    still show the old policy's approval, but it does not count (the escrow counts an approval
    made by a policy only while the owner's registered policy allows the contract)."""
    w.apply_policy("owner", policy(w, ALLOW, "allow.dsc"))
    assert set(decided(w).values()) == {"approved"}
    monkeypatch.setattr(lifecycle, "POLICY_PAGE", 2)
    real, pages = lifecycle._apply_policy_page, []

    def stops_after_the_first(*args):
        pages.append(1)
        if len(pages) == 2:
            raise lifecycle.EscrowRefusal("record_tampered", "the escrow stopped here")
        return real(*args)

    monkeypatch.setattr(lifecycle, "_apply_policy_page", stops_after_the_first)
    with pytest.raises(lifecycle.EscrowRefusal):
        w.apply_policy("owner", policy(w, "policy owner {\n  allow schema on owner.*\n}\n", "other.dsc"))
    statuses = decided(w)
    assert [statuses[c] for c in w.ids[:2]] == ["pending", "pending"]  # the first page: withdrawn
    stale = w.ids[-1]
    assert statuses[stale] == "approved" and [a.via_policy for a in w.store.approvals(stale)]
    with pytest.raises(lifecycle.EscrowRefusal) as exc:
        w.execute(stale, "lab")
    assert exc.value.code == "awaiting_approval"
    assert w.store.executions(stale) == []
