"""Private key files: PKCS#8 PEM, passphrase-protected with scrypt, written whole or not at all.

A protected key is a standard `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, RFC 8018) whose key
derivation is scrypt (RFC 7914, N=2^17, r=8, p=1: about 128 MiB and half a second per
derivation) and whose cipher is AES-256-CBC. cryptography's `BestAvailableEncryption` would
use PBKDF2 with 2048 iterations, which a guessing attack runs through quickly; the
container is written here (a few fixed DER structures) and read back here too, so it does not
depend on the scrypt memory limit of the OpenSSL in use. Any other PEM private key (unencrypted,
or encrypted by another tool) is read by cryptography.

Key files are created with mode 0600 from their first byte and appear under their name only
once complete (`write_secret_file`): a crash leaves either the whole key or nothing, and never
a temporary file holding a key. A key file that other users may read is refused.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .crashpoints import crash_point
from .fsutil import fsync_dir

SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
# What a key file may ask of us: a hostile file must not make the reader allocate gigabytes or
# spin for minutes (128·N·r bytes of memory, work ∝ N·r·p; ours: 128 MiB and 2^20).
_MAX_MEMORY = 256 * 1024 * 1024
_MAX_WORK = 4 << (SCRYPT_LOG_N + 3)

_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_BEGIN, _END = b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"-----END ENCRYPTED PRIVATE KEY-----"


class KeysError(Exception):
    """A key could not be created, read or used; the message is fit for a user."""


# ------------------------------------------------------------------ DER, the little we need


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _int(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


class _Der:
    """A strict reader of the structures `encrypt_private_key` writes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, tag: int) -> bytes:
        d, i = self.data, self.pos
        if i + 2 > len(d) or d[i] != tag:
            raise ValueError("unexpected DER")
        n, i = d[i + 1], i + 2
        if n & 0x80:
            k = n & 0x7F
            if not 0 < k <= 4 or i + k > len(d):
                raise ValueError("bad DER length")
            n, i = int.from_bytes(d[i:i + k], "big"), i + k
        if i + n > len(d):
            raise ValueError("truncated DER")
        self.pos = i + n
        return d[i:i + n]

    def seq(self) -> "_Der":
        return _Der(self.read(0x30))

    def int(self) -> int:
        body = self.read(0x02)
        if not body or body[0] & 0x80:
            raise ValueError("bad DER integer")
        return int.from_bytes(body, "big")

    def done(self) -> bool:
        return self.pos == len(self.data)


# ------------------------------------------------------------------ encryption


def _scrypt_key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def encrypt_private_key(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """The PEM of `key` encrypted under `passphrase` (PKCS#8 PBES2: scrypt + AES-256-CBC)."""
    if not passphrase:
        raise KeysError("an empty passphrase protects nothing")
    salt, iv = os.urandom(16), os.urandom(16)
    n = 1 << SCRYPT_LOG_N
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(_scrypt_key(passphrase, salt, n, SCRYPT_R, SCRYPT_P)), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    der = _seq(
        _seq(_oid(_OID_PBES2), _seq(
            _seq(_oid(_OID_SCRYPT), _seq(_tlv(0x04, salt), _int(n), _int(SCRYPT_R), _int(SCRYPT_P))),
            _seq(_oid(_OID_AES256_CBC), _tlv(0x04, iv)),
        )),
        _tlv(0x04, ciphertext),
    )
    b64 = base64.b64encode(der)
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return b"\n".join([_BEGIN, *lines, _END]) + b"\n"


def _scrypt_parts(pem: bytes) -> tuple[bytes, int, int, int, bytes, bytes] | None:
    """(salt, N, r, p, iv, ciphertext) of a PBES2/scrypt/AES-256-CBC key, or None for another kind."""
    text = pem.strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        return None
    try:
        top = _Der(base64.b64decode(b"".join(text[len(_BEGIN):-len(_END)].split()), validate=True)).seq()
        alg = top.seq()
        if alg.read(0x06) != _oid(_OID_PBES2)[2:]:
            return None
        params = alg.seq()
        kdf, cipher = params.seq(), params.seq()
        if kdf.read(0x06) != _oid(_OID_SCRYPT)[2:] or cipher.read(0x06) != _oid(_OID_AES256_CBC)[2:]:
            return None
        sp = kdf.seq()
        salt, n, r, p = sp.read(0x04), sp.int(), sp.int(), sp.int()
        if not sp.done() and sp.int() != 32:
            raise ValueError("key length")
        iv, ciphertext = cipher.read(0x04), top.read(0x04)
    except (ValueError, TypeError):
        raise KeysError("damaged") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r > _MAX_MEMORY or n * r * p > _MAX_WORK or len(iv) != 16:
        raise KeysError("unsupported scrypt parameters")
    return salt, n, r, p, iv, ciphertext


def is_encrypted(pem: bytes) -> bool:
    return b"ENCRYPTED" in pem.lstrip().split(b"\n", 1)[0]


def decrypt_private_key(pem: bytes, passphrase: bytes | None, *, what: str = "key") -> Ed25519PrivateKey:
    """The Ed25519 key of a PEM file's bytes (`passphrase` for an encrypted one)."""
    encrypted = is_encrypted(pem)
    if encrypted and not passphrase:
        raise KeysError(f"{what} is protected by a passphrase; provide it (see --passphrase-env)")
    try:
        parts = _scrypt_parts(pem) if encrypted else None
    except KeysError as exc:
        raise KeysError(f"{what} is not a readable encrypted key ({exc})") from None
    try:
        if parts is not None:
            salt, n, r, p, iv, ciphertext = parts
            dec = Cipher(algorithms.AES(_scrypt_key(passphrase, salt, n, r, p)), modes.CBC(iv)).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(dec.update(ciphertext) + dec.finalize()) + unpadder.finalize()
            key = serialization.load_der_private_key(plain, None)
        else:
            key = serialization.load_pem_private_key(pem, password=passphrase if encrypted else None)
    except (ValueError, TypeError):
        if encrypted:
            raise KeysError(f"wrong passphrase for {what}") from None
        raise KeysError(f"{what} is not a valid PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeysError(f"{what} is not an Ed25519 key")
    return key


def private_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PEM of `key`: scrypt-protected with a passphrase, plain PKCS#8 without (development keys)."""
    if passphrase:
        return encrypt_private_key(key, passphrase)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# ------------------------------------------------------------------ files


def write_secret_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 holding `data`, whole or not at all; never overwrites.

    On Linux the bytes go to an unnamed file (O_TMPFILE) that is linked under its name once
    written and synced: a crash before the link leaves nothing behind. Elsewhere a temporary
    file `.tmp-key-<pid>-…` is linked and removed; `sweep_temporary_keys` removes those left
    by a crashed process.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        _write_unnamed(path, data)
    except _NoTmpfile:
        _write_named_temp(path, data)
    except FileExistsError:
        raise KeysError(f"key file {path} already exists") from None
    fsync_dir(path.parent)


class _NoTmpfile(Exception):
    pass


def _write_unnamed(path: Path, data: bytes) -> None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        raise _NoTmpfile
    try:
        fd = os.open(path.parent, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            raise _NoTmpfile from None
        raise
    dir_fd = -1
    try:
        os.fchmod(fd, 0o600)
        _write_all(fd, data)
        os.fsync(fd)
        crash_point("keys.written")
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # linkat(AT_SYMLINK_FOLLOW) names the unnamed file; EEXIST: never overwrite a key
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=dir_fd, follow_symlinks=True)
        crash_point("keys.linked")
    finally:
        os.close(fd)
        if dir_fd >= 0:
            os.close(dir_fd)


def _write_named_temp(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-key-{os.getpid()}-", dir=path.parent)  # O_EXCL, 0600
    try:
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        crash_point("keys.written")
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise KeysError(f"key file {path} already exists") from None
        crash_point("keys.linked")
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def sweep_temporary_keys(directory: Path) -> None:
    """Remove temporary key files that a crashed process left (the portable path only)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(".tmp-key-"):
            continue
        pid = name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                os.unlink(Path(directory) / name)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_private(path: Path, what: str) -> None:
    """Refuse a key file that other users may read or write (the fix is in the message)."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise KeysError(f"no {what} at {path}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeysError(f"{what} file {path} is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                        f"run: chmod 600 {path}")


def load_private_key_file(path: Path, passphrase: bytes | None = None, *, what: str = "key") -> Ed25519PrivateKey:
    """The key in `path`: mode 0600 (or stricter) required, `passphrase` for a protected one."""
    path = Path(path)
    check_private(path, what)
    return decrypt_private_key(path.read_bytes(), passphrase, what=f"{what} file {path}")
