"""Streaming authenticated encryption (AES-256-GCM) for files of any size.

Format (all integers big-endian)::

    header  = MAGIC(6) VERSION(1) chunk_size(u32) salt(32) key_id_len(u8) key_id(utf-8)
    chunk_i = AES-GCM(file_key, nonce_i, plaintext_i, aad=header) = ciphertext || tag(16)
    nonce_i = i (u64, 8 bytes) || 0x00000000 | final flag (u32, 4 bytes)

Each file gets its own key, `HKDF-SHA256(data_key, salt)`, so nonces are simply
the chunk index plus a final-chunk flag (the STREAM construction): every chunk
is bound to its position and the last chunk says it is the last. Reordered or
dropped chunks, a truncated tail, a modified byte, a changed header or the wrong
key all fail authentication. Memory use is one chunk whatever the file size.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"DSCENC"
VERSION = 1
DEFAULT_CHUNK = 4 << 20  # 4 MiB: bounded memory, per-chunk overhead negligible
TAG = 16
_FIXED = struct.Struct(">6sBI32sB")
MAX_CHUNK = 64 << 20


class CryptoError(Exception):
    """Decryption or key handling failed; the message says why, never shows key material."""


class NotEncrypted(CryptoError):
    """The input does not start with the DataStation encryption header."""


def _file_key(data_key: bytes, salt: bytes) -> AESGCM:
    if len(data_key) != 32:
        raise CryptoError("data keys are 32 bytes (AES-256)")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"datastation file key v1")
    return AESGCM(hkdf.derive(data_key))


def _nonce(index: int, final: bool) -> bytes:
    return struct.pack(">QI", index, 1 if final else 0)


def encode_header(chunk_size: int, salt: bytes, key_id: str) -> bytes:
    kid = key_id.encode()
    if len(kid) > 255:
        raise CryptoError("key id too long")
    return _FIXED.pack(MAGIC, VERSION, chunk_size, salt, len(kid)) + kid


def read_header(src: BinaryIO) -> tuple[bytes, int, bytes, str]:
    """Parse the header: (raw header bytes, chunk size, salt, key id)."""
    fixed = src.read(_FIXED.size)
    if len(fixed) < _FIXED.size or not fixed.startswith(MAGIC):
        raise NotEncrypted("not a DataStation encrypted file (bad or missing header)")
    magic, version, chunk_size, salt, kid_len = _FIXED.unpack(fixed)
    if version != VERSION:
        raise CryptoError(f"unsupported encryption format version {version}")
    if not 0 < chunk_size <= MAX_CHUNK:
        raise CryptoError("corrupt encryption header (chunk size)")
    kid = src.read(kid_len)
    if len(kid) != kid_len:
        raise CryptoError("ciphertext is truncated (header)")
    try:
        key_id = kid.decode()
    except UnicodeDecodeError:
        raise CryptoError("corrupt encryption header (key id)") from None
    return fixed + kid, chunk_size, salt, key_id


def peek_key_id(src: BinaryIO) -> str:
    """The key id a ciphertext was written with (reads only the header)."""
    return read_header(src)[3]


def _read_full(src: BinaryIO, n: int) -> bytes:
    """Read exactly n bytes unless EOF comes first (raw streams may return short reads)."""
    parts, got = [], 0
    while got < n:
        b = src.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, data_key: bytes, key_id: str,
                   chunk_size: int = DEFAULT_CHUNK) -> int:
    """Encrypt everything readable from src into dst; return the plaintext size."""
    if not 0 < chunk_size <= MAX_CHUNK:
        raise CryptoError("chunk size out of range")
    salt = os.urandom(32)
    header = encode_header(chunk_size, salt, key_id)
    aead = _file_key(data_key, salt)
    dst.write(header)
    index, total = 0, 0
    current = _read_full(src, chunk_size)
    while True:
        nxt = _read_full(src, chunk_size) if len(current) == chunk_size else b""
        final = not nxt
        dst.write(aead.encrypt(_nonce(index, final), current, header))
        total += len(current)
        if final:
            return total
        index += 1
        current = nxt


def decrypt_chunks(src: BinaryIO, key_for) -> Iterator[bytes]:
    """Yield plaintext chunks; `key_for(key_id) -> data key`. Raises CryptoError on any tampering.

    A chunk is only yielded once it authenticated, but a caller that must not act
    on partial plaintext has to consume the whole iterator before trusting it.
    """
    header, chunk_size, salt, key_id = read_header(src)
    aead = _file_key(key_for(key_id), salt)
    step = chunk_size + TAG
    index = 0
    current = _read_full(src, step)
    while True:
        if len(current) < TAG:
            raise CryptoError("ciphertext is truncated")
        nxt = _read_full(src, step) if len(current) == step else b""
        final = not nxt
        try:
            plain = aead.decrypt(_nonce(index, final), current, header)
        except InvalidTag:
            if final:
                raise CryptoError(
                    f"authentication failed at chunk {index}: wrong key, or the ciphertext "
                    "was modified or truncated") from None
            raise CryptoError(
                f"authentication failed at chunk {index}: wrong key, or the ciphertext "
                "was modified or its chunks reordered") from None
        yield plain
        if final:
            return
        index += 1
        current = nxt


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key_for) -> int:
    """Decrypt src into dst; return the plaintext size. dst may hold a partial result on error."""
    total = 0
    for chunk in decrypt_chunks(src, key_for):
        dst.write(chunk)
        total += len(chunk)
    return total


def encrypt_bytes(data: bytes, data_key: bytes, key_id: str, chunk_size: int = DEFAULT_CHUNK) -> bytes:
    import io

    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, data_key, key_id, chunk_size)
    return out.getvalue()


def decrypt_bytes(blob: bytes, key_for) -> bytes:
    import io

    return b"".join(decrypt_chunks(io.BytesIO(blob), key_for))
