"""Attacks on a served escrow over real HTTP (`dsc serve` on 127.0.0.1): every request must be
signed by the key of the agent it names, for this escrow, fresh and never replayed, within the
size limits; reads answer only what the agent is party to; invitations are one-time and expire.

Scenario: alice proposes `count_b` (runs on bob's data, result to alice: bob approves it) and
`count_a` (her own data); carol is registered but party to nothing.
"""

import time
from pathlib import Path

import httpx
import pytest

from datastation.client import Client, RemoteError
from datastation.runtime.keys import generate_key, make_request, public_pem
from serving import Served

SCENARIO = '''agent alice
agent bob
agent carol

data alice.t csv "a.csv"
data bob.t csv "b.csv"

contract count_b {
  by      alice
  compute rows(bob.t)
  to      alice
}

contract count_a {
  by      alice
  compute rows(alice.t)
  to      alice
}
'''
LIMITS = "  max_request_bytes: 65536\n  max_upload_bytes: 1048576\n"


class World:
    def __init__(self, root: Path):
        self.served = Served(root / "site", LIMITS)
        root.joinpath("a.csv").write_text("x,y\n1,2\n3,4\n")
        root.joinpath("b.csv").write_text("x,y\n5,6\n7,8\n9,10\n")
        self.dsc_file = root / "s.dsc"
        self.dsc_file.write_text(SCENARIO)
        self.alice, self.bob, self.carol = (self.served.agent(n) for n in ("alice", "bob", "carol"))
        self.alice.add_data("alice.t", root / "a.csv")
        self.bob.add_data("bob.t", root / "b.csv")
        self.count_b = self.alice.propose(self.dsc_file, "count_b")["contract"]["id"]
        self.count_a = self.alice.propose(self.dsc_file, "count_a")["contract"]["id"]
        self.bob.approve(self.count_b)
        assert self.alice.execute(self.count_b)["status"] == "executed"
        self.url = self.served.url
        self.escrow_id = self.alice.escrow_id

    def post(self, path: str, body: bytes | str, **kw) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers={"Content-Type": "application/json"}, timeout=30, **kw)

    def signed(self, client: Client, action: str, params: dict, **kw):
        return make_request(kw.pop("agent", client.agent), client._private_key(), action, params,
                            escrow=kw.pop("escrow", self.escrow_id), **kw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("served"))
    yield w
    w.served.stop()


def code_of(resp: httpx.Response) -> tuple[int, str]:
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    body = resp.json()
    assert set(body) == {"code", "message"} and body["message"], body
    return resp.status_code, body["code"]


def refused(code: str, call, *args, **kw) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        call(*args, **kw)
    assert info.value.code == code, (info.value.code, str(info.value))
    return info.value


# ------------------------------------------------------------------ authentication


def test_unsigned_requests_are_refused(world):
    for body in (b"", b"not json", b'{"envelope": {"action": "read.contracts"}}', b"[1, 2]"):
        assert code_of(world.post("/v1/contracts/list", body)) == (401, "unsigned")
    resp = httpx.post(world.url + "/v1/data/upload", content=b"x,y\n1,2\n", timeout=30)
    assert code_of(resp) == (401, "unsigned")


def test_wrongly_signed_requests_are_refused(world):
    req = world.signed(world.alice, "read.contracts", {})
    req.envelope["params"]["status"] = "executed"  # changed after signing
    assert code_of(world.post("/v1/contracts/list", req.to_json())) == (401, "bad_signature")
    garbage = world.signed(world.alice, "read.contracts", {}).envelope
    assert code_of(world.post("/v1/contracts/list", f'{{"envelope": {__import__("json").dumps(garbage)}, '
                                                     f'"signature": "bm90IGEgc2lnbmF0dXJl"}}')) == (401, "bad_signature")


def test_a_request_naming_an_agent_the_key_does_not_belong_to_is_refused(world):
    as_alice = world.signed(world.bob, "read.contracts", {}, agent="alice")  # bob's key, alice's name
    assert code_of(world.post("/v1/contracts/list", as_alice.to_json())) == (401, "bad_signature")
    approve = world.signed(world.carol, "contract.reject", {"contract": world.count_a, "reason": "x"}, agent="alice")
    assert code_of(world.post("/v1/contracts/reject", approve.to_json())) == (401, "bad_signature")
    ghost = world.signed(world.carol, "read.contracts", {}, agent="mallory")
    assert code_of(world.post("/v1/contracts/list", ghost.to_json())) == (401, "unknown_agent")
    assert world.alice.status(world.count_a)["status"] == "pending"


def test_replayed_requests_are_refused(world):
    req = world.signed(world.alice, "read.status", {"contract": world.count_b}).to_json()
    assert world.post("/v1/contracts/status", req).status_code == 200
    assert code_of(world.post("/v1/contracts/status", req)) == (409, "replay")


def test_stale_requests_are_refused(world):
    for skew in (-3600, 3600):
        req = world.signed(world.alice, "read.contracts", {}, now=time.time() + skew)
        assert code_of(world.post("/v1/contracts/list", req.to_json())) == (401, "stale")


def test_requests_for_another_escrow_are_refused(world):
    req = world.signed(world.alice, "read.contracts", {}, escrow="escrow-" + "0" * 24)
    assert code_of(world.post("/v1/contracts/list", req.to_json())) == (401, "wrong_escrow")


def test_a_request_signed_for_another_action_is_refused(world):
    req = world.signed(world.alice, "read.status", {"contract": world.count_a})
    assert code_of(world.post("/v1/contracts/revoke", req.to_json())) == (401, "wrong_action")
    assert world.alice.status(world.count_a)["status"] == "pending"


# ------------------------------------------------------------------ sizes and uploads


def test_over_size_requests_are_refused(world):
    big = world.signed(world.alice, "read.contracts", {"pad": "x" * 70_000}).to_json()
    assert code_of(world.post("/v1/contracts/list", big)) == (413, "too_large")  # Content-Length
    chunks = (big[i:i + 8192].encode() for i in range(0, len(big), 8192))  # chunked: no length declared
    assert code_of(world.post("/v1/contracts/list", chunks)) == (413, "too_large")


def test_over_size_uploads_are_refused_before_the_body_is_read(world, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x\n" + b"1\n" * 600_000)  # 1.2 MB > 1 MiB
    refused("too_large", world.alice.add_data, "alice.big", big)
    assert "alice.big" not in {d["key"] for d in world.alice.data_list()}


def test_an_upload_must_be_the_content_it_signed(world, tmp_path):
    import base64
    import hashlib

    good = b"x,y\n1,2\n"
    req = world.signed(world.alice, "data.add", {"key": "alice.u", "format": "csv",
                                                  "content_hash": hashlib.sha256(good).hexdigest(),
                                                  "size": len(good), "declared_schema": None, "replace": False})
    header = base64.urlsafe_b64encode(req.to_json().encode()).decode().rstrip("=")
    resp = httpx.post(world.url + "/v1/data/upload", content=b"x,y\n6,6\n", headers={"X-DSC-Request": header})
    assert code_of(resp) == (422, "content_mismatch")
    bad = world.signed(world.bob, "data.add", dict(req.params), agent="alice")  # bob's key, alice's name
    header = base64.urlsafe_b64encode(bad.to_json().encode()).decode().rstrip("=")
    resp = httpx.post(world.url + "/v1/data/upload", content=good, headers={"X-DSC-Request": header})
    assert code_of(resp) == (401, "bad_signature")
    assert "alice.u" not in {d["key"] for d in world.alice.data_list()}


# ------------------------------------------------------------------ what an agent may read


def test_an_outsider_reads_nothing_of_other_agents(world, tmp_path):
    carol = world.carol
    assert carol.contracts() == [] and carol.pending() == [] and carol.data_list() == []
    for cid in (world.count_a, world.count_b):
        refused("no_contract", carol.status, cid)
        refused("no_contract", carol.summary, cid)
        refused("no_contract", carol.audit, cid)
    refused("no_contract", carol.result, world.count_b, tmp_path / "r")
    seen = carol.audit()
    assert seen and all(e["contract"] is None for e in seen)
    assert {e["kind"] for e in seen} <= {"invite", "invite_used", "agent_created", "refusal"}
    assert all(e["actor"] in ("carol", None) for e in seen)


def test_a_data_owner_sees_its_contracts_but_not_the_result_it_does_not_receive(world, tmp_path):
    bob = world.bob
    assert [c["id"] for c in bob.contracts()] == [world.count_b]
    assert bob.status(world.count_b)["status"] == "executed"
    refused("not_recipient", bob.result, world.count_b, tmp_path / "r")
    refused("no_contract", bob.status, world.count_a)
    assert [d["key"] for d in bob.data_list()] == ["bob.t"]
    assert {e["contract"] for e in bob.audit()} - {None} == {world.count_b}
    assert not [e for e in bob.audit() if e["kind"] == "data_add" and e["payload"]["owner"] != "bob"]


def test_the_recipient_gets_the_result(world, tmp_path):
    out = world.alice.result(world.count_b[:8], tmp_path / "count.json")
    assert out.read_text().strip() == "3"
    assert [d["key"] for d in world.alice.data_list()] == ["alice.t"]


# ------------------------------------------------------------------ joining


def test_invite_tokens_are_one_time(world, tmp_path):
    token = world.served.invite("dave")
    dave = Client(world.url, "dave", keyring=tmp_path / "dave")
    assert dave.register(token, no_passphrase=True)["name"] == "dave"
    again = Client(world.url, "dave", keyring=tmp_path / "dave2")
    refused("invite_used", again.register, token, no_passphrase=True)
    code, _ = world.served.dsc("invite", "dave")
    assert code == 1  # dave is registered: no second invitation


def test_invite_tokens_expire(world, tmp_path):
    token = world.served.invite("frank", ttl=0.2)
    time.sleep(0.5)
    refused("invite_expired", Client(world.url, "frank", keyring=tmp_path / "f").register, token, no_passphrase=True)


def test_an_invitation_registers_only_its_agent_and_only_the_key_that_signs(world, tmp_path):
    token = world.served.invite("gina")
    refused("bad_invite", Client(world.url, "henry", keyring=tmp_path / "h").register, token, no_passphrase=True)
    key, other = generate_key(), generate_key()
    req = make_request("gina", key, "agent.register", {"token": token, "public_key": public_pem(other),
                                                       "display": ""}, escrow=world.escrow_id)
    assert code_of(world.post("/v1/agents/register", req.to_json())) == (401, "bad_signature")
    refused("bad_invite", Client(world.url, "gina", keyring=tmp_path / "g").register, "dsci_" + "A" * 43,
            no_passphrase=True)
    assert Client(world.url, "gina", keyring=tmp_path / "g2").register(token, no_passphrase=True)["name"] == "gina"


def test_text_no_store_holds_is_refused_with_a_code_not_try_again(world):
    # red team session 13: a NUL reached the store (503 "try again" on PostgreSQL, stored on SQLite)
    nonce = world.signed(world.alice, "read.contracts", {}, nonce="abcdefgh\x00xyz")
    assert code_of(world.post("/v1/contracts/list", nonce.to_json())) == (401, "malformed")
    ref = world.signed(world.alice, "read.status", {"contract": world.count_b[:12] + "\x00"})
    assert code_of(world.post("/v1/contracts/status", ref.to_json())) == (422, "bad_request")
    assert world.alice.status(world.count_b)["status"]  # the escrow answers on


def test_errors_are_json_with_a_code(world):
    assert code_of(httpx.get(world.url + "/v1/nothing-here")) == (404, "not_found")
    assert code_of(httpx.get(world.url + "/v1/contracts/list")) == (405, "method_not_allowed")


# ------------------------------------------------------------------ the signed log cannot be flooded


def _audit_count(world) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{world.served.root / 'escrow' / 'escrow.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    finally:
        db.close()


def test_unauthenticated_requests_do_not_grow_the_audit_log(world):
    """Anyone who reaches the server can send requests; only an agent's verified request may leave a
    trace in the signed log (else the log grows without limit). Refusals are counted, and the
    server's stderr reports them (rate-limited) without anything from the requests."""
    marker = "mallorymarker"
    before = _audit_count(world)
    outsider = generate_key()
    reg = {"token": "dsc-invite-" + marker, "public_key": public_pem(outsider), "display": marker}
    for i in range(60):
        forged = world.signed(world.alice, "read.contracts", {"note": marker})
        forged.envelope["params"]["note"] = marker + str(i)  # changed after signing
        assert code_of(world.post("/v1/contracts/list", forged.to_json()))[1] == "bad_signature"
        ghost = make_request(marker, outsider, "contract.execute", {"contract": world.count_a}, escrow=world.escrow_id)
        assert code_of(world.post("/v1/contracts/execute", ghost.to_json()))[1] == "unknown_agent"
        other = world.signed(world.alice, "contract.approve", {"contract": world.count_b, "signature": "x"},
                             escrow="escrow-" + "1" * 24)
        assert code_of(world.post("/v1/contracts/approve", other.to_json()))[1] == "wrong_escrow"
        bad_invite = make_request("mallory", outsider, "agent.register", reg, escrow=world.escrow_id)
        assert code_of(world.post("/v1/agents/register", bad_invite.to_json()))[1] == "bad_invite"
    assert _audit_count(world) == before
    # a registered agent's verified request that is refused is still audited
    refused("no_contract", world.carol.status, world.count_a)
    assert _audit_count(world) == before + 1
    log = world.served.log_text()
    assert "unauthenticated request(s) refused, not audited" in log
    assert marker not in log
