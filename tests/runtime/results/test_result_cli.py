"""`dsc result CONTRACT --as AGENT [-o FILE]`: a released result, for its recipients only."""

import json
import os
import stat
from pathlib import Path

from datastation.stdlib.serialize import from_bytes


def _executed(bank, contract="joint_model", runner="bank1"):
    cid = bank.propose(contract)
    bank.approve_all(cid)
    r = bank.run("execute", cid, "--as", runner, "--format", "json")
    assert r.code == 0, r.err
    return cid, dict((x["recipient"], x["path"]) for x in json.loads(r.out)["releases"])


def test_a_recipient_sees_a_preview_of_its_result(bank):
    cid, files = _executed(bank)
    r = bank.run("result", cid[:8], "--as", "bank2")
    assert r.code == 0, r.err
    value = json.loads(Path(files["bank2"]).read_bytes())
    assert "json: an object with 1 key" in r.out
    assert f'"predict": {json.dumps(value["predict"])}' in r.out  # pretty JSON
    assert files["bank2"] in r.out


def test_o_writes_the_result_and_minus_writes_it_to_stdout(bank, tmp_path):
    cid, files = _executed(bank)
    r = bank.run("result", cid, "--as", "bank1", "-o", tmp_path / "mine.json")
    assert r.code == 0, r.err
    out = tmp_path / "mine.json"
    assert out.read_bytes() == Path(files["bank1"]).read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert from_bytes("json", out.read_bytes()) == json.loads(Path(files["bank1"]).read_text())
    r = bank.sub("result", cid, "--as", "bank1", "-o", "-")
    assert r.code == 0 and r.out.encode() == out.read_bytes()


def test_a_non_recipient_is_refused_and_shown_nothing(bank, tmp_path):
    cid, _ = _executed(bank)
    r = bank.run("result", cid, "--as", "auditor", "-o", tmp_path / "theirs.json")
    assert r.code == 1 and "auditor is party to no contract" in r.err and r.out == ""
    assert not (tmp_path / "theirs.json").exists()
    r = bank.run("result", cid, "--as", "auditor")
    assert r.code == 1 and "auditor is party to no contract" in r.err and r.out == ""


def test_nothing_released_yet_is_said_so(bank):
    cid = bank.propose()
    r = bank.run("result", cid, "--as", "bank1")
    assert r.code == 1 and "released nothing" in r.err and "pending" in r.err


def test_as_means_holding_the_agents_key(bank, tmp_path, monkeypatch):
    cid, _ = _executed(bank)
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "someone-elses-keyring"))
    r = bank.run("result", cid, "--as", "bank1")
    assert r.code == 1 and "no private key for agent 'bank1'" in r.err and r.out == ""


def test_a_changed_outbox_file_is_refused(bank):
    cid, files = _executed(bank)
    Path(files["bank1"]).write_text('{"predict": "forged"}')
    r = bank.run("result", cid, "--as", "bank1")
    assert r.code == 1 and "release record" in r.err and "forged" not in r.out


def test_a_table_result_shows_its_shape_and_first_rows(bank, tmp_path):
    (tmp_path / "bank" / "tables.py").write_text(
        "def first(data, n: int):\n    return data.head(n)\n")
    (tmp_path / "bank" / "t.dsc").write_text(
        'use "tables.py"\nagent bank1\ndata bank1.train csv "bank1_train.csv"\n'
        'contract head30 {\n  by bank1\n  compute first(data = bank1.train, n = 30)\n  to bank1\n}\n')
    r = bank.run("propose", "bank/t.dsc", "head30", "--as", "bank1", "--format", "json")
    assert r.code == 0, r.err
    cid = json.loads(r.out)["id"]
    assert bank.run("approve", cid, "--as", "bank1", "--yes").code == 0
    assert bank.run("execute", cid, "--as", "bank1").code == 0
    r = bank.run("result", cid, "--as", "bank1", "--rows", "5")
    columns = (tmp_path / "bank" / "bank1_train.csv").read_text().splitlines()[0].split(",")
    assert r.code == 0, r.err
    assert f"table: 30 rows × {len(columns)} columns" in r.out and "25 more rows" in r.out
    assert all(c in r.out for c in columns)
    r = bank.run("result", cid, "--as", "bank1", "-o", tmp_path / "t.parquet")
    frame = from_bytes("table", (tmp_path / "t.parquet").read_bytes())
    assert frame.shape == (30, len(columns))
