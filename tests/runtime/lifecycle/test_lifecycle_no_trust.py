"""no_trust execution without Docker: inputs staged through `job.read_into` (decrypted straight to a
file, authorized and audited like `job.read`), results sealed for each recipient in the outbox.

The executor here is a stand-in that stages files the way the Docker executor does, then runs the
function in-process from the staged plaintext; tests/docker runs the real sandbox."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import tempfile
from pathlib import Path

import pytest

from harness import World
from datastation.runtime.config import Config, KekConfig
from datastation.runtime.crypto import CryptoError, generate_kek_file
from datastation.runtime.crypto.results import is_sealed, open_result
from datastation.runtime.escrow.execution import READ_OUTSIDE
from datastation.runtime.executors.base import ERROR, ExecutionOutcome, Executor
from datastation.runtime.executors.inprocess import InProcessExecutor


FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


class StagingExecutor(Executor):
    """Stages every bound DE with `read_into` (never `read`), then runs in-process from the files."""

    def __init__(self):
        self.staged: list[tuple[str, str]] = []  # (key, phase)
        self.plaintext: dict[str, bytes] = {}
        self.inner = InProcessExecutor()

    def run(self, job):
        assert job.read_into is not None, "the escrow offers the fast path"
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for key in job.data_keys():
                files[key] = Path(tmp) / f"in{len(files)}"
                job.read_into(key, files[key])
                self.staged.append((key, job.phase))
                self.plaintext[key] = files[key].read_bytes()

            def read(key):
                return files[key].read_bytes() if key in files else job.read(key)

            return self.inner.run(dataclasses.replace(job, read=read))


class ForbiddenStager(Executor):
    """Tries to stage a DE outside the contract and, like the Docker executor, turns the failure
    of its callback into an ordinary error outcome."""

    def __init__(self, key):
        self.key = key
        self.target = None
        self.conditions = StagingExecutor()

    def run(self, job):
        if job.phase != "compute":  # the require's calls run normally
            return self.conditions.run(job)
        self.target = Path(tempfile.mkdtemp()) / "stolen"
        try:
            job.read_into(self.key, self.target)
        except Exception as exc:  # noqa: BLE001 - what a careless executor would do
            return ExecutionOutcome(ERROR, error=f"cannot stage the inputs: {exc}")
        return ExecutionOutcome("ok", kind="json", data=b"1")


def _world(tmp_path, trust_mode, executor):
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    kek = tmp_path / "secret" / "kek"
    generate_kek_file(kek)
    w = World(tmp_path, src / "bank.dsc", config=Config(trust_mode=trust_mode, kek=KekConfig(file=kek)))
    w.escrow._executor = executor
    w.setup_from_file()
    return w


@pytest.fixture
def no_trust(tmp_path):
    ex = StagingExecutor()
    w = _world(tmp_path, "no_trust", ex)
    yield w, ex
    w.close()


def _run(w, contract="joint_model"):
    row = w.propose(contract, "bank1")
    for a in row.source_agents:
        w.approve(row.id, a)
    return row, w.execute(row.id, "bank1")


def _dsc(*argv) -> tuple[int, str]:
    from datastation.runtime.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(a) for a in argv])
    return code, out.getvalue()


def test_no_trust_inputs_go_through_read_into_and_are_audited(no_trust):
    w, ex = no_trust
    row, rep = _run(w)
    assert rep.status == "executed", rep.error
    compute = [k for k, phase in ex.staged if phase == "compute"]
    assert sorted(compute) == ["bank1.train", "bank2.train"]
    for key in compute:  # decrypted: the staged file is the owner's plaintext, the stored one is not
        original = (w.dsc.parent / f"{key.replace('.', '_')}.csv").read_bytes()
        assert ex.plaintext[key] == original
        d = w.store.get_data(key)
        assert w.escrow.ctx.storage.path_for(d.owner, d.content_hash).read_bytes()[:6] == b"DSCENC"
    reads = [(e.payload["key"], e.payload["phase"]) for e in w.store.audit_entries(contract=row.id)
             if e.kind == "data_read"]
    assert ("bank1.train", "compute") in reads and ("bank2.train", "compute") in reads


def test_released_results_are_sealed_for_each_recipient(no_trust, tmp_path):
    w, _ = no_trust
    row, rep = _run(w)
    assert rep.status == "executed", rep.error
    files = dict(rep.releases)
    assert sorted(files) == ["bank1", "bank2"]
    assert all(p.endswith(".json.sealed") for p in files.values())  # not mistaken for a readable file
    blobs = {r: Path(p).read_bytes() for r, p in files.items()}
    assert all(is_sealed(b) for b in blobs.values())
    keyring = w.escrow.keyring
    plain1 = open_result(w.config, blobs["bank1"], "bank1", keyring.load("bank1"))
    assert plain1 == open_result(w.config, blobs["bank2"], "bank2", keyring.load("bank2"))
    # the release row and the audit entry name the plaintext's hash: the recipient can check it
    import hashlib

    assert {r.content_hash for r in w.store.releases(contract_id=row.id)} == {hashlib.sha256(plain1).hexdigest()}
    with pytest.raises(CryptoError):  # bank2 cannot open bank1's copy
        open_result(w.config, blobs["bank1"], "bank2", keyring.load("bank2"))
    with pytest.raises(CryptoError):
        open_result(w.config, blobs["bank1"], "bank1", keyring.load("bank2"))

    # the documented command: the recipient decrypts its own result, another agent cannot
    cfg = tmp_path / "nt.yaml"
    cfg.write_text(f"escrow_dir: {w.config.escrow_dir}\ntrust_mode: no_trust\nkek: {{file: {w.config.kek.file}}}\n")
    code, out = _dsc("keys", "decrypt", files["bank1"], "--as", "bank1", "-o", tmp_path / "mine.json",
                     "--config", cfg)
    assert code == 0, out
    assert (tmp_path / "mine.json").read_bytes() == plain1
    code, out = _dsc("keys", "decrypt", files["bank1"], "--as", "bank2", "-o", tmp_path / "theirs.json",
                     "--config", cfg)
    assert code == 1 and not (tmp_path / "theirs.json").exists(), out


def test_full_trust_outbox_stays_plaintext(tmp_path):
    w = _world(tmp_path, "full_trust", StagingExecutor())
    try:
        _, rep = _run(w)
        assert rep.status == "executed", rep.error
        path = dict(rep.releases)["bank1"]
        assert path.endswith(".json")
        blob = Path(path).read_bytes()
        assert not is_sealed(blob) and blob.lstrip().startswith(b"{")
    finally:
        w.close()


# no key is named, registered or not: which one the function asked for is its choice (H5)
@pytest.mark.parametrize("key", ["bank2.secret", "bank2.nothere"])
def test_read_into_outside_the_contract_is_refused_and_audited(tmp_path, key):
    ex = ForbiddenStager(key)
    w = _world(tmp_path, "no_trust", ex)
    try:
        w.data("bank2.secret", b"a,b\n1,2\n")
        row, rep = _run(w)
        assert rep.status == "short_circuit" and rep.blocked == READ_OUTSIDE and key not in rep.error
        assert [c.kind for c in rep.conditions] == ["require"]  # stopped in the computation
        assert not ex.target.exists()  # nothing was decrypted for it
        entries = list(w.store.audit_entries(contract=row.id))
        shorts = [e.payload for e in entries if e.kind == "short_circuit"]
        assert [p.get("key") for p in shorts] == [None] and key not in str(shorts)
        assert not [e for e in entries if e.kind == "data_read" and e.payload["key"] == key]
        assert w.store.releases(contract_id=row.id) == []
        assert not w.config.outbox_path.exists() or not any(w.config.outbox_path.rglob("*"))
    finally:
        w.close()


def test_read_into_refuses_tampered_contents(no_trust):
    w, ex = no_trust
    d = w.store.get_data("bank2.train")
    path = w.escrow.ctx.storage.path_for(d.owner, d.content_hash)
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 1
    path.write_bytes(bytes(blob))
    row, rep = _run(w, "pooled")  # no conditions: the computation's staging meets the damage first
    assert rep.status == "error" and "cannot be decoded" in rep.error, rep.error
    assert "bank2.train" not in [k for k, _ in ex.staged]
    reads = [e.payload["key"] for e in w.store.audit_entries(contract=row.id) if e.kind == "data_read"]
    assert "bank2.train" not in reads
    assert w.store.get_data("pool") is None and w.store.releases(contract_id=row.id) == []
