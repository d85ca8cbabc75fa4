"""One execution per contract, results published with their record, and recovery at open.

**Claim.** An execution claims its contract in the transaction that checks it (status
`approved` -> `running`, a compare-and-set), before any user code runs; every other attempt
is refused (`already_running`). The executing process also holds `RunLock`, an exclusive
lock on `<escrow_dir>/run/<contract id>.lock`, until its result is published: the OS drops
it when the process dies, which is how recovery tells a live execution from a dead one.

**Publication.** Result files are first written complete (temp file, fsync, rename) under
`<outbox>/.pending/<execution id>/<recipient>/`, outside every recipient's folder; then one
transaction records the releases (with each file's hash); then each file is renamed into
`<outbox>/<recipient>/`. A crash before the commit leaves no release and no published file;
after it, the release is recorded and the next open finishes the renames.

**Recovery** (`recover`, run whenever the escrow is opened): an execution still `running`
whose process is gone is marked `interrupted` and its contract returns to `approved`
(nothing was released: it may be executed again); pending files of committed releases are
published, others deleted; storage files left by a crashed `data add` are collected.
Nothing here imports the escrow's services: the context runs it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from pathlib import Path

from datastation.contracts.status import ContractStatus

from ..crashpoints import crash_point
from ..fsutil import fsync_dir
from ..storage import atomic_write

PENDING_DIR = ".pending"  # under the outbox: not an agent name, so never a recipient's folder
_ID = re.compile(r"[0-9a-f]{64}\Z")
INTERRUPTED = "interrupted"  # status of an execution whose process died before it finished


class RunLock:
    """An exclusive, process-bound lock on one contract's execution (see the module docstring)."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def try_acquire(cls, config, contract_id: str) -> "RunLock | None":
        """The lock, or None when another live execution (or recovery) holds it."""
        if not isinstance(contract_id, str) or not _ID.match(contract_id):
            return None
        directory = Path(config.escrow_dir) / "run"
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{contract_id}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:  # the holder before us may have removed the file: then ours is not the lock
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls(path, fd)
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file and let go (a waiting locker sees the file changed and retries)."""
        if self.fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1


# ------------------------------------------------------------------ publication


def pending_path(config, execution_id: int, final: Path) -> Path:
    """Where the file to publish at `final` (<outbox>/<recipient>/<name>) waits for its release."""
    final = Path(final)
    return Path(config.outbox_path) / PENDING_DIR / str(int(execution_id)) / final.parent.name / final.name


def stage(config, execution_id: int, final: Path, blob: bytes) -> Path:
    """Write `blob` completely (fsync'd) under its pending name; nothing is visible to recipients."""
    path = pending_path(config, execution_id, final)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, blob)
    return path


def publish(config, execution_id: int, final: Path, file_hash: str | None) -> bool:
    """Rename a recorded release's pending file to its place (when it holds what was recorded)."""
    final = Path(final)
    src = pending_path(config, execution_id, final)
    if not src.is_file():
        return final.is_file()  # published already
    if file_hash is not None and hashlib.sha256(src.read_bytes()).hexdigest() != file_hash:
        return False  # not what was recorded: left for `dsc audit verify` to report the missing file
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(src, final)
    fsync_dir(final.parent)
    return True


def discard_pending(config, execution_id: int) -> None:
    """Delete what an execution staged (nothing of it was released)."""
    shutil.rmtree(Path(config.outbox_path) / PENDING_DIR / str(int(execution_id)), ignore_errors=True)


# ------------------------------------------------------------------ recovery


def recover(ctx) -> dict[str, list]:
    """Finish or discard what crashed executions and adds left behind (see the module docstring)."""
    done: dict[str, list] = {"interrupted": [], "published": [], "discarded": [], "collected": []}
    for e in ctx.store.executions(status="running"):
        _interrupt(ctx, e, done)
    root = Path(ctx.config.outbox_path) / PENDING_DIR
    if root.is_dir():
        for d in sorted(root.iterdir()):
            _settle_pending(ctx, d, done)
    collected = ctx.storage.collect(lambda: {(r.owner, r.content_hash) for r in ctx.store.list_data()})
    done["collected"] = collected or []
    return done


def _interrupt(ctx, e, done: dict) -> None:
    lock = RunLock.try_acquire(ctx.config, e.contract_id)
    if lock is None:
        return  # its process is alive (or another recovery is at it)
    try:
        with ctx.store.transaction():
            current = ctx.store.get_execution(e.id)
            if current is None or current.status != "running":
                return
            ctx.store.finish_execution(e.id, INTERRUPTED, {**(current.detail or {}), "status": INTERRUPTED})
            ctx.store.swap_contract_status(e.contract_id, ContractStatus.RUNNING, ContractStatus.APPROVED)
            ctx.audit.append("recovery", contract=e.contract_id,
                             payload={"execution": e.id, "outcome": INTERRUPTED,
                                      "detail": "its process ended before it finished: nothing was released"})
        crash_point("recover.interrupted")
        discard_pending(ctx.config, e.id)
        done["interrupted"].append(e.id)
    finally:
        lock.release()


def _settle_pending(ctx, d: Path, done: dict) -> None:
    if not d.name.isdigit():
        shutil.rmtree(d, ignore_errors=True)
        return
    eid = int(d.name)
    e = ctx.store.get_execution(eid)
    if e is None:
        shutil.rmtree(d, ignore_errors=True)
        return
    lock = RunLock.try_acquire(ctx.config, e.contract_id)
    if lock is None:
        return  # the execution is alive: it publishes its own files
    try:
        e = ctx.store.get_execution(eid)  # as it is now that no execution of its contract can change it
        if e.status == "running":
            return  # not interrupted yet (a recovery that lost the race): the next open settles it
        releases = [r for r in ctx.store.releases(contract_id=e.contract_id) if r.execution_id == eid]
        for r in releases:
            if publish(ctx.config, eid, Path(r.path), r.file_hash or r.content_hash):
                crash_point("recover.published")
        shutil.rmtree(d, ignore_errors=True)
        (done["published"] if releases else done["discarded"]).append(eid)
    finally:
        lock.release()

