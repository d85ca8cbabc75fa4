"""Batches over HTTP (`/v1/contracts/propose_many`, `/v1/contracts/approve_many`) through the
Python client: several contracts per signed request, all or nothing, only for the agent that
may act on each; and a weak (small-order) key cannot register."""

import base64
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from datastation.client import RemoteError
from datastation.runtime.keys import public_pem
from serving import Served

SCENARIO = """agent alice
agent bob
agent carol
data bob.t csv "b.csv"
data carol.t csv "c.csv"
contract one {
  by alice
  compute rows(bob.t)
  to alice
}
contract two {
  by alice
  compute rows(bob.t)
  to alice, carol
}
contract three {
  by alice
  compute rows(carol.t)
  to alice
}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    served = Served(root / "site")
    (root / "b.csv").write_text("x\n1\n2\n")
    (root / "c.csv").write_text("x\n3\n")
    (root / "s.dsc").write_text(SCENARIO)
    clients = {n: served.agent(n) for n in ("alice", "bob", "carol")}
    clients["bob"].add_data("bob.t", root / "b.csv")
    clients["carol"].add_data("carol.t", root / "c.csv")
    yield served, clients, root / "s.dsc"
    served.stop()


def test_propose_many_then_approve_many(site):
    served, c, dsc = site
    got = c["alice"].propose_many(dsc)  # every contract alice proposes in the file
    assert [p["contract"]["name"] for p in got] == ["one", "two", "three"]
    ids = {p["contract"]["name"]: p["contract"]["id"] for p in got}
    # carol is a source of `three` only, party to no other: a batch naming `one` is refused whole,
    # as if `one` did not exist
    with pytest.raises(RemoteError) as exc:
        c["carol"].approve_many([ids["three"], ids["one"]])
    assert exc.value.code == "no_contract" and exc.value.status == 404
    assert c["alice"].status(ids["three"])["approvals"] == []
    rows = c["bob"].approve_many([ids["one"], ids["two"][:12]])  # a prefix: read (summary) before it is signed
    assert [(r["name"], r["status"]) for r in rows] == [("one", "approved"), ("two", "approved")]
    assert c["alice"].execute(ids["two"])["status"] == "executed"
    assert served.dsc("audit", "verify")[0] == 0


def test_a_batch_from_another_agent_cannot_approve_for_the_owner(site):
    served, c, dsc = site
    with pytest.raises(RemoteError) as exc:
        c["alice"].propose_many(dsc, ["one"])  # already proposed above, still open or done
    assert exc.value.code in ("already_proposed", "already_executed")
    three = [x for x in c["alice"].contracts() if x["name"] == "three"][0]["id"]
    # alice signs carol's approval with her own key: not carol's signature, whatever the request says
    with pytest.raises(RemoteError) as exc:
        c["alice"].approve_many([three])
    assert exc.value.code == "not_source_agent"
    assert c["carol"].status(three)["status"] == "pending"


def test_a_weak_key_cannot_register(site):
    served, c, _ = site
    token = served.invite("mallory")
    weak = public_pem(Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31)))
    env = {"action": "agent.register", "agent": "mallory", "escrow": c["alice"].escrow_id, "nonce": "n" * 16,
           "timestamp": time.time(), "params": {"token": token, "public_key": weak, "display": ""}}
    # the signature that holds for every message under that key (OpenSSL verifies it)
    body = json.dumps({"envelope": env, "signature": base64.b64encode(bytes([1]) + bytes(63)).decode()})
    resp = httpx.post(served.url + "/v1/agents/register", content=body, headers={"Content-Type": "application/json"},
                      timeout=30)
    assert resp.status_code == 422 and resp.json()["code"] == "bad_key", resp.text
    assert served.dsc("agent", "list", "--format", "json")[1].count("mallory") == 0


def test_the_cli_proposes_and_approves_several_against_the_server(site, tmp_path, dsc_in, monkeypatch):
    served, c, _ = site
    more = tmp_path / "more.dsc"
    more.write_text(SCENARIO.replace("contract one", "contract four").replace("contract two", "contract five"))
    keys = {n: c[n].home / ".config" / "datastation" / "keys" for n in ("alice", "bob")}

    def dsc(agent, *args):
        monkeypatch.setenv("DSC_KEYRING", str(keys[agent]))
        return dsc_in(tmp_path, *args, "--as", agent, "--escrow", served.url)

    r = dsc("alice", "propose", more, "four", "five", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [p["name"] for p in json.loads(r.stdout)] == ["four", "five"]
    r = dsc("bob", "approve", "four", "five", "--yes")
    assert r.returncode == 0, r.stderr
    assert "bob approved contract four" in r.stdout and "bob approved contract five" in r.stdout
    statuses = {x["name"]: x["status"] for x in c["alice"].contracts()}
    assert statuses["four"] == statuses["five"] == "approved"


@pytest.mark.parametrize("depth", [5_000, 50_000])
def test_json_nested_thousands_deep_is_refused_not_a_server_error(site, depth):
    served, c, _ = site
    nested = "[" * depth + "]" * depth
    body = ('{"envelope": {"action": "contract.approve_many", "agent": "bob", "escrow": "x", "nonce": "nnnnnnnnnn",'
            f' "timestamp": 1, "params": {{"approvals": {nested}}}}}, "signature": "AA=="}}')
    resp = httpx.post(served.url + "/v1/contracts/approve_many", content=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code < 500 and resp.json()["code"] == "malformed", resp.text
    assert c["bob"].contracts() is not None  # still serving
