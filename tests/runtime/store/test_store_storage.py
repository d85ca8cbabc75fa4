"""Content-addressed storage: layout, atomic writes, corruption detection, the codec hook, gc."""

import pytest

from datastation.runtime import storage as st
from datastation.runtime.config import config_from_dict
from datastation.runtime.storage import Storage, StorageError, sha256_hex


class XorCodec:
    name = "xor"

    def encode(self, data, *, owner, content_hash):
        return bytes(b ^ 0x5A for b in data)

    def decode(self, blob, *, owner, content_hash):
        return bytes(b ^ 0x5A for b in blob)


def test_layout_and_round_trip(tmp_path):
    s = Storage(tmp_path)
    h = s.put(b"hello", "bank1")
    assert h == sha256_hex(b"hello")
    path = tmp_path / "bank1" / h[:2] / h
    assert path.read_bytes() == b"hello" and path.stat().st_mode & 0o777 == 0o600
    assert s.get("bank1", h) == b"hello"
    assert s.put(b"hello", "bank1") == h  # idempotent
    assert s.all_objects() == {("bank1", h)}
    assert list(path.parent.glob(".tmp-*")) == []


def test_corruption_and_missing_are_reported(tmp_path):
    s = Storage(tmp_path)
    h = s.put(b"hello", "bank1")
    s.path_for("bank1", h).write_bytes(b"hellp")
    with pytest.raises(StorageError, match="corrupt"):
        s.get("bank1", h)
    s.delete("bank1", h)
    with pytest.raises(StorageError, match="missing"):
        s.get("bank1", h)


@pytest.mark.parametrize("owner, h", [("../x", "a" * 64), ("bank1", "../../etc"), ("bank1", "A" * 64), ("", "a" * 64)])
def test_paths_cannot_escape(tmp_path, owner, h):
    with pytest.raises(StorageError):
        Storage(tmp_path).path_for(owner, h)


def test_codec_hook(tmp_path):
    s = Storage(tmp_path, XorCodec())
    h = s.put(b"secret", "bank1")
    assert s.path_for("bank1", h).read_bytes() != b"secret"
    assert s.get("bank1", h) == b"secret"


def test_lazy_codec_factory(tmp_path):
    built = []
    s = Storage(tmp_path, lambda: built.append(1) or XorCodec())
    assert built == []
    s.put(b"x", "o")
    assert built == [1] and s.codec.name == "xor"


def test_codec_errors_become_storage_errors(tmp_path):
    class Broken:
        name = "broken"

        def encode(self, data, **_):
            raise ValueError("no key")

        decode = encode

    with pytest.raises(StorageError, match="no key"):
        Storage(tmp_path, Broken()).put(b"x", "o")


def test_codec_for(tmp_path):
    full = config_from_dict({}, tmp_path)
    assert st.codec_for(full).name == "identity"
    no_trust = config_from_dict({"trust_mode": "no_trust"}, tmp_path)
    st.register_codec_factory(lambda config: XorCodec())
    try:
        assert st.codec_for(no_trust).name == "xor"
    finally:
        st.register_codec_factory(None)


def test_gc_removes_only_unreferenced(tmp_path):
    s = Storage(tmp_path)
    keep = s.put(b"keep", "a")
    drop = s.put(b"drop", "a")
    (tmp_path / "a" / keep[:2] / ".tmp-leftover").write_bytes(b"half")
    assert s.gc({("a", keep)}) == [("a", drop)]
    assert s.all_objects() == {("a", keep)}
    assert not (tmp_path / "a" / keep[:2] / ".tmp-leftover").exists()
