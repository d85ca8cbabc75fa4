"""The storage codec for no-trust mode: files encrypted at rest with their owner's data key.

`storage_codec(config)` is the factory `datastation.runtime.storage.codec_for` picks up.
The bytes methods fit the storage hook; the stream methods keep memory bounded for
multi-GB files (one chunk at a time).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Iterator

from .keystore import ESCROW_OWNER, KeyStore, load_kek
from .stream import DEFAULT_CHUNK, CryptoError, decrypt_chunks, decrypt_stream, encrypt_stream

KEYSTORE_NAME = "datakeys.json"


class EncryptedCodec:
    """AES-256-GCM streaming under the owner's active data key; decoding finds the key by the header's id."""

    name = "aes256gcm-stream-v1"
    encrypted = True

    def __init__(self, keystore: KeyStore, chunk_size: int = DEFAULT_CHUNK):
        self.keystore = keystore
        self.chunk_size = chunk_size

    @classmethod
    def from_config(cls, config) -> "EncryptedCodec":
        """Key store at `config.datakeys_path` (wrapped keys only, in the escrow directory), KEK from
        `config.kek` (outside it)."""
        kek = load_kek(getattr(config, "kek", None) or {})
        return cls(KeyStore(Path(config.datakeys_path), kek))

    # -- streams
    def encode_stream(self, src: BinaryIO, dst: BinaryIO, owner: str | None = None) -> int:
        """Encrypt src into dst for `owner` (no single owner: the escrow's own key)."""
        key_id, key = self.keystore.active_key(owner or ESCROW_OWNER)
        return encrypt_stream(src, dst, key, key_id, self.chunk_size)

    def decode_stream(self, src: BinaryIO, dst: BinaryIO, owner: str | None = None) -> int:
        return decrypt_stream(src, dst, self._key_for(owner))

    def iter_decode(self, src: BinaryIO, owner: str | None = None) -> Iterator[bytes]:
        return decrypt_chunks(src, self._key_for(owner))

    def decode_file(self, src: str | Path, dst: str | Path, owner: str | None = None) -> int:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            return self.decode_stream(fin, fout, owner)

    def _key_for(self, owner: str | None):
        def key_for(key_id: str) -> bytes:
            key_owner = key_id.rsplit("/", 1)[0]
            if owner is not None and key_owner != owner:
                raise CryptoError(f"file stored for {owner} is encrypted with a key of {key_owner}")
            return self.keystore.data_key(key_id)

        return key_for

    # -- the storage hook (`datastation.runtime.storage.Codec`)
    def encode(self, data: bytes, *, owner: str, content_hash: str = "") -> bytes:
        out = io.BytesIO()
        self.encode_stream(io.BytesIO(data), out, owner)
        return out.getvalue()

    def decode(self, blob: bytes, *, owner: str, content_hash: str = "") -> bytes:
        return b"".join(self.iter_decode(io.BytesIO(blob), owner))


class PlainCodec:
    """full_trust: contents stored as they are (streaming counterpart of the identity codec)."""

    name = "plain"
    encrypted = False

    def encode(self, data: bytes, *, owner: str = "", content_hash: str = "") -> bytes:
        return data

    def decode(self, blob: bytes, *, owner: str = "", content_hash: str = "") -> bytes:
        return blob

    def decode_file(self, src, dst, owner=None) -> int:
        import shutil

        shutil.copyfile(src, dst)
        return Path(dst).stat().st_size


def decrypt_to_path(codec, src: str | Path, dst: str | Path, owner: str, content_hash: str | None = None) -> int:
    """Stream a stored file's plaintext to `dst` (one chunk in memory), checking its sha256.

    For executors that stage inputs as files (the Docker sandbox): no multi-GB `bytes`.
    On any failure `dst` is removed and nothing partial is left behind.
    """
    import hashlib

    h = hashlib.sha256()
    total = 0
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            chunks = codec.iter_decode(fin, owner) if hasattr(codec, "iter_decode") else iter(lambda: fin.read(1 << 22), b"")
            for chunk in chunks:
                h.update(chunk)
                fout.write(chunk)
                total += len(chunk)
        if content_hash is not None and h.hexdigest() != content_hash:
            raise CryptoError(f"contents {content_hash[:12]} of {owner} are corrupt (hash mismatch)")
    except BaseException:
        Path(dst).unlink(missing_ok=True)
        raise
    return total


def storage_codec(config) -> EncryptedCodec:
    """Factory for `runtime.storage.codec_for` under `trust_mode: no_trust`."""
    return EncryptedCodec.from_config(config)
