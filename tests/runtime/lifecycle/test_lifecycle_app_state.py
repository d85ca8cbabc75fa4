"""App state: JSON only, size-limited, buffered until committed."""

import pytest

from datastation.runtime.app_state import MAX_VALUE_BYTES, AppState, AppStateError


class FakeStore:
    def __init__(self):
        self.d = {}

    def get_state(self, scope, key, default=None):
        return self.d.get((scope, key), default)

    def set_state(self, scope, key, value):
        self.d[(scope, key)] = value


class FakeAudit:
    def __init__(self):
        self.entries = []

    def append(self, kind, **kw):
        self.entries.append((kind, kw))


def test_buffered_until_commit():
    store, audit = FakeStore(), FakeAudit()
    s = AppState("contract:x", store)
    s.store_value("n", {"a": [1, 2]})
    assert s.load("n") == {"a": [1, 2]} and store.d == {}
    assert s.commit(store, audit, actor="bob", contract="x") == ["n"]
    assert list(store.d) == [("contract:x", "n")] and store.d[("contract:x", "n")]["value"] == {"a": [1, 2]}
    kind, kw = audit.entries[0]
    assert kind == "app_state" and len(kw["payload"]["stored_sha256"]) == 64
    assert "value" not in kw["payload"] and "key" not in kw["payload"]  # a key may spell out data too
    assert AppState("contract:x", store).load("n") == {"a": [1, 2]}
    assert AppState("contract:y", store).load("n", 0) == 0  # scoped to the contract


@pytest.mark.parametrize("value", [object(), float("nan"), {1: 2}, "x" * (MAX_VALUE_BYTES + 1)])
def test_refuses_non_json_and_big_values(value):
    with pytest.raises(AppStateError):
        AppState("s").store_value("k", value)


@pytest.mark.parametrize("key", ["", "a b", "../x", 3, "x" * 129])
def test_refuses_bad_keys(key):
    with pytest.raises(AppStateError):
        AppState("s").store_value(key, 1)


def test_the_audit_hash_does_not_give_a_small_value_away():
    import hashlib
    import json

    store, audit = FakeStore(), FakeAudit()
    s = AppState("contract:x", store)
    s.store_value("n", 42)
    s.commit(store, audit)
    logged = audit.entries[0][1]["payload"]["stored_sha256"]
    assert logged != hashlib.sha256(json.dumps(42).encode()).hexdigest()  # salted


class FakeCodec:
    encrypted = True

    def encode(self, data, *, owner):
        return bytes(b ^ 0x5A for b in data) + owner.encode()

    def decode(self, blob, *, owner):
        assert blob.endswith(owner.encode())
        return bytes(b ^ 0x5A for b in blob[:-len(owner)])


def test_sealed_at_rest_and_bound_to_its_place():
    store = FakeStore()
    s = AppState("contract:x", store, FakeCodec())
    s.store_value("n", "secret")
    s.commit(store)
    assert "secret" not in repr(store.d)
    assert AppState("contract:x", store, FakeCodec()).load("n") == "secret"
    store.d[("contract:y", "n")] = store.d[("contract:x", "n")]  # moved to another contract
    with pytest.raises(AppStateError):
        AppState("contract:y", store, FakeCodec()).load("n")
    with pytest.raises(AppStateError):  # without the key, no value
        AppState("contract:x", store).load("n")
