"""The review page end to end in headless Chromium: bank2 loads its key file into the page, sees
the contract waiting for it with its summary, graph and audit entries, approves it with a
signature made in the page (keyboard only), and the escrow records a valid approval; approvals and
contracts are withdrawn in the page too. A screenshot
of each page goes to tests/artifacts/review_page/."""

import hashlib
import json
from pathlib import Path

import pytest

from browser import chromium, expect, shots  # noqa: F401  (chromium: the fixture)
from datastation.runtime.keyfile import private_pem
from datastation.runtime.keys import approval_message, generate_key, load_public_key, verify

FRAUD = Path(__file__).parents[2] / "examples" / "fraud"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from serving import Served

    s = Served(tmp_path_factory.mktemp("review") / "site")
    bank1, bank2 = s.agent("bank1"), s.agent("bank2")
    for bank in (bank1, bank2):
        for part in ("train", "test"):
            bank.add_data(f"{bank.agent}.{part}", FRAUD / "data" / f"{bank.agent}_{part}.csv")
    cid = bank1.propose(FRAUD / "fraud.dsc", "joint_model")["contract"]["id"]
    bank1.approve(cid)  # only bank2's decision is missing
    yield s, bank1, bank2, cid
    s.stop()


def key_file(client) -> Path:
    return client.home / ".config" / "datastation" / "keys" / f"{client.agent}.pem"


def load_key(page, path: Path, agent: str = "", passphrase: str = "") -> None:
    page.get_by_label("Key file").set_input_files(str(path))
    if agent:
        page.get_by_label("Agent name").fill(agent)
    if passphrase:
        page.get_by_label("Passphrase").fill(passphrase)
    page.get_by_role("button", name="Load key").click()


def test_load_key_see_pending_contract_approve(site, chromium):
    served, bank1, bank2, cid = site
    out = shots("review_page")
    page = chromium.new_page()
    sent = []
    page.on("request", lambda r: sent.append(r.post_data or ""))
    page.goto(served.url + "/")
    assert "joint_model" not in page.content()  # nothing of any contract before a signed read
    page.screenshot(path=str(out / "1-load-key.png"), full_page=True)

    load_key(page, key_file(bank2))
    page.wait_for_selector("#pending-list")
    assert page.locator("#key-status").inner_text().startswith("Key of bank2 loaded")
    assert page.locator("#escrow-id").inner_text() == bank2.escrow_id
    pending = page.locator("#pending-list li")
    assert pending.count() == 1 and "joint_model" in pending.inner_text() and cid[:16] in pending.inner_text()
    page.screenshot(path=str(out / "2-pending.png"), full_page=True)

    # keyboard only: focus is on the Review button after loading the key
    assert page.evaluate("document.activeElement.textContent") == "Review"
    page.keyboard.press("Enter")
    page.wait_for_selector("#contract-title")
    assert page.evaluate("document.activeElement.id") == "contract-title"
    assert page.locator("#identity").inner_text() == cid
    text = page.locator("#contract").inner_text()
    summary = bank2.summary(cid)
    for fact in ("bank1.train", "bank2.train", "fraud_model", "is_fraud", "rows(bank1.train) >= 2000",
                 summary["functions"]["fraud_model"]["sha256"], "Standing policies", "waiting for bank2"):
        assert fact in text, fact
    assert page.locator("#contract-status").inner_text() == "pending"
    assert page.evaluate("document.getElementById('graph').naturalWidth") > 100  # the SVG rendered
    kinds = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert "proposal" in kinds and "approval" in kinds
    page.screenshot(path=str(out / "3-contract.png"), full_page=True)

    page.keyboard.press("Tab")  # Back to the list
    page.keyboard.press("Tab")  # Approve
    assert page.evaluate("document.activeElement.id") == "approve"
    page.keyboard.press("Enter")
    expect(page.locator("#contract-status")).to_have_text("approved")
    page.wait_for_selector("#your-approval")
    expect(page.locator("#decision-status")).to_contain_text("Approved")
    assert page.locator("#pending-none").is_visible()
    page.screenshot(path=str(out / "4-approved.png"), full_page=True)

    # the escrow recorded bank2's own approval: its signature over this escrow's id and the identity
    st = bank2.status(cid)
    assert st["status"] == "approved"
    mine = [a for a in st["approvals"] if a["agent"] == "bank2"]
    assert mine and mine[0]["via_policy"] is None
    entry = [e for e in bank2.audit(contract=cid) if e["kind"] == "approval" and e["actor"] == "bank2"][-1]
    public = load_public_key(_public(key_file(bank2)))
    assert verify(public, approval_message(bank2.escrow_id, cid), entry["payload"]["signature"])
    code, out_text = served.dsc("audit", "verify", "--format", "json")
    assert code == 0 and json.loads(out_text)["ok"]
    # nothing the page sent holds the key
    secret = key_file(bank2).read_text()
    body = "".join(secret.splitlines()[1:-1])
    assert sent and not any(body[:40] in s or "PRIVATE KEY" in s for s in sent)
    page.close()


def _public(path: Path) -> str:
    from datastation.runtime.keyfile import decrypt_private_key
    from datastation.runtime.keys import public_pem

    return public_pem(decrypt_private_key(path.read_bytes(), None))


CAROL_DSC = """
agent bank1 "First Bank"
agent carol "Carol <Lab>"
data carol.samples csv "samples.csv"
contract carol_schema {
  by      bank1
  compute schema(data = carol.samples)
  to      bank1
}
"""


def test_protected_key_opens_in_the_page_and_rejects(site, chromium, tmp_path):
    """A passphrase-protected key (scrypt N=2^17 + AES-256-CBC, as `dsc` writes it) is opened in
    the page; a wrong passphrase is refused; the rejection is signed in the page."""
    from datastation.client import Client

    served, bank1, _, _ = site
    home = tmp_path / "carol"
    carol = Client(served.url, "carol", keyring=home / "keys", passphrase="correct horse")
    served.clients.append(carol)
    carol.register(served.invite("carol"), display="Carol <Lab>")
    assert (home / "keys" / "carol.pem").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    (tmp_path / "samples.csv").write_text("id,value\n1,2\n")
    carol.add_data("carol.samples", tmp_path / "samples.csv")
    (tmp_path / "c.dsc").write_text(CAROL_DSC)
    cid = bank1.propose(tmp_path / "c.dsc", "carol_schema")["contract"]["id"]

    page = chromium.new_page()
    page.goto(served.url + "/")
    load_key(page, home / "keys" / "carol.pem", passphrase="wrong")
    expect(page.locator("#key-status")).to_contain_text("wrong passphrase", timeout=60000)
    load_key(page, home / "keys" / "carol.pem", passphrase="correct horse")
    page.wait_for_selector("#pending-list", timeout=60000)
    page.get_by_role("button", name=f"Review contract carol_schema ({cid[:12]})").click()
    page.wait_for_selector("#reject-form")
    assert "carol (Carol <Lab>)" in page.locator("#contract").inner_text()  # the display name, as text
    page.get_by_label("Reason for rejecting").fill("not with <my> data \"quoted\" ünïcode 🙂")
    page.get_by_role("button", name="Reject carol_schema").click()
    expect(page.locator("#contract-status")).to_have_text("rejected")
    assert "not with <my> data" in page.locator("#contract").inner_text()  # shown as text, escaped
    page.screenshot(path=str(shots("review_page") / "5-rejected.png"), full_page=True)
    assert carol.status(cid)["rejections"][0]["reason"] == "not with <my> data \"quoted\" ünïcode 🙂"
    page.close()


def test_scrypt_in_the_page_matches_rfc_7914_and_python(site, chromium):
    page = chromium.new_page()
    page.goto(site[0].url + "/")
    page.wait_for_load_state("load")
    run = """async ([p, s, n, r, q, len]) => Array.from(await window.dscScrypt(
               new TextEncoder().encode(p), new TextEncoder().encode(s), n, r, q, len),
               b => b.toString(16).padStart(2, '0')).join('')"""
    rfc = page.evaluate(run, ["password", "NaCl", 1024, 8, 16, 64])
    assert rfc == ("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff1092"
                   "79d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    got = page.evaluate(run, ["pässwörd", "salt", 4096, 8, 1, 32])
    assert got == hashlib.scrypt("pässwörd".encode(), salt=b"salt", n=4096, r=8, p=1, dklen=32).hex()
    page.close()


def test_without_javascript_the_page_explains_and_shows_no_data(site, chromium):
    served = site[0]
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served.url + "/")
    assert page.get_by_role("heading", name="JavaScript is needed to sign").is_visible()
    assert "joint_model" not in page.content()
    page.screenshot(path=str(shots("review_page") / "0-no-javascript.png"), full_page=True)
    context.close()


def test_a_key_the_escrow_does_not_know_is_refused(site, chromium, tmp_path):
    path = tmp_path / "bank2.pem"
    path.write_bytes(private_pem(generate_key()))
    page = chromium.new_page()
    page.goto(site[0].url + "/")
    load_key(page, path)
    expect(page.locator("#key-status")).to_contain_text("bad_signature")
    assert page.locator("#pending-list").count() == 0
    page.close()


BANK2_COUNT_DSC = """
agent bank1 "First Bank"
agent bank2 "Second Bank"
data bank2.train csv "bank2_train.csv"
contract count_bank2 {
  by      bank1
  compute rows(bank2.train)
  to      bank1
}
"""


def test_withdraw_an_approval_then_the_contract_in_the_page(site, chromium, tmp_path):
    """bank2 withdraws its approval in the page (the contract waits for it again); bank1, its
    proposer, then withdraws the contract: each a `contract.revoke` signed in the page."""
    served, bank1, bank2, _ = site
    (tmp_path / "c.dsc").write_text(BANK2_COUNT_DSC)
    cid = bank1.propose(tmp_path / "c.dsc", "count_bank2")["contract"]["id"]
    bank2.approve(cid)
    assert bank2.status(cid)["status"] == "approved"

    page = chromium.new_page()
    page.goto(served.url + "/")
    load_key(page, key_file(bank2))
    page.get_by_role("button", name=f"Review contract count_bank2 ({cid[:12]})").click()
    page.wait_for_selector("#your-approval")
    assert page.locator("#approve").count() == 0
    page.get_by_role("button", name="Withdraw your approval of count_bank2").click()
    expect(page.locator("#contract-status")).to_have_text("pending")
    expect(page.locator("#decision-status")).to_contain_text("Withdrawn")  # set once the list is read again
    assert page.locator("#approve").is_visible()  # it waits for bank2's decision again
    page.screenshot(path=str(shots("review_page") / "6-approval-withdrawn.png"), full_page=True)
    st = bank2.status(cid)
    assert st["status"] == "pending" and not [a for a in st["approvals"] if a["agent"] == "bank2"]
    page.close()

    page = chromium.new_page()
    page.goto(served.url + "/")
    load_key(page, key_file(bank1))
    page.get_by_role("button", name=f"Review contract count_bank2 ({cid[:12]})").click()
    page.get_by_role("button", name="Withdraw contract count_bank2").click()
    expect(page.locator("#contract-status")).to_have_text("revoked")
    expect(page.locator("#decision-status")).to_contain_text("Withdrawn")
    assert page.locator("#revoke").count() == 0  # nothing left to withdraw
    page.screenshot(path=str(shots("review_page") / "7-contract-withdrawn.png"), full_page=True)
    assert bank1.status(cid)["status"] == "revoked"
    revocations = [e for e in bank1.audit(contract=cid) if e["kind"] == "revocation"]
    assert [(e["actor"], e["payload"]["what"]) for e in revocations] == [("bank2", "approval"), ("bank1", "contract")]
    code, out_text = served.dsc("audit", "verify", "--format", "json")
    assert code == 0 and json.loads(out_text)["ok"]
    page.close()


def test_more_than_a_page_of_waiting_contracts_is_reached_with_next_page(chromium, tmp_path_factory):
    """An owner with 1,003 contracts waiting for it (another party proposed them over its data):
    the page lists the first 1,000 (one signed read's page), and "Next page" (a signed read of
    the page after the last one shown) the other 3; "First page" goes back."""
    from serving import Served

    s = Served(tmp_path_factory.mktemp("pages") / "site")
    try:
        owner, lab = s.agent("owner"), s.agent("lab")
        root = s.root.parent
        (root / "o.csv").write_text("x\n1\n")
        owner.add_data("owner.t", root / "o.csv")
        (root / "many.dsc").write_text('agent owner\nagent lab\ndata owner.t csv "o.csv"\n' + "".join(
            f"contract m{i} {{\n  by lab\n  compute rows(owner.t)\n  to lab\n}}\n" for i in range(1003)))
        ids = [p["contract"]["id"] for p in lab.propose_many(root / "many.dsc")]
        page = chromium.new_page()
        page.goto(s.url + "/")
        load_key(page, key_file(owner))
        page.wait_for_selector("#pending-list")
        assert page.locator("#pending-list li").count() == 1000
        page.get_by_role("button", name="Next page of contracts waiting for your decision").click()
        expect(page.locator("#pending-list li")).to_have_count(3)
        assert page.evaluate("document.activeElement.id") == "waiting-title"
        text = page.locator("#pending-list").inner_text()
        assert all(name in text for name in ("m1000", "m1001", "m1002")) and "m999 " not in text
        assert set(ids[-3:]) == set(page.locator("#pending-list form").evaluate_all("fs => fs.map(f => f.dataset.contract)"))
        page.screenshot(path=str(shots("review_page") / "8-next-page.png"), full_page=True)
        page.get_by_role("button", name="First page of contracts waiting for your decision").click()
        expect(page.locator("#pending-list li")).to_have_count(1000)
        page.close()
    finally:
        s.stop()
