"""Data keys wrapped by a KEK: per-owner keys, wrong KEK, rotation keeps data readable."""

import base64
import io
import json
import os

import pytest

from datastation.runtime.crypto import (CryptoError, EncryptedCodec, KeyStore, generate_kek_file, load_kek,
                                        parse_kek, peek_key_id)


@pytest.fixture
def kek(tmp_path):
    return generate_kek_file(tmp_path / "secret" / "kek")


def test_kek_file_is_private_and_loads(tmp_path, kek):
    path = tmp_path / "secret" / "kek"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_kek({"file": str(path)}).key == kek.key
    assert kek.key.hex() not in repr(kek)


def test_kek_from_env(monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv("DSC_TEST_KEK", base64.b64encode(key).decode())
    assert load_kek({"env": "DSC_TEST_KEK"}).key == key
    monkeypatch.setenv("DSC_TEST_KEK", key.hex())
    assert load_kek({"env": "DSC_TEST_KEK"}).key == key


@pytest.mark.parametrize("spec", [{}, {"env": "DSC_TEST_UNSET_KEK"}, {"file": "/nonexistent/kek"}])
def test_missing_kek_is_a_clear_error(spec, monkeypatch):
    monkeypatch.delenv("DSC_TEST_UNSET_KEK", raising=False)
    with pytest.raises(CryptoError):
        load_kek(spec)


def test_bad_kek_length():
    with pytest.raises(CryptoError):
        parse_kek("abcd", "test")


def test_per_owner_keys_and_no_plaintext_keys_on_disk(tmp_path, kek):
    store = KeyStore(tmp_path / "keys.json", kek)
    kid_a, key_a = store.active_key("bank1")
    kid_b, key_b = store.active_key("bank2")
    assert kid_a != kid_b and key_a != key_b
    assert store.active_key("bank1") == (kid_a, key_a)
    text = (tmp_path / "keys.json").read_text()
    for key in (key_a, key_b):
        assert key.hex() not in text and base64.b64encode(key).decode() not in text
    reopened = KeyStore(tmp_path / "keys.json", kek)
    assert reopened.data_key(kid_a) == key_a


def test_wrong_kek_is_refused(tmp_path, kek):
    KeyStore(tmp_path / "keys.json", kek).active_key("bank1")
    with pytest.raises(CryptoError, match="wrong key-encryption key"):
        KeyStore(tmp_path / "keys.json", parse_kek(os.urandom(32), "other"))


def test_wrapped_key_moved_to_other_owner_does_not_unwrap(tmp_path, kek):
    store = KeyStore(tmp_path / "keys.json", kek)
    store.active_key("bank1")
    store.active_key("bank2")
    doc = json.loads((tmp_path / "keys.json").read_text())
    doc["owners"]["bank2"]["keys"]["bank2/1"]["wrapped"] = doc["owners"]["bank1"]["keys"]["bank1/1"]["wrapped"]
    (tmp_path / "keys.json").write_text(json.dumps(doc))
    with pytest.raises(CryptoError):
        KeyStore(tmp_path / "keys.json", kek).data_key("bank2/1")


def encode(codec, data, owner):
    out = io.BytesIO()
    codec.encode_stream(io.BytesIO(data), out, owner)
    return out.getvalue()


def decode(codec, blob, owner=None):
    out = io.BytesIO()
    codec.decode_stream(io.BytesIO(blob), out, owner)
    return out.getvalue()


def test_kek_rotation_keeps_data_readable_without_reencrypting(tmp_path, kek):
    codec = EncryptedCodec(KeyStore(tmp_path / "keys.json", kek), chunk_size=32)
    blobs = {owner: encode(codec, os.urandom(100) + (owner or "").encode(), owner) for owner in ("bank1", "bank2", None)}
    plain = {owner: decode(codec, blob) for owner, blob in blobs.items()}
    new = generate_kek_file(tmp_path / "secret" / "kek2")
    assert codec.keystore.rotate_kek(new) == 3
    with pytest.raises(CryptoError):
        KeyStore(tmp_path / "keys.json", kek)
    rotated = EncryptedCodec(KeyStore(tmp_path / "keys.json", new))
    for owner, blob in blobs.items():
        assert decode(rotated, blob) == plain[owner]


def test_new_data_key_keeps_old_data_readable(tmp_path, kek):
    codec = EncryptedCodec(KeyStore(tmp_path / "keys.json", kek))
    old = encode(codec, b"old data", "bank1")
    kid, _ = codec.keystore.new_data_key("bank1")
    new = encode(codec, b"new data", "bank1")
    assert peek_key_id(io.BytesIO(old)) == "bank1/1" and peek_key_id(io.BytesIO(new)) == kid == "bank1/2"
    assert decode(codec, old) == b"old data" and decode(codec, new) == b"new data"


def test_unknown_key_id_is_a_clear_error(tmp_path, kek):
    codec = EncryptedCodec(KeyStore(tmp_path / "a.json", kek))
    blob = encode(codec, b"x", "bank1")
    other = EncryptedCodec(KeyStore(tmp_path / "b.json", kek))
    with pytest.raises(CryptoError, match="no data key"):
        decode(other, blob)


def test_storage_hook_round_trip_and_owner_binding(tmp_path, kek):
    codec = EncryptedCodec(KeyStore(tmp_path / "keys.json", kek))
    blob = codec.encode(b"id,x\n1,2\n", owner="bank1", content_hash="h")
    assert b"id,x" not in blob
    assert codec.decode(blob, owner="bank1", content_hash="h") == b"id,x\n1,2\n"
    with pytest.raises(CryptoError):
        codec.decode(blob, owner="bank2", content_hash="h")


def test_storage_factory_from_config(tmp_path, kek):
    from types import SimpleNamespace

    from datastation.runtime.crypto import storage_codec

    config = SimpleNamespace(datakeys_path=tmp_path / "escrow" / "datakeys.json",
                             kek=SimpleNamespace(file=tmp_path / "secret" / "kek", env=None))
    codec = storage_codec(config)
    blob = codec.encode(b"abc", owner="bank1")
    assert storage_codec(config).decode(blob, owner="bank1") == b"abc"
    assert (tmp_path / "escrow" / "datakeys.json").exists()


def test_sealed_results_open_only_for_their_recipient_not_with_the_kek(tmp_path, kek):
    from types import SimpleNamespace

    from datastation.runtime.crypto.results import is_sealed, open_result, seal_result
    from datastation.runtime.crypto import storage_codec
    from datastation.runtime.keyring import Keyring
    from datastation.runtime.keys import public_pem

    nt = SimpleNamespace(trust_mode="no_trust", keyring_path=tmp_path / "keyring",
                         datakeys_path=tmp_path / "escrow" / "datakeys.json",
                         kek=SimpleNamespace(file=tmp_path / "secret" / "kek", env=None))
    bank1 = Keyring(nt.keyring_path).create("bank1", None)
    Keyring(nt.keyring_path).create("bank2", None)
    blob = seal_result(nt, "bank1", b'{"model": 1}', public_pem(bank1))
    assert is_sealed(blob) and b"model" not in blob
    assert open_result(nt, blob, "bank1") == b'{"model": 1}'  # bank1's key from the keyring
    with pytest.raises(CryptoError):
        open_result(nt, blob, "bank2")
    with pytest.raises(CryptoError):  # the escrow operator's KEK and data keys do not open it
        storage_codec(nt).decode(blob, owner="bank1")
    with pytest.raises(CryptoError):
        open_result(nt, b'{"model": 1}', "bank1")  # plaintext where a sealed result is expected
    ft = SimpleNamespace(trust_mode="full_trust")
    assert seal_result(ft, "bank1", b"x") == b"x" and open_result(ft, b"x", "bank1") == b"x"


def test_decrypt_to_path_streams_and_checks_the_hash(tmp_path, kek):
    import hashlib

    from datastation.runtime.crypto.codec import decrypt_to_path

    codec = EncryptedCodec(KeyStore(tmp_path / "keys.json", kek), chunk_size=64)
    data = os.urandom(1000)
    src = tmp_path / "stored"
    src.write_bytes(codec.encode(data, owner="bank1"))
    assert decrypt_to_path(codec, src, tmp_path / "out", "bank1", hashlib.sha256(data).hexdigest()) == 1000
    assert (tmp_path / "out").read_bytes() == data
    with pytest.raises(CryptoError):
        decrypt_to_path(codec, src, tmp_path / "bad", "bank1", "0" * 64)
    assert not (tmp_path / "bad").exists()
