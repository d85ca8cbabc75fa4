"""Released results at rest: sealed for their recipient (no_trust), opened with the recipient's key.

A sealed result can be opened only with the recipient's private key: not with the KEK, so
the escrow operator cannot read it, nor another agent. The recipient's Ed25519 agent key
is used as an X25519 key (the standard birational map, as libsodium's
`crypto_sign_ed25519_pk_to_curve25519` and age's ssh-ed25519 recipients do): the escrow
needs only the registered public key.

Format::

    SEAL_MAGIC(7) VERSION(1) ephemeral X25519 public key(32) || stream ciphertext (stream.py)

The stream's data key is HKDF-SHA256(X25519(ephemeral, recipient), salt = ephemeral public ||
recipient public, info = "datastation sealed result v1|<recipient>"); its key id names the
recipient (authenticated with every chunk). In full_trust mode results stay plaintext.
"""

from __future__ import annotations

import hashlib
import io

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .stream import CryptoError, decrypt_chunks, encrypt_stream

SEAL_MAGIC = b"DSCSEAL"
SEAL_VERSION = 1
_P = 2**255 - 19
_RAW = serialization.Encoding.Raw


def is_sealed(blob: bytes) -> bool:
    return blob[: len(SEAL_MAGIC)] == SEAL_MAGIC


def x25519_public(ed_public: Ed25519PublicKey) -> X25519PublicKey:
    """The Montgomery form u = (1 + y) / (1 - y) mod p of an Ed25519 public key."""
    raw = bytearray(ed_public.public_bytes(_RAW, serialization.PublicFormat.Raw))
    raw[31] &= 0x7F  # drop the sign bit of x
    y = int.from_bytes(raw, "little")
    if y >= _P or (1 - y) % _P == 0:
        raise CryptoError("the recipient's public key cannot be used for encryption")
    u = (1 + y) * pow((1 - y) % _P, -1, _P) % _P
    return X25519PublicKey.from_public_bytes(u.to_bytes(32, "little"))


def x25519_private(ed_private: Ed25519PrivateKey) -> X25519PrivateKey:
    """The X25519 scalar of an Ed25519 key: the first half of SHA-512(seed) (clamped by X25519)."""
    seed = ed_private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return X25519PrivateKey.from_private_bytes(hashlib.sha512(seed).digest()[:32])


def _stream_key(shared: bytes, eph: bytes, recipient_pub: bytes, recipient: str) -> bytes:
    if shared == bytes(32):
        raise CryptoError("invalid key exchange (low-order point)")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=eph + recipient_pub,
                info=f"datastation sealed result v1|{recipient}".encode())
    return hkdf.derive(shared)


def _key_id(recipient: str) -> str:
    return f"sealed-for:{recipient}"


def seal_for(recipient: str, public_key: Ed25519PublicKey | str | bytes, data: bytes) -> bytes:
    """Encrypt `data` so that only the holder of `recipient`'s private key can open it."""
    if isinstance(public_key, (str, bytes)):
        from datastation.runtime.keys import load_public_key

        public_key = load_public_key(public_key)
    rpub = x25519_public(public_key)
    rpub_raw = rpub.public_bytes(_RAW, serialization.PublicFormat.Raw)
    eph = X25519PrivateKey.generate()
    eph_raw = eph.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _stream_key(eph.exchange(rpub), eph_raw, rpub_raw, recipient)
    out = io.BytesIO()
    out.write(SEAL_MAGIC + bytes([SEAL_VERSION]) + eph_raw)
    encrypt_stream(io.BytesIO(data), out, key, _key_id(recipient))
    return out.getvalue()


def open_sealed(blob: bytes, recipient: str, private_key: Ed25519PrivateKey) -> bytes:
    """The plaintext of a result sealed for `recipient`; CryptoError for anyone else or any tampering."""
    head = len(SEAL_MAGIC) + 1
    if not is_sealed(blob):
        raise CryptoError("not a sealed DataStation result")
    if blob[len(SEAL_MAGIC)] != SEAL_VERSION:
        raise CryptoError(f"unsupported sealed result version {blob[len(SEAL_MAGIC)]}")
    if len(blob) < head + 32:
        raise CryptoError("sealed result is truncated")
    eph_raw = blob[head:head + 32]
    priv = x25519_private(private_key)
    rpub_raw = priv.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _stream_key(priv.exchange(X25519PublicKey.from_public_bytes(eph_raw)), eph_raw, rpub_raw, recipient)

    def key_for(key_id: str) -> bytes:
        if key_id != _key_id(recipient):
            who = key_id.split(":", 1)[-1]
            raise CryptoError(f"this result is sealed for {who}, not for {recipient}")
        return key

    return b"".join(decrypt_chunks(io.BytesIO(blob[head + 32:]), key_for))


def seal_result(config, recipient: str, data: bytes, public_key: Ed25519PublicKey | str | bytes | None = None) -> bytes:
    """The outbox form of a result: sealed for `recipient`'s registered public key in no_trust mode,
    the plaintext in full_trust mode."""
    if getattr(config, "trust_mode", "full_trust") != "no_trust":
        return data
    if public_key is None:
        raise CryptoError(f"no public key to seal the result for {recipient}")
    return seal_for(recipient, public_key, data)


def open_result(config, blob: bytes, recipient: str, private_key: Ed25519PrivateKey | None = None) -> bytes:
    """The plaintext of an outbox file for `recipient` (sealed files need their private key)."""
    if not is_sealed(blob):
        if getattr(config, "trust_mode", "full_trust") == "no_trust":
            raise CryptoError("this result is not sealed, but the escrow runs in no_trust mode")
        return blob
    if private_key is None:
        from datastation.runtime.keyring import Keyring

        private_key = Keyring(config.keyring_path).load(recipient)
    return open_sealed(blob, recipient, private_key)
