"""The Ed25519 primitives (`keys.sign`, `keys.verify`, `keys.normalized_public_pem`): libsodium
signs and verifies, and its signatures are the RFC 8032 ones any other library makes and checks;
a weak (small-order) public key, under which one signature holds for every message, is refused
at registration and verifies nothing."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from datastation.runtime import keys

# The identity point: a public key of small order. With R = the identity and S = 0 the Ed25519
# equation holds for every message; OpenSSL's verification accepts that signature.
IDENTITY_POINT = bytes([1]) + bytes(31)
FORGERY = base64.b64encode(IDENTITY_POINT + bytes(32)).decode()


def test_signatures_are_the_rfc8032_ones_other_libraries_make_and_check():
    k = Ed25519PrivateKey.generate()
    for message in (b"", b"x", b"datastation-approval:v2:e:c" * 100):
        sig = keys.sign(k, message)
        assert base64.b64decode(sig) == k.sign(message)  # deterministic: the same bytes as OpenSSL's
        k.public_key().verify(base64.b64decode(sig), message)  # raises if not
        assert keys.verify(k.public_key(), message, sig)
        assert keys.verify(keys.public_pem(k), message, sig)


def test_a_changed_message_signature_or_key_does_not_verify():
    k, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sig = keys.sign(k, b"message")
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    assert not keys.verify(k.public_key(), b"messagE", sig)
    assert not keys.verify(k.public_key(), b"message", base64.b64encode(bytes(raw)).decode())
    assert not keys.verify(other.public_key(), b"message", sig)
    for bad in ("", "not base64!", base64.b64encode(bytes(63)).decode(), base64.b64encode(bytes(65)).decode()):
        assert not keys.verify(k.public_key(), b"message", bad)
    assert not keys.verify("not a pem", b"message", sig)


def test_the_small_order_forgery_that_openssl_accepts_is_refused():
    weak = Ed25519PublicKey.from_public_bytes(IDENTITY_POINT)
    weak.verify(base64.b64decode(FORGERY), b"any request at all")  # the attack: OpenSSL accepts it
    assert not keys.verify(weak, b"any request at all", FORGERY)
    assert not keys.verify(keys.public_pem(weak), b"contract.approve ...", FORGERY)


def test_a_weak_public_key_is_not_registered():
    with pytest.raises(keys.KeysError):
        keys.normalized_public_pem(keys.public_pem(Ed25519PublicKey.from_public_bytes(IDENTITY_POINT)))
    honest = keys.public_pem(Ed25519PrivateKey.generate())
    assert keys.normalized_public_pem(honest) == honest
