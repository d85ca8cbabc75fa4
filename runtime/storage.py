"""Data element contents: files under the storage path, addressed by content hash.

Layout: `<storage_path>/<owner>/<hash[:2]>/<hash>` where hash = sha256 of the plaintext.
Writes are atomic (temp file + fsync + os.replace + directory fsync), so a crash leaves
either no file or the whole file. Files pass through a `Codec` on the way in and out:
identity in full_trust mode; the no_trust mode plugs encryption at rest here (see
`codec_for`). A file whose decoded contents do not match its hash is reported, never served.

Contents are written before the transaction that records their row, so a crash in between
leaves a file no row references. Writers hold `Storage.writing()` from the file to the
commit (a shared lock, and an intent file that outlives a crashed writer); `collect` (run
when the escrow opens) removes unreferenced files only when intents were left behind and no
writer is active, so it never takes a file from an add still in flight.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable, Protocol

from .fsutil import fsync_dir
from .keys import NAME_RE
from .crashpoints import crash_point

_HEX = frozenset("0123456789abcdef")


class StorageError(Exception):
    """A content file is missing, corrupt or could not be written; the message is fit for a user."""


class Codec(Protocol):
    """Transforms contents at rest. `owner` selects per-owner keys; `content_hash` may serve as AAD."""

    name: str

    def encode(self, data: bytes, *, owner: str, content_hash: str) -> bytes: ...

    def decode(self, blob: bytes, *, owner: str, content_hash: str) -> bytes: ...


class IdentityCodec:
    name = "identity"

    def encode(self, data: bytes, *, owner: str, content_hash: str) -> bytes:
        return data

    def decode(self, blob: bytes, *, owner: str, content_hash: str) -> bytes:
        return blob


# Hook for encryption at rest: a factory `(config) -> Codec` used when trust_mode is no_trust.
# The crypto package registers itself with `register_codec_factory`; when nothing is registered,
# `codec_for` imports `datastation.runtime.crypto` and uses its `storage_codec(config)`.
_codec_factory: Callable[[object], Codec] | None = None


def register_codec_factory(factory: Callable[[object], Codec] | None) -> None:
    global _codec_factory
    _codec_factory = factory


def codec_for(config) -> Codec:
    if config.trust_mode != "no_trust":
        return IdentityCodec()
    factory = _codec_factory
    if factory is None:
        try:
            from .crypto import codec as crypto_codec  # type: ignore[attr-defined]

            factory = crypto_codec.storage_codec
        except (ImportError, AttributeError):
            raise StorageError("no_trust mode needs encryption at rest, but no storage codec is available") from None
    try:
        return factory(config)
    except Exception as exc:  # the codec's own errors (missing KEK, ...) carry user-fit messages
        raise StorageError(f"cannot set up encryption at rest: {exc}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that a crash leaves either the old state or the whole new file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        crash_point("storage.written")
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        tmp = ""
        crash_point("storage.replaced")
        fsync_dir(path.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


class Storage:
    """Content-addressed files for data elements (and kept results)."""

    def __init__(self, root: str | os.PathLike, codec: Codec | Callable[[], Codec] | None = None,
                 state_dir: str | os.PathLike | None = None):
        """`codec` may be a zero-argument factory: it is then built on first use (so commands that
        never touch contents do not need, e.g., the key-encryption key). `state_dir` holds the
        writers' lock and intents (default: the storage folder itself)."""
        self.root = Path(root)
        self._codec = codec or IdentityCodec()
        self.state_dir = Path(state_dir) if state_dir is not None else self.root

    @property
    def codec(self) -> Codec:
        if callable(self._codec) and not hasattr(self._codec, "encode"):
            self._codec = self._codec()
        return self._codec

    @codec.setter
    def codec(self, value: Codec) -> None:
        self._codec = value

    def path_for(self, owner: str, content_hash: str) -> Path:
        if not NAME_RE.match(owner or ""):
            raise StorageError(f"invalid owner name {owner!r}")
        if len(content_hash) != 64 or not set(content_hash) <= _HEX:
            raise StorageError(f"invalid content hash {content_hash!r}")
        return self.root / owner / content_hash[:2] / content_hash

    def put(self, data: bytes, owner: str) -> str:
        """Store `data` for `owner`; returns its sha256. Idempotent: existing contents are kept."""
        h = sha256_hex(data)
        path = self.path_for(owner, h)
        if path.exists():
            return h
        try:
            blob = self.codec.encode(data, owner=owner, content_hash=h)
        except Exception as exc:
            raise StorageError(f"cannot encode contents for {owner} ({self.codec.name}): {exc}") from None
        try:
            atomic_write(path, blob)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from None
        return h

    def put_file(self, src: str | os.PathLike, owner: str, content_hash: str) -> str:
        """Store the file `src` (whose sha256 the caller checked) for `owner`, streamed through the
        codec one chunk at a time (no whole file in memory). Idempotent like `put`."""
        path = self.path_for(owner, content_hash)
        if path.exists():
            return content_hash
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out, open(src, "rb") as fin:
                codec = self.codec
                if hasattr(codec, "encode_stream"):
                    codec.encode_stream(fin, out, owner)
                elif isinstance(codec, IdentityCodec) or not getattr(codec, "encrypted", False):
                    for chunk in iter(lambda: fin.read(1 << 20), b""):
                        out.write(codec.encode(chunk, owner=owner, content_hash=content_hash))
                else:  # an encrypting codec without a stream form: only whole contents
                    out.write(codec.encode(fin.read(), owner=owner, content_hash=content_hash))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            tmp = ""
            fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from None
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"cannot encode contents for {owner} ({self.codec.name}): {exc}") from None
        finally:
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return content_hash

    def get(self, owner: str, content_hash: str) -> bytes:
        """The plaintext contents; `StorageError` when missing or not matching the hash."""
        path = self.path_for(owner, content_hash)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise StorageError(f"contents {content_hash[:12]} of {owner} are missing from storage ({path})") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            data = self.codec.decode(blob, owner=owner, content_hash=content_hash)
        except Exception as exc:
            raise StorageError(f"contents {content_hash[:12]} of {owner} cannot be decoded ({self.codec.name}): {exc}") from None
        if sha256_hex(data) != content_hash:
            raise StorageError(f"contents {content_hash[:12]} of {owner} are corrupt (hash mismatch)")
        return data

    def exists(self, owner: str, content_hash: str) -> bool:
        return self.path_for(owner, content_hash).is_file()

    def delete(self, owner: str, content_hash: str) -> bool:
        try:
            self.path_for(owner, content_hash).unlink()
            return True
        except FileNotFoundError:
            return False

    def all_objects(self) -> set[tuple[str, str]]:
        """Every (owner, hash) present on disk."""
        found: set[tuple[str, str]] = set()
        if not self.root.is_dir():
            return found
        for owner_dir in self.root.iterdir():
            if not owner_dir.is_dir():
                continue
            for f in owner_dir.glob("??/*"):
                if f.is_file() and len(f.name) == 64 and not f.name.startswith(".tmp-"):
                    found.add((owner_dir.name, f.name))
        return found

    def gc(self, referenced: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Delete files (and leftover temp files) no row references: debris of crashes or removals.

        Only safe while no writer is active: use `collect`, which makes sure of it."""
        removed = []
        for item in sorted(self.all_objects() - referenced):
            if self.delete(*item):
                removed.append(item)
        if self.root.is_dir():
            for tmp in self.root.glob("*/??/.tmp-*"):
                tmp.unlink(missing_ok=True)
        return removed

    # -- writers and collection -------------------------------------------------------
    _LOCK, _INTENTS = ".storage-writers.lock", ".storage-intents"

    def _lock_fd(self) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(self.state_dir / self._LOCK, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def writing(self):
        """Hold while writing contents that a transaction is about to reference: until it commits
        (or fails), `collect` leaves every file alone. A writer that crashed or failed leaves its
        intent file behind, so that the next `collect` looks for what it left."""
        fd = self._lock_fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            intents = self.state_dir / self._INTENTS
            intents.mkdir(exist_ok=True, mode=0o700)
            intent = intents / f"{os.getpid()}-{secrets.token_hex(6)}"
            intent.touch(mode=0o600)
            yield
            # Only a writer whose transaction ended normally takes its intent back: after an
            # error its file may be unreferenced, and the intent gets it collected.
            intent.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the lock

    def discard(self, owner: str, content_hash: str, referenced) -> bool:
        """Delete one file if `referenced()` says no row needs it, unless a writer is active (its
        row could be about to reference the same contents): then it is left to `collect`."""
        fd = self._lock_fd()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._leave_intent()
                return False
            return not referenced() and self.delete(owner, content_hash)
        finally:
            os.close(fd)

    def _leave_intent(self) -> None:
        intents = self.state_dir / self._INTENTS
        intents.mkdir(exist_ok=True, mode=0o700)
        (intents / f"deferred-{secrets.token_hex(6)}").touch(mode=0o600)

    def collect(self, referenced) -> list[tuple[str, str]] | None:
        """Remove what crashed writers left behind: when intent files remain and no writer is active,
        `gc(referenced())` and clear the intents. None when a writer is active (try again later)."""
        intents = self.state_dir / self._INTENTS
        if not intents.is_dir() or not any(intents.iterdir()):
            return []
        fd = self._lock_fd()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            crash_point("storage.collect")
            removed = self.gc(referenced())
            for f in intents.iterdir():
                f.unlink(missing_ok=True)
            return removed
        finally:
            os.close(fd)
