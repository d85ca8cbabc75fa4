"""No process and no scratch folder of a full-trust execution outlives the escrow's process:
after `dsc execute` ends, and after it is killed mid-job (SIGKILL: nothing of the escrow runs
again), the fork server and every child it made are gone, and so are their scratch folders
(the children asked for ahead of the next job included)."""

import json
import os
import signal
import time
from pathlib import Path

from test_lifecycle_interrupts import _log


def _scratch(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("dsc-job-"))


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            for k in kids:
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(cond, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _private_tmp(scen) -> Path:
    tmp = scen.root / "tmp"
    tmp.mkdir()
    scen.env["TMPDIR"] = str(tmp)
    return tmp


def test_an_execution_that_ended_leaves_no_scratch_folder(scen):
    tmp = _private_tmp(scen)
    cid = scen.approved("quits")  # its user code runs in a child (and exits)
    proc = scen.popen("execute", cid, "--as", "bob", "--format", "json")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and json.loads(out)["status"] == "error"
    assert _until(lambda: not _scratch(tmp)), _scratch(tmp)


def test_a_killed_escrow_leaves_no_process_and_no_scratch_folder(scen):
    tmp = _private_tmp(scen)
    cid = scen.approved("slow")
    proc = scen.popen("execute", cid, "--as", "bob")
    deadline = time.monotonic() + 60
    while not [e for e in _log(scen, cid) if e["kind"] == "data_read"]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    made = _descendants(proc.pid)  # the fork server, the child running `slow`, the spares
    assert len(made) >= 2 and _scratch(tmp)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _until(lambda: not [p for p in made if _alive(p)]), [p for p in made if _alive(p)]
    assert _until(lambda: not _scratch(tmp)), _scratch(tmp)
