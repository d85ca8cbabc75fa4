"""Released results at rest: sealed with the recipient's data key (no_trust), opened on request.

The release step calls `seal_result(config, recipient, data)` before writing a recipient's
outbox file; `open_result(config, blob, recipient)` (or `dsc keys decrypt FILE --for AGENT`)
returns the plaintext and checks the file was sealed for that recipient. In full_trust mode
both are the identity.
"""

from __future__ import annotations

from .codec import EncryptedCodec
from .stream import MAGIC, CryptoError


def is_sealed(blob: bytes) -> bool:
    return blob[: len(MAGIC)] == MAGIC


def seal_result(config, recipient: str, data: bytes) -> bytes:
    if getattr(config, "trust_mode", "full_trust") != "no_trust":
        return data
    return EncryptedCodec.from_config(config).encode(data, owner=recipient)


def open_result(config, blob: bytes, recipient: str | None = None) -> bytes:
    if not is_sealed(blob):
        if getattr(config, "trust_mode", "full_trust") == "no_trust":
            raise CryptoError("this result is not sealed, but the escrow runs in no_trust mode")
        return blob
    return EncryptedCodec.from_config(config).decode(blob, owner=recipient)
