"""A released result's digest, shown to parties who do not receive it.

`dsc status` (every party) and the `release` audit entry (every party of the contract) carry the
sha256 of the released plaintext. A proposer who is *not* a recipient writes a contract whose
result is small (a sum, a count, a flag), the owner approves it "to myself only", and the
proposer brute-forces the digest.
"""

import pytest

from rt_support import SECRET_CSV, SECRET_SUM, Scenario, brute_force_value, hashes_in

DSC = '''agent alice
agent mallory
data alice.t csv "t.csv"

contract my_total {
  by      mallory
  compute total(data = alice.t, column = "amount")
  to      alice
}
'''

CANDIDATES = [float(n) for n in range(SECRET_SUM - 5000, SECRET_SUM + 5000)]  # an attacker tries 0..1e9


def _guess(views) -> object | None:
    hashes = set()
    for v in views:
        hashes |= hashes_in(v)
    for h in hashes:
        found = brute_force_value(h, CANDIDATES)
        if found is not None:
            return found
    return None


def test_a_non_recipient_cannot_recover_the_result_from_status_or_log(tmp_path):
    s = Scenario(tmp_path, {"s.dsc": DSC, "t.csv": SECRET_CSV})
    try:
        cid, report = s.run("my_total", "mallory", ("alice",), "alice")
        assert report.status.value == "executed"
        guessed = _guess([s.status(cid), s.log()])  # what mallory (the proposer) reads
        assert guessed is None, f"mallory recovered alice's result {guessed} without receiving it"
    finally:
        s.close()


def test_a_non_recipient_cannot_recover_the_result_over_the_server(tmp_path):
    from serving import Served

    served = Served(tmp_path / "site")
    try:
        alice, mallory = served.agent("alice"), served.agent("mallory")
        (tmp_path / "s.dsc").write_text(DSC)
        (tmp_path / "t.csv").write_text(SECRET_CSV)
        alice.add_data("alice.t", tmp_path / "t.csv")
        cid = mallory.propose(tmp_path / "s.dsc", "my_total")["contract"]["id"]
        alice.approve(cid)
        assert alice.execute(cid)["status"] == "executed"
        guessed = _guess([mallory.status(cid), mallory.audit(contract=cid)])
        assert guessed is None, f"mallory recovered alice's result {guessed} without receiving it"
    finally:
        served.stop()


@pytest.mark.docker
def test_a_sealed_result_is_not_recoverable_from_the_log(tmp_path, no_trust_config):
    s = Scenario(tmp_path, {"s.dsc": DSC, "t.csv": SECRET_CSV}, config_text=no_trust_config.read_text())
    try:
        cid, report = s.run("my_total", "mallory", ("alice",), "alice")
        assert report.status.value == "executed"
        sealed = [p for p in (s.world.config.outbox_path / "alice").rglob("*") if p.is_file()]
        assert sealed and all(p.name.endswith(".sealed") for p in sealed)
        guessed = _guess([s.status(cid), s.log()])
        assert guessed is None, f"the sealed result {guessed} is recovered from the log"
    finally:
        s.close()


def test_a_non_recipient_cannot_fetch_the_result(tmp_path):
    from datastation.client import RemoteError
    from serving import Served

    served = Served(tmp_path / "site")
    try:
        alice, mallory, eve = served.agent("alice"), served.agent("mallory"), served.agent("eve")
        (tmp_path / "s.dsc").write_text(DSC)
        (tmp_path / "t.csv").write_text(SECRET_CSV)
        alice.add_data("alice.t", tmp_path / "t.csv")
        cid = mallory.propose(tmp_path / "s.dsc", "my_total")["contract"]["id"]
        alice.approve(cid)
        alice.execute(cid)
        for who, code in ((mallory, "not_recipient"), (eve, "no_contract")):
            with pytest.raises(RemoteError) as exc:
                who.result(cid, tmp_path / f"{who.agent if hasattr(who, 'agent') else 'x'}.out")
            assert exc.value.code == code
            assert str(SECRET_SUM) not in str(exc.value)
    finally:
        served.stop()


PIN_DSC = '''agent alice
agent mallory
data alice.pin csv "pin.csv"

contract how_many {
  by      mallory
  compute rows(data = alice.pin)
  to      mallory
}
'''


def test_the_proposer_cannot_recover_a_small_data_file_from_its_digest(tmp_path):
    import hashlib

    from serving import Served

    served = Served(tmp_path / "site")
    try:
        alice, mallory = served.agent("alice"), served.agent("mallory")
        (tmp_path / "s.dsc").write_text(PIN_DSC)
        (tmp_path / "pin.csv").write_text("pin\n4831\n")
        alice.add_data("alice.pin", tmp_path / "pin.csv")
        cid = mallory.propose(tmp_path / "s.dsc", "how_many")["contract"]["id"]
        alice.approve(cid)  # alice agrees that mallory learns how many rows the file has
        assert mallory.execute(cid)["status"] == "executed"
        seen = hashes_in(mallory.audit(contract=cid)) | hashes_in(mallory.status(cid))
        table = {hashlib.sha256(f"pin\n{n:04d}\n".encode()).hexdigest(): n for n in range(10000)}
        found = [table[h] for h in seen if h in table]
        assert not found, f"mallory recovered alice's PIN {found} from a digest"
    finally:
        served.stop()
