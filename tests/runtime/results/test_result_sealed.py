"""Under no_trust the outbox holds results sealed for each recipient: `dsc result --as AGENT` opens
AGENT's copy with AGENT's key from its keyring; nobody else gets a preview, a file or an error
message carrying the data."""

import shutil
from pathlib import Path

import pytest

from harness import World
from datastation.runtime.config import Config, KekConfig
from datastation.runtime.crypto import generate_kek_file
from datastation.runtime.crypto.results import is_sealed
from datastation.runtime.escrow import EscrowRefusal
from datastation.runtime.executors.inprocess import InProcessExecutor
from datastation.runtime.cli import main

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


@pytest.fixture
def sealed(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "bank")
    kek = tmp_path / "secret" / "kek"
    generate_kek_file(kek)
    w = World(tmp_path, tmp_path / "bank" / "bank.dsc", config=Config(trust_mode="no_trust", kek=KekConfig(file=kek)))
    w.escrow._executor = InProcessExecutor()  # the sealing is the escrow's, whatever the executor
    w.setup_from_file()
    row = w.propose("joint_model", "bank1")
    for a in row.source_agents:
        w.approve(row.id, a)
    rep = w.execute(row.id, "bank1")
    assert rep.status == "executed", rep.error
    cfg = tmp_path / "nt.yaml"
    cfg.write_text(f"escrow_dir: {w.config.escrow_dir}\ntrust_mode: no_trust\nkek: {{file: {kek}}}\n")
    yield w, row.id, dict(rep.releases), cfg
    w.close()


def test_the_facade_opens_the_agents_own_sealed_copy(sealed):
    w, cid, files, _ = sealed
    assert all(is_sealed(Path(p).read_bytes()) for p in files.values())
    mine = w.escrow.result("bank1", cid)
    assert mine.kind == "json" and mine.data.startswith(b"{") and mine.path == files["bank1"]
    assert w.escrow.result("bank2", cid).data == mine.data
    with pytest.raises(EscrowRefusal) as refused:
        w.escrow.result("auditor", cid)
    assert refused.value.code == "no_contract"  # an outsider: refused as for an unknown id


def test_dsc_result_decrypts_for_the_recipient_only(sealed, tmp_path, capsys):
    w, cid, files, cfg = sealed
    code = main(["result", cid, "--as", "bank2", "--config", str(cfg)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert '"predict"' in out.out and "json: an object with 1 key" in out.out
    code = main(["result", cid, "--as", "bank2", "--config", str(cfg), "-o", str(tmp_path / "r.json")])
    assert code == 0 and (tmp_path / "r.json").read_bytes() == w.escrow.result("bank2", cid).data
    capsys.readouterr()
    code = main(["result", cid, "--as", "auditor", "--config", str(cfg)])
    out = capsys.readouterr()
    assert code == 1 and "auditor is party to no contract" in out.err and "predict" not in out.out + out.err


def test_a_copy_sealed_for_another_recipient_does_not_open(sealed):
    """bank1's outbox file replaced by bank2's copy (a valid sealed result, for someone else)."""
    w, cid, files, _ = sealed
    rel = next(r for r in w.store.releases(contract_id=cid) if r.recipient == "bank1")
    other = Path(files["bank2"]).read_bytes()
    Path(files["bank1"]).write_bytes(other)
    with pytest.raises(EscrowRefusal) as refused:
        w.escrow.result("bank1", cid)
    assert refused.value.code == "record_tampered" and rel.file_hash  # the recorded hash of the sealed file
