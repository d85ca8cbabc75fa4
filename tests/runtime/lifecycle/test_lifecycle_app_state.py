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
    assert store.d == {("contract:x", "n"): {"a": [1, 2]}}
    kind, kw = audit.entries[0]
    assert kind == "app_state" and "value" not in kw["payload"] and len(kw["payload"]["value_sha256"]) == 64
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
