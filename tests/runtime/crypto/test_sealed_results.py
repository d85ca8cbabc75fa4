"""Released results sealed for their recipient: only the recipient's private key opens them."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from datastation.runtime.config import Config
from datastation.runtime.crypto import CryptoError
from datastation.runtime.crypto.results import (is_sealed, open_result, open_sealed, seal_for, seal_result,
                                                x25519_private, x25519_public)

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


@pytest.fixture(scope="module")
def keys():
    return {n: Ed25519PrivateKey.generate() for n in ("bank1", "bank2")}


def test_ed25519_to_x25519_maps_both_halves_consistently():
    for _ in range(20):
        k = Ed25519PrivateKey.generate()
        assert x25519_public(k.public_key()).public_bytes(*RAW) == x25519_private(k).public_key().public_bytes(*RAW)


@pytest.mark.parametrize("size", [0, 1, 5000, (4 << 20) + 3])  # empty, small, several stream chunks
def test_round_trip(keys, size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    blob = seal_for("bank1", keys["bank1"].public_key(), data)
    assert is_sealed(blob) and data[:64] not in blob[7:] or size < 64
    assert open_sealed(blob, "bank1", keys["bank1"]) == data


def test_another_agent_cannot_open(keys):
    blob = seal_for("bank1", keys["bank1"].public_key(), b'{"auc": 0.9}')
    with pytest.raises(CryptoError, match="sealed for bank1"):
        open_sealed(blob, "bank2", keys["bank2"])
    with pytest.raises(CryptoError):  # bank2's key, claiming to be bank1
        open_sealed(blob, "bank1", keys["bank2"])
    with pytest.raises(CryptoError, match="sealed for bank1"):  # bank1's key, under another name
        open_sealed(blob, "bank2", keys["bank1"])


@pytest.mark.parametrize("damage", ["flip_body", "flip_ephemeral", "truncate", "cut_tail", "version"])
def test_tampering_is_detected(keys, damage):
    blob = bytearray(seal_for("bank1", keys["bank1"].public_key(), b"secret result" * 100))
    if damage == "flip_body":
        blob[-5] ^= 1
    elif damage == "flip_ephemeral":
        blob[10] ^= 1
    elif damage == "truncate":
        blob = blob[:20]
    elif damage == "cut_tail":
        blob = blob[:-1]
    else:
        blob[7] = 9
    with pytest.raises(CryptoError):
        open_sealed(bytes(blob), "bank1", keys["bank1"])


def test_trust_modes(keys, tmp_path):
    full = Config()
    nt = Config(trust_mode="no_trust")
    assert seal_result(full, "bank1", b"plain") == b"plain"
    assert open_result(full, b"plain", "bank1", keys["bank1"]) == b"plain"
    sealed = seal_result(nt, "bank1", b"plain", keys["bank1"].public_key())
    assert is_sealed(sealed) and b"plain" not in sealed
    assert open_result(nt, sealed, "bank1", keys["bank1"]) == b"plain"
    with pytest.raises(CryptoError, match="not sealed"):
        open_result(nt, b"plain", "bank1", keys["bank1"])
    with pytest.raises(CryptoError, match="public key"):
        seal_result(nt, "bank1", b"plain")
