"""The execute decision from the in-memory index, the bound-key memo and the pre-installed child:
attacks on today's caches and fast paths. A second `Escrow` on the same store plays another
process (a second server worker); hand edits of the SQLite file play whoever can write the store."""

import contextlib
import json
import secrets
import sys
import sqlite3
import threading

import pytest

from datastation.runtime.escrow import EXECUTE, PROPOSE, REVOKE, Escrow, make_bundle, propose_params
from rt_support import SECRET_CSV, SECRET_TEXT, Scenario, dsc, COPY_FUNCS
from rt_support import refusal_code as _code

FUNCS = COPY_FUNCS

DSC = '''use "f.py"
agent alice
agent mallory
agent bob
data alice.t csv "t.csv"

contract grab {
  by      mallory
  compute copy(t = alice.t)
  to      mallory
}
'''


@pytest.fixture
def sc(tmp_path):
    s = Scenario(tmp_path, {"f.py": FUNCS, "s.dsc": DSC, "t.csv": SECRET_CSV})
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_sc(request, tmp_path):
    """The scenario on SQLite, and on a fresh PostgreSQL schema (two `Escrow`s: two workers)."""
    if request.param == "sqlite":
        s = Scenario(tmp_path, {"f.py": FUNCS, "s.dsc": DSC, "t.csv": SECRET_CSV})
        yield s
        s.close()
        return
    from pg_support import Schema, server_url

    schema = Schema(server_url())
    try:
        s = Scenario(tmp_path, {"f.py": FUNCS, "s.dsc": DSC, "t.csv": SECRET_CSV},
                     config_text=f"store:\n  url: '{schema.url}'\n")
        yield s
        s.close()
    finally:
        schema.drop()


def _outbox(sc, who="mallory"):
    d = sc.world.config.outbox_path / who
    return [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []


def _warm(esc, cid):
    """Make `esc`'s index hold the contract (alice is no recipient: refused, entry built)."""
    assert _code(lambda: esc.execute(esc.sign_as("alice", EXECUTE, {"contract": cid}))) == "not_recipient"


def _db(sc):
    return sqlite3.connect(sc.world.config.store.path, isolation_level=None)


@contextlib.contextmanager
def _approved_in_memory_and_a_second_escrow(sc):
    """(contract row, escrow a whose index holds it approved, escrow b on the same store): b
    plays another process."""
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    a = sc.world.escrow
    b = Escrow.open(sc.world.config)
    try:
        _warm(a, row.id)  # a's memory: approved, every approval verified
        yield row, a, b
    finally:
        b.close()


def test_a_revocation_by_another_process_stops_a_go_ahead_held_in_memory(any_sc):
    sc = any_sc
    with _approved_in_memory_and_a_second_escrow(sc) as (row, a, b):
        b.revoke(b.sign_as("alice", REVOKE, {"contract": row.id}))
        code = _code(lambda: a.execute(a.sign_as("mallory", EXECUTE, {"contract": row.id})))
        assert code in ("awaiting_approval", "revoked"), code
    assert not _outbox(sc)


def test_a_reproposal_by_another_process_needs_fresh_approvals(any_sc):
    sc = any_sc
    with _approved_in_memory_and_a_second_escrow(sc) as (row, a, b):
        b.revoke(b.sign_as("mallory", REVOKE, {"contract": row.id}))  # the proposer withdraws it
        params = propose_params(make_bundle(sc.src / "s.dsc"), "grab")
        again = b.propose(b.sign_as("mallory", PROPOSE, params)).row  # a new attempt: approvals dropped
        assert again.id == row.id
        code = _code(lambda: a.execute(a.sign_as("mallory", EXECUTE, {"contract": row.id})))
        assert code == "awaiting_approval", code
        code = _code(lambda: b.execute(b.sign_as("mallory", EXECUTE, {"contract": row.id})))
        assert code == "awaiting_approval", code
    assert not _outbox(sc)


def test_a_status_set_to_approved_by_hand_runs_nothing_in_a_warm_or_a_fresh_process(sc):
    row = sc.world.propose("grab", "mallory")  # nobody approved
    a = sc.world.escrow
    _warm(a, row.id)
    with _db(sc) as db:
        db.execute("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    assert _code(lambda: a.execute(a.sign_as("mallory", EXECUTE, {"contract": row.id}))) is not None
    b = Escrow.open(sc.world.config)
    try:
        assert _code(lambda: b.execute(b.sign_as("mallory", EXECUTE, {"contract": row.id}))) is not None
    finally:
        b.close()
    assert not _outbox(sc)


def test_an_approval_row_copied_from_another_contract_does_not_count(sc):
    """alice's signature approves one contract id; a row pointing it at another one is worthless."""
    first = sc.world.propose("grab", "mallory")
    sc.world.approve(first.id, "alice")
    # a second contract of the same shape: another name, another identity
    (sc.src / "two.dsc").write_text(DSC.replace("contract grab", "contract grab2"))
    second = sc.world.propose("grab2", "mallory", sc.src / "two.dsc")
    a = sc.world.escrow
    _warm(a, second.id)
    with _db(sc) as db:
        cols = [r[1] for r in db.execute("PRAGMA table_info(approvals)")]
        rows = db.execute(f"SELECT {', '.join(cols)} FROM approvals WHERE contract_id = ?", (first.id,)).fetchall()
        assert rows
        for r in rows:
            vals = [second.id if c == "contract_id" else v for c, v in zip(cols, r)]
            if "id" in cols:
                vals[cols.index("id")] = None
            db.execute(f"INSERT INTO approvals ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)
        db.execute("UPDATE contracts SET status = 'approved' WHERE id = ?", (second.id,))
    for esc in (a, Escrow.open(sc.world.config)):
        assert _code(lambda: esc.execute(esc.sign_as("mallory", EXECUTE, {"contract": second.id}))) is not None
    assert not _outbox(sc)


def test_concurrent_executions_across_processes_release_once(any_sc):
    sc = any_sc
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    others = [Escrow.open(sc.world.config) for _ in range(2)]
    escrows = [sc.world.escrow, others[0], sc.world.escrow, others[1]]
    for e in escrows:
        _warm(e, row.id)
    out: list = []
    barrier = threading.Barrier(len(escrows))

    def go(esc):
        request = esc.sign_as("mallory", EXECUTE, {"contract": row.id})
        barrier.wait()
        out.append(_code(lambda: esc.execute(request)))

    threads = [threading.Thread(target=go, args=(e,)) for e in escrows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in others:
        e.close()
    assert out.count(None) == 1, out
    assert set(out) - {None} <= {"already_running", "already_executed"}, out
    assert len(sc.world.store.releases(contract_id=row.id)) == 1
    code, text = sc.cli("audit", "verify")
    assert code == 0, text


def test_removing_an_agents_signed_binding_is_seen_at_once_by_a_running_process(sc):
    row = sc.world.propose("grab", "mallory")
    sc.world.approve(row.id, "alice")
    a = sc.world.escrow
    _warm(a, row.id)  # a remembered alice's binding
    assert _code(lambda: a.execute(a.sign_as("mallory", EXECUTE, {"contract": "nope"}))) == "no_contract"
    with _db(sc) as db:  # mallory's agent_created entry (bob's, created later, stays the last one)
        n = db.execute("DELETE FROM audit WHERE kind = 'agent_created' AND payload LIKE '%\"mallory\"%'").rowcount
        assert n == 1
    fresh = Escrow.open(sc.world.config)
    try:  # a fresh process: mallory's key is no longer vouched for by the log
        fresh_code = _code(lambda: fresh.execute(fresh.sign_as("mallory", EXECUTE, {"contract": "nope"})))
    finally:
        fresh.close()
    assert fresh_code == "unbound_key", fresh_code
    warm_code = _code(lambda: a.execute(a.sign_as("mallory", EXECUTE, {"contract": "nope"})))
    assert warm_code == "unbound_key", warm_code  # the running process still accepts mallory's key


PROBE = '''
import os, sys

def probe(t):
    out = {}
    import datastation
    rt = getattr(datastation, "runtime", None)
    out["runtime"] = sorted(k for k in vars(rt) if not k.startswith("__")) if rt else []
    ex = getattr(rt, "executors", None)
    out["executors"] = sorted(k for k in vars(ex) if not k.startswith("__")) if ex else []
    out["escrow_modules"] = sorted(m for m in sys.modules if m.startswith("datastation.runtime.")
                                   and m != "datastation.runtime.app_api")
    for name, fn in (("tmp_write", lambda: open("/tmp/dsc-rt-persist", "w").write("x")),
                     ("tmp_list", lambda: os.listdir("/tmp")),
                     ("parent_list", lambda: os.listdir(os.path.dirname(os.getcwd())))):
        try:
            fn()
            out[name] = "ok"
        except BaseException as exc:
            out[name] = type(exc).__name__
    with open("left-behind", "w") as f:
        f.write("from an earlier job")
    out["left_behind_seen"] = os.path.exists(os.path.join(os.getcwd(), "left-behind-before"))
    import datastation.stdlib as s
    out["earlier_global"] = getattr(s, "_rt_smuggled", None)
    s._rt_smuggled = "from an earlier job"
    return out
'''

PROBE_DSC = '''use "functions.py"
agent alice
data alice.t csv "t.csv"
contract c1 {
  by alice
  compute probe(t = alice.t)
  to alice
}
contract c2 {
  by alice
  compute probe(t = alice.t)
  to alice
}
'''


def test_a_user_function_reaches_no_escrow_module_file_or_earlier_job(tmp_path):
    (tmp_path / "functions.py").write_text(PROBE)
    (tmp_path / "x.dsc").write_text(PROBE_DSC)
    (tmp_path / "t.csv").write_text(SECRET_CSV)
    keep = tmp_path / "keep"
    code, out = dsc("run", tmp_path / "x.dsc", "--approve-all", "--keep", keep)
    assert code == 0, out
    results = [json.loads(p.read_text()) for p in sorted((keep / "outbox" / "alice").glob("*.json"))]
    assert len(results) == 2, out
    for r in results:
        r = json.loads(r) if isinstance(r, str) else r
        r = r.get("value", r) if isinstance(r, dict) and "value" in r else r
        assert r["escrow_modules"] == [], r
        assert not {"store", "keys", "escrow", "audit", "config"} & set(r["runtime"]), r
        assert r["tmp_write"] != "ok" and r["tmp_list"] != "ok" and r["parent_list"] != "ok", r
        assert r["earlier_global"] is None, r
    assert not (tmp_path / "dsc-rt-persist").exists()
    assert SECRET_TEXT not in out or "alice" in out  # dsc run's user is every party


# -- a later job reading what an earlier job left behind (SysV shared memory) ----------------

STASH_FUNCS = '''
import ctypes

KEY = %d

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    return libc

def tally(t):
    libc = _libc()
    data = t.to_csv(index=False).encode()
    sid = libc.shmget(KEY, 4096, 0o1600)  # IPC_CREAT | 0600: outlives this job's child
    if sid >= 0:
        p = libc.shmat(sid, None, 0)
        if p not in (None, ctypes.c_void_p(-1).value):
            ctypes.memmove(p, data[:4000] + b"\\0", min(len(data), 4000) + 1)
    return len(t)

def mine(u):
    libc = _libc()
    sid = libc.shmget(KEY, 4096, 0)
    if sid < 0:
        return "nothing"
    p = libc.shmat(sid, None, 0)
    if p in (None, ctypes.c_void_p(-1).value):
        return "nothing"
    return ctypes.string_at(p).decode(errors="replace")
'''

STASH_DSC = '''use "f.py"
agent alice
agent mallory
data alice.t csv "t.csv"
data mallory.u csv "u.csv"

contract count_rows {
  by      mallory
  compute tally(t = alice.t)
  to      mallory
}

contract own_only {
  by      mallory
  compute mine(u = mallory.u)
  to      mallory
}
'''


def _shm_remove(key: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    sid = libc.shmget(key, 0, 0)
    if sid >= 0:
        libc.shmctl(sid, 0, None)  # IPC_RMID


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SysV IPC through the C library (Linux)")
def test_a_later_job_cannot_read_what_an_earlier_job_left_in_shared_memory(tmp_path):
    key = 0x44530000 | secrets.randbelow(0xFFFF)
    s = Scenario(tmp_path, {"f.py": STASH_FUNCS % key, "s.dsc": STASH_DSC, "t.csv": SECRET_CSV,
                            "u.csv": "a\n1\n"})
    try:
        first = s.world.propose("count_rows", "mallory")
        s.world.approve(first.id, "alice")  # alice consents to a row count going to mallory
        assert s.world.execute(first.id, "mallory").status == "executed"
        second = s.world.propose("own_only", "mallory")  # reads mallory's own data only
        s.world.approve(second.id, "mallory")
        assert s.world.execute(second.id, "mallory").status == "executed"
        released = b"".join(p.read_bytes() for p in _outbox(s))
        assert SECRET_TEXT.encode() not in released, released[:200]
    finally:
        s.close()
        _shm_remove(key)


SPAWN_FUNCS = '''
import ctypes
import os
import time


def spawn(u):
    """Starts a process through the C library (the audit hook sees no Python event)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.fork()
    if pid == 0:  # a grandchild that would outlive the job and its wall-time limit
        time.sleep(60)
        os._exit(0)
    return {"pid": int(pid), "errno": ctypes.get_errno()}
'''

SPAWN_DSC = '''use "f.py"
agent mallory
data mallory.u csv "u.csv"

contract fork_out {
  by      mallory
  compute spawn(u = mallory.u)
  to      mallory
}
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="seccomp (Linux)")
def test_a_user_function_starts_no_process_through_the_c_library(tmp_path):
    import errno
    import json

    s = Scenario(tmp_path, {"f.py": SPAWN_FUNCS, "s.dsc": SPAWN_DSC, "u.csv": "a\n1\n"})
    try:
        row = s.world.propose("fork_out", "mallory")
        s.world.approve(row.id, "mallory")
        assert s.world.execute(row.id, "mallory").status == "executed"
        got = json.loads(b"".join(p.read_bytes() for p in _outbox(s)))
        assert got == {"pid": -1, "errno": errno.EPERM}, got  # refused by the child's seccomp filter
    finally:
        s.close()
