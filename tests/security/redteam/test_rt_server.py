"""`dsc serve` against a non-party agent, an attacker with network access and no registered key,
and an invitation holder who tries to be someone else."""

import base64
import json

import httpx
import pytest

from datastation.client import Client, RemoteError
from rt_support import SECRET_CSV, SECRET_SUM, SECRET_TEXT
from serving import Served

DSC = '''agent alice
agent mallory
data alice.t csv "t.csv"

contract my_total {
  by      mallory
  compute total(data = alice.t, column = "amount")
  to      alice
}
'''

SECRETS = (SECRET_TEXT, str(SECRET_SUM))


@pytest.fixture
def site(tmp_path):
    s = Served(tmp_path / "site")
    alice, mallory, eve = s.agent("alice"), s.agent("mallory"), s.agent("eve")
    (tmp_path / "s.dsc").write_text(DSC)
    (tmp_path / "t.csv").write_text(SECRET_CSV)
    alice.add_data("alice.t", tmp_path / "t.csv")
    cid = mallory.propose(tmp_path / "s.dsc", "my_total")["contract"]["id"]
    alice.approve(cid)
    alice.execute(cid)
    s.cid, s.alice, s.mallory, s.eve, s.tmp = cid, alice, mallory, eve, tmp_path
    yield s
    s.stop()


def _refused(fn, *codes):
    with pytest.raises(RemoteError) as exc:
        fn()
    assert exc.value.code in codes, (exc.value.code, str(exc.value))
    for s in SECRETS:
        assert s not in str(exc.value)
    return exc.value


def test_a_non_party_reads_nothing_of_a_contract(site):
    eve, cid = site.eve, site.cid
    for call in (lambda: eve.status(cid), lambda: eve.summary(cid), lambda: eve.audit(contract=cid),
                 lambda: eve.result(cid, site.tmp / "eve.out")):
        _refused(call, "no_contract")  # as for an id nothing has
    for prefix in (cid[:4], cid[:8], cid[:20]):
        _refused(lambda: eve.status(prefix), "no_contract")
    assert eve.contracts() == [] and eve.pending() == [] and eve.data_list() == []
    entries = eve.audit(limit=1000)
    # eve reads her own refusals (entries of no contract: the id in them is what she sent), and
    # nothing of the contract's own history
    assert all(e["contract"] is None for e in entries)
    others = [e for e in entries if not (e["kind"] == "refusal" and e["actor"] == "eve")]
    assert cid not in json.dumps(others) and "alice.t" not in json.dumps(entries), entries


def test_a_non_party_cannot_reach_other_data_through_audit_paging(site):
    seen = []
    for after in (0, 1, 5, 10, 10**6, -1):
        try:
            seen.append(json.dumps(site.eve.audit(after=after, limit=1000)))
        except RemoteError as exc:
            seen.append(str(exc))
    text = "\n".join(seen)
    assert site.cid not in text and "alice.t" not in text


def test_an_attacker_without_a_key_gets_nothing(site):
    url, cid = site.url, site.cid
    env = {"action": "read.status", "params": {"contract": cid}, "agent": "alice",
           "escrow": Client(url, "alice", keyring=site.tmp / "nokeys").escrow_id, "nonce": "00" * 16,
           "timestamp": __import__("time").time()}
    bodies = []
    for route in ("/v1/contracts/status", "/v1/contracts/summary", "/v1/audit/entries", "/v1/results/fetch",
                  "/v1/data/list", "/v1/contracts/list"):
        for body in ({"envelope": env, "signature": base64.b64encode(b"\0" * 64).decode()},
                     {"envelope": env, "signature": ""}, {"envelope": env}, {}, []):
            r = httpx.post(url + route, json=body)
            assert r.status_code in (401, 403, 404, 422), (route, r.status_code, r.text)
            bodies.append(r.text)
    for path in ("/v1/escrow", "/openapi.json", "/docs", "/redoc", "/review", "/v1/results/" + cid,
                 "/../escrow/escrow.db", "/v1/data/upload", "/%2e%2e/escrow_key.pem"):
        bodies.append(httpx.get(url + path).text)
    r = httpx.post(url + "/v1/data/upload", content=SECRET_CSV.encode(),
                   headers={"X-DSC-Request": base64.urlsafe_b64encode(json.dumps({"envelope": env}).encode()).decode()})
    assert r.status_code in (401, 422), r.text
    text = "\n".join(bodies)
    for s in SECRETS + ("BEGIN PRIVATE", "Traceback", "sqlite", str(site.root)):
        assert s not in text, s


def test_an_invitation_registers_only_its_own_name_once(site):
    token = site.invite("bob")
    thief = Client(site.url, "alice2", keyring=site.tmp / "thief")
    _refused(lambda: thief.register(token, no_passphrase=True), "bad_invite")
    taker = Client(site.url, "alice", keyring=site.tmp / "taker")  # an existing party's name
    _refused(lambda: taker.register(token, no_passphrase=True), "bad_invite", "agent_exists")
    bob = Client(site.url, "bob", keyring=site.tmp / "bob")
    bob.register(token, no_passphrase=True)
    bob2 = Client(site.url, "bob", keyring=site.tmp / "bob2")
    _refused(lambda: bob2.register(token, no_passphrase=True), "invite_used", "agent_exists")
    # the registered key stays bob's own: the second key cannot act as bob
    _refused(lambda: bob2.contracts(), "bad_signature", "unbound_key", "unknown_agent")


def test_a_second_invitation_for_a_registered_agent_does_not_replace_its_key(site):
    """The operator mistakenly invites `alice` again; whoever gets the token must not become alice."""
    try:
        token = site.invite("alice")
    except AssertionError:
        return  # refused by `dsc invite`: fine
    thief = Client(site.url, "alice", keyring=site.tmp / "thief2")
    _refused(lambda: thief.register(token, no_passphrase=True), "agent_exists", "bad_invite", "invite_used")
    _refused(lambda: thief.result(site.cid, site.tmp / "stolen"), "bad_signature", "unbound_key", "unknown_agent")


def test_a_refused_proposal_quotes_no_file_of_the_escrow_machine(site):
    """A proposal names data paths on the escrow's machine; the escrow's check must not read them."""
    hostile = DSC.replace('"t.csv"', f'"{site.root}/escrow/escrow.db"') + '''
data mallory.k csv "/etc/passwd"
contract bad {
  by mallory
  compute mean(data = alice.t, column = "no_such_column")
  to mallory
}
'''
    (site.tmp / "h.dsc").write_text(hostile)
    from datastation.runtime.escrow import make_bundle, propose_params
    from datastation.runtime.keyring import Keyring
    from datastation.runtime.keys import make_request

    bundle = make_bundle(site.tmp / "h.dsc")  # the client's own check is skipped: straight to the escrow
    key = Keyring(site.root / "homes" / "mallory" / ".config" / "datastation" / "keys").load("mallory")
    req = make_request("mallory", key, "contract.propose", propose_params(bundle, "bad"), escrow=site.mallory.escrow_id)
    r = httpx.post(site.url + "/v1/contracts/propose", content=req.to_json())
    assert r.status_code in (200, 401, 422), r.text  # accepted or refused: either way, no file quoted
    text = r.text
    for s in ("root:x:0:0", "SQLite format", *SECRETS):
        assert s not in text, text


def test_a_recipient_cannot_fetch_another_contracts_result_by_prefix(site):
    """alice receives my_total; mallory proposes another contract to itself; alice tries its prefix."""
    _refused(lambda: site.mallory.result(site.cid[:8], site.tmp / "m.out"), "not_recipient", "no_contract")
