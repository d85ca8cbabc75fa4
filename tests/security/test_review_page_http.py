"""Attacker tests of the review page's routes (over HTTP, no browser): deny by default, every
view a verified signed read by one agent about one contract, everything escaped, a strict CSP."""

import json
import re
from pathlib import Path

import httpx
import pytest

from serving import Served

FRAUD = Path(__file__).parents[2] / "examples" / "fraud"
HOSTILE = '<img src=x onerror="alert(1)">'
FILE = "<i>fraud.dsc"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("review-sec")
    s = Served(root / "site")
    bank1, outsider = s.agent("bank1"), s.agent("outsider")
    bank2 = s.agent("bank2", register=False)
    bank2.register(s.invite("bank2"), display=HOSTILE, no_passphrase=True)  # each agent writes its display
    for bank in (bank1, bank2):
        for part in ("train", "test"):
            bank.add_data(f"{bank.agent}.{part}", FRAUD / "data" / f"{bank.agent}_{part}.csv")
    work = root / "work"
    work.mkdir()
    (work / "functions.py").write_text((FRAUD / "functions.py").read_text())
    (work / FILE).write_text((FRAUD / "fraud.dsc").read_text())  # the proposer names the file
    cid = bank1.propose(work / FILE, "joint_model")["contract"]["id"]
    yield s, bank1, bank2, outsider, cid
    s.stop()


def view(client, cid):
    reads = {"summary": ("read.summary", {"contract": cid}), "status": ("read.status", {"contract": cid}),
             "audit": ("read.audit", {"contract": cid, "after": 0, "limit": 1000}),
             "graph": ("read.graph", {"contract": cid})}
    return {n: json.loads(client.sign(a, p).to_json()) for n, (a, p) in reads.items()}


def test_the_page_holds_no_data_and_a_strict_csp(site):
    served, *_, cid = site
    r = httpx.get(served.url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and r.headers["x-content-type-options"] == "nosniff"
    assert cid[:12] not in r.text and "joint_model" not in r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)  # no inline script
    assert not re.search(r"<[^>]+\son[a-z]+=", r.text) and "style=" not in r.text
    js = httpx.get(served.url + "/review/static/review.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for bad in ("../app.py", "review.py", "%2e%2e%2fapp.py"):
        assert httpx.get(served.url + "/review/static/" + bad).status_code == 404


@pytest.mark.parametrize("body", [None, b"", b"{}", b"not json", b'{"contracts": {"envelope": {}, "signature": "x"}}'])
def test_unsigned_or_forged_list_is_refused(site, body):
    r = httpx.post(site[0].url + "/review/contracts", content=body)
    assert r.status_code == 401 and r.json()["code"] in ("unsigned", "malformed", "wrong_escrow")


def test_a_form_post_carries_no_authority(site):
    """What a cross-site form could send (urlencoded, no signature): refused, nothing shown."""
    served, *_, cid = site
    r = httpx.post(served.url + "/review/contract", data={"contract": cid, "agent": "bank2"})
    assert r.status_code == 401 and "joint_model" not in r.text
    assert "access-control-allow-origin" not in r.headers


def test_an_outsider_sees_nothing_of_the_contract(site):
    served, _, _, outsider, cid = site
    r = httpx.post(served.url + "/review/contract", json=view(outsider, cid))
    assert r.status_code == 404 and r.json()["code"] == "no_contract" and "joint_model" not in r.text
    listing = httpx.post(served.url + "/review/contracts",
                         json={"contracts": json.loads(outsider.sign("read.contracts", {}).to_json())})
    assert listing.status_code == 200 and cid[:16] not in listing.text and "joint_model" not in listing.text
    from datastation.client import RemoteError

    with pytest.raises(RemoteError) as info:
        outsider.graph(cid)  # the graph is a read like the others
    assert info.value.code == "no_contract"


def test_reads_of_two_agents_or_two_contracts_make_no_view(site):
    served, bank1, bank2, _, cid = site
    mixed = view(bank2, cid)
    mixed["audit"] = json.loads(bank1.sign("read.audit", {"contract": cid, "after": 0, "limit": 10}).to_json())
    r = httpx.post(served.url + "/review/contract", json=mixed)
    assert r.status_code == 422 and r.json()["code"] == "bad_request"
    other = view(bank2, cid)
    other["graph"] = json.loads(bank2.sign("read.graph", {"contract": cid[:10]}).to_json())
    assert httpx.post(served.url + "/review/contract", json=other).json()["code"] == "bad_request"
    wrong_action = view(bank2, cid)
    wrong_action["graph"] = json.loads(bank2.sign("read.summary", {"contract": cid}).to_json())
    assert httpx.post(served.url + "/review/contract", json=wrong_action).json()["code"] == "wrong_action"


def test_a_view_is_escaped_and_cannot_be_replayed(site):
    served, _, bank2, _, cid = site
    body = view(bank2, cid)
    r = httpx.post(served.url + "/review/contract", json=body)
    assert r.status_code == 200, r.text
    assert HOSTILE not in r.text and html_escaped(HOSTILE) in r.text
    assert FILE not in r.text and html_escaped(FILE) in r.text
    assert "<script" not in r.text and r.headers["cache-control"] == "no-store"
    assert 'src="data:image/svg+xml;base64,' in r.text  # the graph is an image, never inline SVG
    graph = bank2.graph(cid)
    assert graph["contract"] == cid and graph["dot"].startswith('digraph "joint_model"')
    assert '"agent:outsider"' not in graph["dot"] and '"data:bank2.train"' in graph["dot"]
    again = httpx.post(served.url + "/review/contract", json=body)
    assert again.status_code == 409 and again.json()["code"] == "replay"


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)
