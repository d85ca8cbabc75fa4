"""The review page reads an agent's contracts a page at a time (a signed `read.contracts` answers
at most `MAX_CONTRACT_PAGE`): both of its lists, those waiting for the agent's decision and the
others, have a button to the next page, and following them shows every contract once. Here
with pages of 3 (1,000 on a real escrow)."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from datastation.runtime.escrow import reads
from datastation.runtime.escrow.actions import READ_CONTRACTS
from harness import World

N = 8
DSC = 'agent owner\nagent lab\ndata owner.t csv "o.csv"\n' + "".join(
    f"contract c{i} {{\n  by      lab\n  compute rows(owner.t)\n  to      lab\n}}\n" for i in range(N))


@pytest.fixture
def site(tmp_path, monkeypatch):
    from datastation.runtime.server.app import create_app

    monkeypatch.setattr(reads, "MAX_CONTRACT_PAGE", 3)
    path = tmp_path / "s.dsc"
    path.write_text(DSC)
    w = World(tmp_path, path)
    w.agent("owner", "lab")
    w.data("owner.t", b"x\n1\n")
    for i in range(N):
        w.propose(f"c{i}", "lab")
    ids = [r.id for r in w.store.contracts_of("owner")]  # the order of the listing: (created, id)
    for cid in ids[1::3]:  # three decided: the others wait for the owner
        w.approve(cid, "owner")
    with TestClient(create_app(w.config, w.escrow)) as client:
        yield w, client, ids
    w.close()


def view(w, client, agent, **params):
    body = {"contracts": json.loads(w.escrow.sign_as(agent, READ_CONTRACTS, params).to_json())}
    page = client.post("/review/contracts", json=body)
    assert page.status_code == 200, page.text
    return page.text


def listed(html: str, list_id: str) -> list[str]:
    part = html.split(f'id="{list_id}"')[1].split("</ul>")[0] if f'id="{list_id}"' in html else ""
    return re.findall(r'data-contract="([0-9a-f]{64})"', part)


def next_after(html: str, which: str) -> str | None:
    m = re.search(rf'class="next-page" data-list="{which}" data-after="([0-9a-f]{{64}})"', html)
    return m.group(1) if m else None


def follow(w, client, agent, which: str, first: str) -> list[str]:
    """Every contract of list `which`, page after page from the first view `first`."""
    list_id = "pending-list" if which == "waiting" else "other-list"
    seen, html = listed(first, list_id), first
    while (after := next_after(html, which)) is not None:
        html = view(w, client, agent, after=after, **({"pending": True} if which == "waiting" else {}))
        assert 'class="first-page"' in html
        got = listed(html, list_id)
        assert not set(got) & set(seen), "a contract listed twice"
        seen += got
    return seen


def test_every_waiting_contract_and_every_other_is_reached_page_by_page(site):
    w, client, ids = site
    first = view(w, client, "owner")
    waiting = [c for i, c in enumerate(ids) if i % 3 != 1]
    assert listed(first, "pending-list") == waiting[:3] and next_after(first, "waiting") == waiting[2]
    assert follow(w, client, "owner", "waiting", first) == waiting
    assert follow(w, client, "owner", "other", first) == [c for i, c in enumerate(ids) if i % 3 == 1]


def test_a_short_listing_has_no_next_page(site):
    w, client, ids = site
    first = view(w, client, "lab")  # lab proposed them: none waits for it, 8 others in pages of 3
    assert listed(first, "pending-list") == [] and next_after(first, "waiting") is None
    assert follow(w, client, "lab", "other", first) == ids
    last = view(w, client, "lab", after=ids[-1])
    assert next_after(last, "other") is None and "No more." in last


def test_a_later_page_is_only_the_signers(site):
    w, client, ids = site
    w.agent("eve")
    page = view(w, client, "eve", after=None)
    assert listed(page, "other-list") == [] and listed(page, "pending-list") == []
    body = {"contracts": json.loads(w.escrow.sign_as("eve", READ_CONTRACTS, {"after": ids[2], "pending": True}).to_json())}
    refused = client.post("/review/contracts", json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "bad_request"  # not a contract of hers
