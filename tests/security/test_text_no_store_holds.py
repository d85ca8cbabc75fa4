"""A signed request carrying text no database column can hold (a NUL character, which PostgreSQL
refuses in text, or an unpaired surrogate, which no UTF-8 encodes) is refused alike on both
backends, with a code, nothing written and the escrow usable after: in its agent or nonce (or in
a registration) it is `malformed`, before the store is touched and unaudited; in a parameter the
action would store or look up, `bad_request`, audited as any refusal of an authenticated request.
Before (red team session 13): a nonce, a rejection reason, a display name or a contract reference
with a NUL, or an agent name with a surrogate, reached the store and got a store error (over HTTP
503 "try again", which could never succeed) on PostgreSQL, and on SQLite some were stored."""

import pytest

from datastation.runtime.config import config_from_dict
from datastation.runtime.escrow import APPROVE, EXECUTE, PROPOSE, REJECT, EscrowRefusal, make_bundle, propose_params
from datastation.runtime.escrow.actions import READ_STATUS, REGISTER
from datastation.runtime.keys import SignedRequest, generate_key, make_request, public_pem, sign
from harness import World
from pg_support import backend, postgres_url, store_section  # noqa: F401 - fixtures

SCENARIO = 'agent alice\nagent bob\ndata alice.t csv "a.csv"\ncontract c { by bob compute rows(alice.t) to bob }\n'


@pytest.fixture
def world(tmp_path, backend, request):  # noqa: F811 - `backend` is the fixture
    config = config_from_dict({"store": store_section(request, backend)}, tmp_path)
    w = World(tmp_path / "w", config=config)
    w.agent("alice", "bob")
    w.data("alice.t", b"x\n1\n")
    f = tmp_path / "c.dsc"
    f.write_text(SCENARIO)
    e = w.escrow
    w.cid = e.propose(e.sign_as("bob", PROPOSE, propose_params(make_bundle(f), "c"))).row.id
    yield w
    w.close()


def traces(w) -> tuple:
    s = w.store
    return len(list(s.audit_entries())), len(s.list_agents()), len(s.approvals(w.cid))


def signed_raw(w, agent: str, key, action: str, params: dict, nonce: str) -> SignedRequest:
    """A request signed by `key` with any text in it (a NUL is escaped by canonical JSON)."""
    from datastation.runtime.keys import canonical_json
    import time

    env = {"action": action, "params": params, "agent": agent, "escrow": w.escrow.ctx.escrow_id,
           "nonce": nonce, "timestamp": time.time()}
    try:
        return SignedRequest(env, sign(key, canonical_json(env)))
    except UnicodeEncodeError:  # a surrogate: no key signs it, but anyone can send it
        return SignedRequest(env, "A" * 86 + "==")


def refused(w, fn, code: str = "malformed") -> None:
    """`fn()` is refused with `code`; nothing is written but, for an authenticated request, the
    audited refusal (an entry about its actor)."""
    entries, agents, approvals = traces(w)
    with pytest.raises(EscrowRefusal) as err:
        fn()
    assert err.value.code == code, (err.value.code, str(err.value))
    audited = 0 if code == "malformed" else 1
    assert traces(w) == (entries + audited, agents, approvals)
    if audited:
        last = list(w.store.audit_entries())[-1]
        assert (last.kind, last.contract, last.payload["code"]) == ("refusal", None, code)


refused_malformed = refused


def test_a_nul_in_the_nonce_is_malformed(world):
    e = world.escrow
    key = e._key("alice", None)
    req = signed_raw(world, "alice", key, APPROVE, e.approval_params("alice", world.cid), "abcdefgh\x00xyz")
    refused_malformed(world, lambda: e.approve(req))
    assert e.approve(e.sign_as("alice", APPROVE, e.approval_params("alice", world.cid))).status == "approved"


def test_a_nul_in_a_rejection_reason_is_a_bad_request(world):
    e = world.escrow
    req = e.sign_as("alice", REJECT, {"contract": world.cid, "reason": "no\x00thanks"})
    refused(world, lambda: e.reject(req), "bad_request")
    assert e.reject(e.sign_as("alice", REJECT, {"contract": world.cid, "reason": "no thanks"})).status == "rejected"


@pytest.mark.parametrize("agent", ["al\x00ice", "\ud800", "alice\udfff"])
def test_an_agent_name_no_store_holds_is_malformed(world, agent):
    e = world.escrow
    req = signed_raw(world, agent, generate_key(), APPROVE, {"contract": world.cid, "signature": "x"}, "n" * 16)
    refused_malformed(world, lambda: e.approve(req))


def test_a_surrogate_in_the_params_is_malformed(world):
    e = world.escrow
    req = signed_raw(world, "alice", e._key("alice", None), REJECT, {"contract": world.cid, "reason": "\udc80"},
                     "n" * 16)
    refused_malformed(world, lambda: e.reject(req))


def test_a_registration_with_a_nul_in_its_display_name_is_malformed(world):
    e = world.escrow
    token, _ = e.invite("carol", 600)
    key = generate_key()
    req = make_request("carol", key, REGISTER, {"token": token, "public_key": public_pem(key), "display": "C\x00"},
                       escrow=e.ctx.escrow_id)
    refused_malformed(world, lambda: e.register_invited(req))
    req = make_request("carol", key, REGISTER, {"token": token, "public_key": public_pem(key), "display": "Carol"},
                       escrow=e.ctx.escrow_id)
    assert e.register_invited(req).name == "carol"  # the invitation was not spent


@pytest.mark.parametrize("ref", ["\x00", "ab\x00", None])
def test_a_contract_reference_with_a_nul_is_a_bad_request_whoever_asks(world, ref):
    e = world.escrow
    ref = world.cid[:12] + "\x00" if ref is None else ref
    for agent in ("alice", "bob"):  # a party of the contract, and (bob proposed it) another party
        refused(world, lambda: e.status_for(e.sign_as(agent, READ_STATUS, {"contract": ref})), "bad_request")
        refused(world, lambda: e.execute(e.sign_as(agent, EXECUTE, {"contract": ref})), "bad_request")
    refused(world, lambda: e.approve(e.sign_as("alice", APPROVE, {"contract": ref, "signature": "x"})),
            "bad_request")


def test_a_bundle_with_a_nul_in_a_comment_is_stored_as_written_on_both_backends(world, tmp_path):
    # a bundle is stored as JSON text (the NUL escaped), so both backends keep it, byte for byte
    e = world.escrow
    f = tmp_path / "d.dsc"
    f.write_text(SCENARIO + "# a comment \x00\ncontract d { by bob compute rows(alice.t) to alice }\n")
    row = e.propose(e.sign_as("bob", PROPOSE, propose_params(make_bundle(f), "d"))).row
    assert "\x00" in world.store.get_contract(row.id).meta["bundle"]["source"]


def test_an_unpaired_surrogate_in_a_function_s_app_state_is_its_failure_not_an_escrow_stop(tmp_path, backend,
                                                                                          request):
    """A function storing text the store cannot keep fails as any bad app state does (its report
    says why, nothing is released); before, the store refused it at the commit, the run ended as
    if the operator had stopped the escrow, and over HTTP the executor was told its request was bad."""
    import shutil

    from datastation.runtime.audit import verify_log
    from harness import FIXTURES

    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    (src / "functions.py").write_text((src / "functions.py").read_text() + '''

def remember(train: list, label: str) -> dict:
    from datastation.runtime.app_api import store_state
    store_state("last", b"caf\\xe9".decode("utf-8", errors="surrogateescape"))
    return {"ok": 1}
''')
    dsc = src / "bank.dsc"
    dsc.write_text(dsc.read_text() + 'contract st { by bank1 compute remember(train = [bank1.train], '
                                     'label = "x") to bank1 }\n')
    w = World(tmp_path / "w", dsc, config=config_from_dict({"store": store_section(request, backend)}, tmp_path))
    try:
        w.setup_from_file()
        row = w.propose("st", "bank1")
        w.approve(row.id, "bank1")
        report = w.execute(row.id, "bank1")
        assert report.releases == [] and "app state" in (report.error or ""), report.error
        assert [e.kind for e in w.store.audit_entries()][-1] != "refusal"
        assert verify_log(w.store, w.escrow.ctx.escrow_public_pem).ok
    finally:
        w.close()
