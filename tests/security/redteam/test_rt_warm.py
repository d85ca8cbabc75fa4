"""Attacks on the start-up warming of the decision index (`server.warm_decisions`:
`start_warming` -> `Escrow.warm_decisions` -> `execution.warm`), played from docs/server.md and
docs/security.md: hand edits of the store before start-up, another process writing while the
server warms, revocations and executions racing the warming thread, a store error and a
shutdown in the middle of it, a contract whose derivation raises something else than a
refusal, many approved contracts."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datastation.runtime.escrow import APPROVE, EXECUTE, PROPOSE, REJECT, REVOKE, Escrow, propose_params
from datastation.runtime.server.app import create_app
from rt_support import COPY_FUNCS, SECRET_CSV, Scenario
from rt_support import refusal_code as _code

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

contract grab2 {
  by      mallory
  compute copy(t = alice.t)
  to      mallory
}
'''


@pytest.fixture
def sc(tmp_path):
    s = Scenario(tmp_path, {"f.py": COPY_FUNCS, "s.dsc": DSC, "t.csv": SECRET_CSV})
    yield s
    s.close()


def _outbox(sc, who="mallory"):
    d = sc.world.config.outbox_path / who
    return [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []


def _db(path):
    return sqlite3.connect(str(path), isolation_level=None)


def _cold(config):
    return dataclasses.replace(config, server=dataclasses.replace(config.server, warm_decisions=False))


@contextlib.contextmanager
def _served(config, *, wait=True):
    """The app of `config` started (its escrow opened and warming); with `wait`, once warmed."""
    client = TestClient(create_app(config))
    client.__enter__()
    try:
        thread = client.app.state.warming[0] if client.app.state.warming else None
        if wait and thread is not None:
            thread.join(timeout=120)
            assert not thread.is_alive()
        yield client, client.app.state.escrow, thread
    finally:
        client.__exit__(None, None, None)


def _approved(sc, name="grab"):
    row = sc.world.propose(name, "mallory")
    sc.world.approve(row.id, "alice")
    return row


# ------------------------------------------------------------------ hand edits before start-up


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_rejected_contract_set_back_to_approved_by_hand_releases_nothing(sc, warm):
    """H20 (not the warming's: the cold path released too). alice approves, then rejects (her
    approval row stays, only the status column says `rejected`); whoever can write the store
    without the escrow's key (docs/security.md "Edits of the store"; H10 plays the same edit on
    a contract nobody approved) sets the status back to `approved`. The server warms it at
    start-up (or not); mallory executes: alice's table is released to her, though alice's
    signed `rejection` entry is in the log. Execution reads rejected/revoked from the mutable
    status column only."""
    row = _approved(sc)
    esc = sc.world.escrow
    esc.reject(esc.sign_as("alice", REJECT, {"contract": row.id, "reason": "no"}))
    assert esc.store.get_contract(row.id).status == "rejected"
    sc.world.close()
    with _db(sc.world.config.store.path) as db:
        db.execute("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    with _served(sc.world.config if warm else _cold(sc.world.config)) as (_client, e, _thread):
        assert (row.id in e.ctx.decisions.entries) == warm  # warmed: its approvals' signatures verify
        code = _code(lambda: e.execute(e.sign_as("mallory", EXECUTE, {"contract": row.id})))
    sc.world.escrow = Escrow.open(sc.world.config)
    assert not _outbox(sc), f"released a rejected contract after a hand edit of its status (code {code})"
    assert code is not None


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_withdrawn_approval_put_back_by_hand_releases_nothing(sc, warm):
    """H20, its other half: alice approves, then withdraws her approval (the row is deleted); the
    store's editor puts the row back (the signature it saved: valid, over the same contract) and
    sets the status to `approved`. Her signed `revocation` entry stands: nothing is released."""
    row = _approved(sc)
    esc = sc.world.escrow
    saved = esc.store.approvals(row.id)[0]
    esc.revoke(esc.sign_as("alice", REVOKE, {"contract": row.id}))
    assert esc.store.approvals(row.id) == []
    sc.world.close()
    with _db(sc.world.config.store.path) as db:
        db.execute("INSERT INTO approvals (contract_id, agent, signature, ts) VALUES (?, 'alice', ?, ?)",
                   (row.id, saved.signature, saved.ts))
        db.execute("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    with _served(sc.world.config if warm else _cold(sc.world.config)) as (_client, e, _thread):
        code = _code(lambda: e.execute(e.sign_as("mallory", EXECUTE, {"contract": row.id})))
    sc.world.escrow = Escrow.open(sc.world.config)
    assert not _outbox(sc), f"released after a withdrawn approval was put back by hand (code {code})"
    assert code == "awaiting_approval"


# ------------------------------------------------------------------ many approved contracts


def _many(root: Path, n: int, agents: int = 4):
    """A World with `n` approved contracts over `agents` owners' data (each approved by its owner)."""
    from harness import World

    from datastation.runtime.escrow import make_bundle

    w = World(root)
    names = [f"a{i}" for i in range(agents)]
    w.agent(*names)
    for a in names:
        w.data(f"{a}.t", b"x,y\n1,2\n3,4\n")
    lines = [f"agent {a}" for a in names] + [f'data {a}.t csv "{a}.csv"' for a in names]
    lines += [f"contract c{j} {{\n  by a{j % agents}\n  compute rows(a{(j + 1) % agents}.t)\n  to a{j % agents}\n}}"
              for j in range(n)]
    f = root / "many.dsc"
    f.write_text("\n".join(lines) + "\n")
    bundle, e, ids = make_bundle(f), w.escrow, []
    for j in range(n):
        row = e.propose(e.sign_as(f"a{j % agents}", PROPOSE, propose_params(bundle, f"c{j}"))).row
        owner = f"a{(j + 1) % agents}"
        e.approve(e.sign_as(owner, APPROVE, e.approval_params(owner, row.id)))
        ids.append(row.id)
    return w, ids


def test_warming_does_not_lock_other_processes_out_of_the_store(tmp_path):
    """docs/server.md: a writer of another process waits up to 30 s for SQLite's write lock
    (`dsc invite` on the escrow's machine, a `dsc` command against the same escrow), then fails.
    The warming verifies each contract in a write transaction (`BEGIN IMMEDIATE`), one after
    the other with no pause: another process's writer, which polls the lock (sleeping up to
    100 ms between tries), finds it taken every time and gets in only when the whole warm-up is
    over. With enough approved contracts (any agent can make them: its own data, its own
    approval; ~1 ms each here) every other process's write at start-up fails as `busy`.

    Here: while the warm-up of 1,000 contracts (~1 s) runs, another connection (another
    process, for SQLite's lock) samples the write lock every 2 ms without waiting (what a polling
    writer sees on each try): it finds it taken nearly every time."""
    w, ids = _many(tmp_path, 1000)
    config = w.config
    w.close()
    with _served(config, wait=False) as (_client, e, thread):
        index = e.ctx.decisions
        deadline = time.monotonic() + 30
        while index.stats["built"] < 50 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert thread.is_alive() and index.stats["built"] < len(ids) // 2, "warm-up too fast to observe"
        other = sqlite3.connect(str(config.store.path), timeout=0, isolation_level=None)
        tries = taken = 0
        try:
            while thread.is_alive() and index.stats["built"] < len(ids) * 0.9:
                tries += 1
                try:
                    other.execute("BEGIN IMMEDIATE")  # what any write of another process starts with
                    other.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    taken += 1
                time.sleep(0.002)
        finally:
            other.close()
    assert tries >= 50, tries
    assert taken / tries < 0.5, (f"the write lock was taken at {taken} of {tries} tries while the server only "
                                 f"verified contracts: a writer of another process waits for the whole warm-up")


def test_one_contract_whose_derivation_raises_does_not_end_the_warm_up(tmp_path):
    """`Escrow.warm_decisions` promises (verified, refused): a contract whose records do not
    verify is refused and not cached. A row edited into something the derivation does not
    expect (the recipients column holding a number, not a list) raises a TypeError, not a
    refusal: the whole warm-up stops at it (newest first: nothing else is verified), the
    server only logs "decision index not warmed: TypeError". No release follows (that contract's
    execute still fails), but one edited row disables the warming of every other contract."""
    w, ids = _many(tmp_path, 20)
    config = w.config
    w.close()
    newest = ids[-1]
    with _db(config.store.path) as db:
        db.execute("UPDATE contracts SET recipients = '5' WHERE id = ?", (newest,))
    e = Escrow.open(config)
    try:
        try:
            verified, refused = e.warm_decisions()
        except Exception as exc:  # noqa: BLE001 - what the server's warming thread would log
            pytest.fail(f"the warm-up ended at the edited contract ({type(exc).__name__}); "
                        f"{len(e.ctx.decisions.entries)} of {len(ids) - 1} intact contracts verified")
        assert (verified, refused) == (len(ids) - 1, 1)
        assert newest not in e.ctx.decisions.entries
        owner = "a3"  # c19: by a3, to a3
        assert _code(lambda: e.execute(e.sign_as(owner, EXECUTE, {"contract": newest}))) is not None
        assert e.store.releases(contract_id=newest) == []
    finally:
        e.close()


# ------------------------------------------------------------------ races with the warming thread (held)


def _owner_and_recipient(j: int, agents: int = 4) -> tuple[str, str]:
    return f"a{(j + 1) % agents}", f"a{j % agents}"


def test_revocations_during_warming_are_never_overridden(tmp_path):
    """While the server warms (newest first), the owners of the oldest contracts withdraw their
    approvals: half through the server's own escrow (a request thread), half through a second
    escrow on the same store (another process). Held: each withdrawn contract is refused
    (`awaiting_approval`) after the warm-up, the others run."""
    w, ids = _many(tmp_path, 200)
    config = w.config
    w.close()
    withdrawn = list(range(0, 40))
    other = Escrow.open(config)
    try:
        with _served(config, wait=False) as (_client, e, thread):
            for j in withdrawn:
                esc = e if j % 2 else other
                owner, _ = _owner_and_recipient(j)
                esc.revoke(esc.sign_as(owner, REVOKE, {"contract": ids[j]}))
            thread.join(timeout=120)
            assert not thread.is_alive()
            for j in withdrawn + [150, 199]:
                _, recipient = _owner_and_recipient(j)
                code = _code(lambda: e.execute(e.sign_as(recipient, EXECUTE, {"contract": ids[j]})))
                assert code == ("awaiting_approval" if j in withdrawn else None), (j, code)
            for j in withdrawn:
                assert e.store.releases(contract_id=ids[j]) == []
    finally:
        other.close()


def test_executions_racing_the_warming_thread_release_once(tmp_path):
    """Recipients execute contracts (each from two threads at once) while the server verifies
    them into its index. Held: each is released exactly once, the others refused as running or
    executed; the log verifies."""
    w, ids = _many(tmp_path, 200)
    config = w.config
    w.close()
    picked = [0, 1, 2, 100, 101, 198, 199]
    with _served(config, wait=False) as (_client, e, thread):
        out: dict[int, list] = {j: [] for j in picked}
        barrier = threading.Barrier(2 * len(picked))

        def go(j):
            _, recipient = _owner_and_recipient(j)
            request = e.sign_as(recipient, EXECUTE, {"contract": ids[j]})
            barrier.wait()
            out[j].append(_code(lambda: e.execute(request)))

        threads = [threading.Thread(target=go, args=(j,)) for j in picked for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        thread.join(timeout=120)
        for j in picked:
            assert sorted(map(str, out[j])) in (["None", "already_executed"], ["None", "already_running"]), (j, out[j])
            assert len(e.store.releases(contract_id=ids[j])) == 1
        # after the warm-up (the index holds them executed): refused from memory
        for j in picked:
            _, recipient = _owner_and_recipient(j)
            assert _code(lambda: e.execute(e.sign_as(recipient, EXECUTE, {"contract": ids[j]}))) == "already_executed"
        from datastation.runtime.audit import verify_log

        assert verify_log(e.store, e.ctx.escrow_public_pem).ok


def test_shutdown_while_warming_is_prompt_and_closes_after_the_thread(tmp_path):
    """The server stops while it warms: the lifespan stops the thread between two contracts and
    joins it before closing the store. Held: shutdown within a second or so, the thread gone, no
    store use after close (the thread ends without an error)."""
    w, ids = _many(tmp_path, 300)
    config = w.config
    w.close()
    client = TestClient(create_app(config))
    client.__enter__()
    thread, stop = client.app.state.warming
    index = client.app.state.escrow.ctx.decisions
    while index.stats["built"] < 10:
        time.sleep(0.001)
    t = time.monotonic()
    client.__exit__(None, None, None)
    took = time.monotonic() - t
    assert not thread.is_alive() and stop.is_set()
    assert took < 2.0, took
    assert index.stats["built"] < len(ids)


def test_a_store_error_during_warming_leaves_decisions_right(tmp_path, caplog):
    """The store fails in the middle of the warm-up (after 5 contracts): the thread logs the
    error's type only and stops; requests are then decided lazily. Held: a warmed and an
    unwarmed contract run, a contract whose approval was withdrawn afterwards is refused."""
    from datastation.runtime.store import StoreError

    w, ids = _many(tmp_path, 20)
    config = w.config
    w.close()
    e = Escrow.open(config)
    real = e.ctx.store.decision_state
    calls = {"n": 0}

    def failing(cid):
        calls["n"] += 1
        if calls["n"] == 6:
            raise StoreError("reading the escrow database: disk I/O error S3CR3T")
        return real(cid)

    e.ctx.store.decision_state = failing
    try:
        with caplog.at_level("INFO", logger="datastation.server"):
            with _served_escrow(config, e) as thread:
                thread.join(timeout=60)
                assert not thread.is_alive()
                assert len(e.ctx.decisions.entries) == 5
                assert "StoreError" in caplog.text and "S3CR3T" not in caplog.text
                owner, recipient = _owner_and_recipient(0)
                e.revoke(e.sign_as(owner, REVOKE, {"contract": ids[0]}))
                assert _code(lambda: e.execute(e.sign_as(recipient, EXECUTE, {"contract": ids[0]}))) == "awaiting_approval"
                for j in (19, 3):  # warmed (newest first), not warmed
                    _, recipient = _owner_and_recipient(j)
                    assert _code(lambda: e.execute(e.sign_as(recipient, EXECUTE, {"contract": ids[j]}))) is None
    finally:
        e.ctx.store.decision_state = real
        e.close()


@contextlib.contextmanager
def _served_escrow(config, escrow):
    client = TestClient(create_app(config, escrow))
    client.__enter__()
    try:
        yield client.app.state.warming[0]
    finally:
        client.__exit__(None, None, None)
