"""Hole 7: one execution per contract, and a result is published and recorded as one step.

The attacker starts two executions of one approved contract at the same time (threads, then
processes), kills the escrow with SIGKILL at every crash point of an execution, and edits a
released file in an outbox. Exactly one execution may run user code and read data; after a
crash the outboxes hold a result if and only if its release is recorded; `dsc audit verify`
checks every released file against its recorded hash; storage left by a crashed `data add`
is collected.
"""

import hashlib
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

from datastation.runtime.escrow import EscrowRefusal, open_escrow
from datastation.runtime.escrow.context import escrow_storage
from harness import World

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "crash"))

import crash_harness as h  # noqa: E402

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"

SLOW = '''

def slow(t) -> int:
    """Takes its time (it cannot leave a mark: the confined child writes nowhere; each run is
    counted by the data reads the escrow serves it, which are audited)."""
    import time
    time.sleep(1.0)
    return len(t)
'''

SLOW_CONTRACT = '''
contract slow_count {
  by      bank1
  compute slow(t = bank1.train)
  to      bank1
}
'''


def _slow_world(tmp_path) -> tuple[World, str, Path]:
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    marker = tmp_path / "runs.txt"
    (src / "functions.py").write_text((src / "functions.py").read_text() + SLOW)
    (src / "bank.dsc").write_text((src / "bank.dsc").read_text() + SLOW_CONTRACT)
    w = World(tmp_path, src / "bank.dsc")
    w.setup_from_file()
    row = w.propose("slow_count", "bank1")
    w.approve(row.id, "bank1")
    assert w.store.get_contract(row.id).status == "approved"
    return w, row.id, marker


def _runs(w: World, cid: str) -> int:
    """How many executions were served data (user code runs only on data it was served)."""
    reads = [e for e in w.store.audit_entries(contract=cid) if e.kind == "data_read"]
    return len({e.payload.get("execution") for e in reads})


def _only_one_ran(w: World, cid: str, marker: Path, refusals: list[str]) -> None:
    assert _runs(w, cid) == 1, f"user code ran {_runs(w, cid)} times"
    assert refusals and all(code in ("already_running", "already_executed") for code in refusals), refusals
    entries = list(w.store.audit_entries(contract=cid))
    starts = [e for e in entries if e.kind == "execution" and e.payload.get("phase") == "start"]
    assert len(starts) == 1
    reads = [e for e in entries if e.kind == "data_read"]
    assert reads and {e.payload.get("execution", starts[0].payload["execution"]) for e in reads} == {
        starts[0].payload["execution"]}
    assert len(w.store.releases(contract_id=cid)) == 1
    rel = w.store.releases(contract_id=cid)[0]
    assert hashlib.sha256(Path(rel.path).read_bytes()).hexdigest() == rel.content_hash


def test_two_threads_one_execution(tmp_path):
    w, cid, marker = _slow_world(tmp_path)
    refusals, reports = [], []
    barrier = threading.Barrier(2)

    def go():
        escrow_world = World(tmp_path, w.dsc, config=w.config)  # its own connection, like another client
        try:
            barrier.wait()
            reports.append(escrow_world.execute(cid, "bank1"))
        except EscrowRefusal as exc:
            refusals.append(exc.code)
        finally:
            escrow_world.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in reports] == ["executed"]
    _only_one_ran(w, cid, marker, refusals)
    w.close()


def test_two_threads_sharing_one_escrow(tmp_path):
    w, cid, marker = _slow_world(tmp_path)
    refusals, reports = [], []
    barrier = threading.Barrier(2)

    def go():
        try:
            barrier.wait()
            reports.append(w.execute(cid, "bank1"))
        except EscrowRefusal as exc:
            refusals.append(exc.code)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in reports] == ["executed"]
    _only_one_ran(w, cid, marker, refusals)
    w.close()


def test_two_processes_one_execution(tmp_path):
    w, cid, marker = _slow_world(tmp_path)
    config = w.config
    w.close()
    go_r, go_w = os.pipe()
    results = tmp_path / "results"
    results.mkdir()
    pids = []
    for i in range(2):
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                os.close(go_w)
                child = World(tmp_path, None, config=config)
                os.read(go_r, 1)  # both start together
                try:
                    rep = child.execute(cid, "bank1")
                    (results / f"{i}").write_text(f"ran {rep.status}")
                except EscrowRefusal as exc:
                    (results / f"{i}").write_text(f"refused {exc.code}")
                child.close()
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(go_r)
    os.write(go_w, b"xx")
    os.close(go_w)
    assert all(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in pids)
    outcomes = sorted(p.read_text() for p in results.iterdir())
    ran = [o for o in outcomes if o.startswith("ran")]
    refused = [o.split()[1] for o in outcomes if o.startswith("refused")]
    assert ran == ["ran executed"], outcomes
    w = World(tmp_path, None, config=config)
    _only_one_ran(w, cid, marker, refused)
    w.close()


# ------------------------------------------------------------------ crash: both or neither

SCENARIO = h.load_scenario(SCENARIOS / "execute_once.yaml")


@pytest.fixture(scope="module")
def execute_points():
    """Every crash point of the execution, from its claim to its published files; of the points
    every audit entry passes (many alike), a sample (all with DSC_CRASH_EXHAUSTIVE=1)."""
    with h.scratch_dir() as d:
        points = h.enumerate_points(SCENARIO, d)
    first = next(i for i, (label, _) in enumerate(points) if label == "store.swap_contract_status")
    points = points[first:]
    alike = ("tx.", "audit.append", "store.audit_insert", "store.audit_head")
    return [p for p in points if not p[0].startswith(alike)] + h.select_points(
        [p for p in points if p[0].startswith(alike)], sample=6, seed=3)


def test_execute_crash_points_include_publication(execute_points):
    labels = {label for label, _ in execute_points}
    for needed in ("store.swap_contract_status", "execute.claimed", "execute.started", "execute.files_written",
                   "execute.commit", "execute.committed", "execute.published", "store.add_release"):
        assert needed in labels, needed


def _outbox_files(config) -> dict[str, Path]:
    root = Path(config.outbox_path)
    if not root.is_dir():
        return {}
    return {p.parent.name: p for p in root.glob("*/*") if p.is_file() and not p.parent.name.startswith(".")}


def _both_or_neither(root: Path) -> list[str]:
    """After a crash and a reopen: a file in an outbox iff its release is recorded (with its hash);
    the contract is executed iff it was released; nothing half-done is left behind."""
    problems = []
    config = h.make_config(root)
    with open_escrow(config) as ctx:
        row = next(c for c in ctx.store.list_contracts() if c.name == "joint_model")
        rels = {r.recipient: r for r in ctx.store.releases(contract_id=row.id)}
        files = _outbox_files(config)
        if set(files) != set(rels):
            problems.append(f"outbox files {sorted(files)} but releases {sorted(rels)}")
        for r, rel in rels.items():
            if r in files and hashlib.sha256(files[r].read_bytes()).hexdigest() != rel.content_hash:
                problems.append(f"{r}'s file does not match its release")
        if rels and row.status != "executed":
            problems.append(f"released but {row.status}")
        if not rels and row.status not in ("approved",):
            problems.append(f"nothing released but {row.status}")
        if any(e.status == "running" for e in ctx.store.executions(row.id)):
            problems.append("an execution is still 'running' after recovery")
        leftovers = [p for p in Path(config.outbox_path).rglob("*") if p.is_file() and p.parent.name.startswith(".")
                     or p.name.startswith(".tmp-")] if Path(config.outbox_path).is_dir() else []
        if leftovers:
            problems.append(f"temporary files left: {leftovers}")
    return problems


def test_sigkill_at_every_execute_point_leaves_both_or_neither(execute_points, tmp_path):
    failures = []
    for i, point in enumerate(execute_points):
        root = tmp_path / f"p{i}"
        rc = h.run_child(SCENARIO, root, {"DSC_CRASH_AT": f"{point[0]}:{point[1]}"})
        if rc != -9:
            failures.append(f"{point}: not killed (exit {rc})")
            continue
        problems = _both_or_neither(root)
        problems += h.check_consistency(SCENARIO, root)
        # a second execution may only complete what nothing was released for, and only once
        assert h.run_child(SCENARIO, root) == 0
        problems += [f"after re-run: {p}" for p in _both_or_neither(root)]
        problems += [f"after re-run: {p}" for p in h.check_consistency(SCENARIO, root, range(len(SCENARIO.steps)))]
        if problems:
            failures.append(f"{point}: {problems}")
    assert not failures, "\n".join(failures)


def test_released_contract_can_be_neither_revoked_nor_run_again_after_a_crash(tmp_path):
    root = tmp_path / "e"
    assert h.run_child(SCENARIO, root, {"DSC_CRASH_AT": "execute.files_written:1"}) == -9
    w = World(root, None, config=h.make_config(root))
    row = next(c for c in w.store.list_contracts() if c.name == "joint_model")
    if w.store.releases(contract_id=row.id):
        with pytest.raises(EscrowRefusal):
            w.revoke(row.id, "bank1")
    first = w.execute(row.id, "bank1") if not w.store.releases(contract_id=row.id) else None
    assert first is None or first.status == "executed"
    released = {r.recipient: r.content_hash for r in w.store.releases(contract_id=row.id)}
    with pytest.raises(EscrowRefusal) as exc:
        w.execute(row.id, "bank2")
    assert exc.value.code == "already_executed"
    with pytest.raises(EscrowRefusal):
        w.revoke(row.id, "bank1")
    assert {r.recipient: r.content_hash for r in w.store.releases(contract_id=row.id)} == released
    files = _outbox_files(w.config)
    assert {r: hashlib.sha256(p.read_bytes()).hexdigest() for r, p in files.items()} == released
    w.close()


def test_crash_during_recovery_is_recovered(tmp_path):
    root = tmp_path / "e"
    assert h.run_child(SCENARIO, root, {"DSC_CRASH_AT": "execute.committed:1"}) == -9
    # the next open publishes the committed files; kill it in the middle of that
    assert h.run_child(SCENARIO, root, {"DSC_CRASH_AT": "recover.published:1"}) == -9
    assert _both_or_neither(root) == []
    assert h.check_consistency(SCENARIO, root) == []


# ------------------------------------------------------------------ outbox files are verified


def _released_world(tmp_path):
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    w = World(tmp_path, src / "bank.dsc")
    w.setup_from_file()
    row = w.propose("joint_model", "bank1")
    for a in row.source_agents:
        w.approve(row.id, a)
    assert w.execute(row.id, "bank1").status == "executed"
    cfg = tmp_path / "escrow.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'escrow'}\n")
    return w, row, cfg


def _verify(cfg, capsys) -> int:
    from datastation.runtime.cli import main

    capsys.readouterr()
    code = main(["audit", "verify", "--config", str(cfg)])
    capsys.readouterr()
    return code


@pytest.mark.parametrize("tamper", ["edit", "remove", "replace_with_other"])
def test_tampered_outbox_file_fails_verification(tmp_path, capsys, tamper):
    w, row, cfg = _released_world(tmp_path)
    assert _verify(cfg, capsys) == 0
    rel = {r.recipient: Path(r.path) for r in w.store.releases(contract_id=row.id)}
    if tamper == "edit":
        rel["bank2"].write_bytes(rel["bank2"].read_bytes() + b" ")
    elif tamper == "remove":
        rel["bank2"].unlink()
    else:
        rel["bank2"].write_bytes(b'{"predict": false, "note": "not what was released"}')
    assert _verify(cfg, capsys) == 1
    w.close()


# ------------------------------------------------------------------ storage of a crashed data add

DATA_SCENARIO = h.load_scenario(SCENARIOS / "data_add_once.yaml")


@pytest.mark.parametrize("point", ["storage.written:2", "storage.replaced:2", "store.put_data:2"])
def test_storage_orphaned_by_a_crashed_add_is_collected(tmp_path, point):
    root = tmp_path / "e"
    assert h.run_child(DATA_SCENARIO, root, {"DSC_CRASH_AT": point}) == -9
    config = h.make_config(root)
    with open_escrow(config) as ctx:
        referenced = {(d.owner, d.content_hash) for d in ctx.store.list_data()}
        on_disk = ctx.storage.all_objects()
        temps = list(Path(config.storage_path).rglob(".tmp-*"))
    assert on_disk == referenced and temps == []


def test_collection_spares_an_add_in_flight(tmp_path):
    # A crashed add leaves debris to collect; meanwhile another add is between its file and its row.
    root = tmp_path / "e"
    assert h.run_child(DATA_SCENARIO, root, {"DSC_CRASH_AT": "storage.replaced:2"}) == -9
    config = h.make_config(root)
    storage = escrow_storage(config)  # as another process adding data would use it
    orphans = storage.all_objects()
    with storage.writing():
        in_flight = storage.put(b"x,y\n7,7\n", "bank1")
        with open_escrow(config):  # any other process opening the escrow meanwhile
            pass
        assert storage.exists("bank1", in_flight) and orphans <= storage.all_objects()
    with open_escrow(config) as ctx:  # nobody writing any more: what no row references goes
        referenced = {(d.owner, d.content_hash) for d in ctx.store.list_data()}
        assert referenced < orphans
        assert ctx.storage.all_objects() == referenced
    assert not storage.exists("bank1", in_flight)
