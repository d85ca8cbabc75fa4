"""Agent keys, the escrow key, signatures and signed request envelopes."""

import os

import pytest

from datastation.runtime import keys
from datastation.runtime.config import config_from_dict
from datastation.runtime.keys import AuthError, KeysError, SignedRequest, make_request, verify_request
from datastation.runtime.store import AgentRow, open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(config_from_dict({}, tmp_path))
    yield s
    s.close()


def test_agent_key_file_is_private(tmp_path):
    key = keys.create_agent_key(tmp_path / "ring", "bank1")
    path = tmp_path / "ring" / "bank1.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.public_pem(keys.load_agent_key(tmp_path / "ring", "bank1")) == keys.public_pem(key)
    with pytest.raises(KeysError, match="exists"):
        keys.create_agent_key(tmp_path / "ring", "bank1")  # never overwrites a key


def test_passphrase(tmp_path, monkeypatch):
    ring = tmp_path / "ring"
    keys.create_agent_key(ring, "bank1", b"s3cret")
    assert b"ENCRYPTED" in (ring / "bank1.pem").read_bytes()
    with pytest.raises(KeysError, match="passphrase"):
        keys.load_agent_key(ring, "bank1")
    with pytest.raises(KeysError, match="wrong passphrase"):
        keys.load_agent_key(ring, "bank1", b"nope")
    keys.load_agent_key(ring, "bank1", b"s3cret")
    monkeypatch.setenv("DSC_PASSPHRASE_BANK1", "s3cret")
    keys.load_agent_key(ring, "bank1")


def test_readable_key_file_refused(tmp_path):
    keys.create_agent_key(tmp_path, "bank1")
    os.chmod(tmp_path / "bank1.pem", 0o644)
    with pytest.raises(KeysError, match="chmod 600"):
        keys.load_agent_key(tmp_path, "bank1")


@pytest.mark.parametrize("name", ["", "1bank", "a.b", "../x", "a b", "x" * 65])
def test_bad_names(tmp_path, name):
    with pytest.raises(KeysError):
        keys.create_agent_key(tmp_path, name)


def test_missing_and_garbage_keys(tmp_path):
    with pytest.raises(KeysError, match="dsc agent create"):
        keys.load_agent_key(tmp_path, "ghost")
    (tmp_path / "junk.pem").write_bytes(b"not a key")
    os.chmod(tmp_path / "junk.pem", 0o600)
    with pytest.raises(KeysError, match="not a valid"):
        keys.load_agent_key(tmp_path, "junk")


def test_escrow_key_created_once(tmp_path):
    a = keys.load_or_create_escrow_key(tmp_path / "esc" / "escrow_key.pem")
    b = keys.load_or_create_escrow_key(tmp_path / "esc" / "escrow_key.pem")
    assert keys.public_pem(a) == keys.public_pem(b)
    assert (tmp_path / "esc" / "escrow_key.pem").stat().st_mode & 0o777 == 0o600


def test_sign_verify():
    k, other = keys.generate_key(), keys.generate_key()
    msg = keys.approval_message("abc")
    sig = keys.sign(k, msg)
    assert keys.verify(keys.public_pem(k), msg, sig)
    assert keys.verify(k.public_key(), msg, sig)
    assert not keys.verify(keys.public_pem(other), msg, sig)
    assert not keys.verify(keys.public_pem(k), keys.approval_message("abd"), sig)
    assert not keys.verify(keys.public_pem(k), msg, "!!notbase64")
    assert not keys.verify("not a pem", msg, sig)


def test_canonical_json_is_stable():
    assert keys.canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        keys.canonical_json({"x": float("nan")})


# ---------------------------------------------------------------- request envelopes

NOW = 1_800_000_000.0


@pytest.fixture
def alice(store):
    k = keys.generate_key()
    store.add_agent(AgentRow(name="alice", public_key=keys.public_pem(k)))
    return k


def test_valid_request(store, alice):
    req = make_request("alice", alice, "approve", {"id": "c1"}, now=NOW)
    assert verify_request(store, req, action="approve", now=NOW + 10).name == "alice"
    # travels as JSON
    again = SignedRequest.from_json(req.to_json())
    assert again == req


def _tamper(req, **changes):
    return SignedRequest({**req.envelope, **changes}, req.signature)


@pytest.mark.parametrize("make, code", [
    (lambda k: _tamper(make_request("alice", k, "approve", {"id": "c1"}, now=NOW), params={"id": "c2"}), "bad_signature"),
    (lambda k: make_request("alice", keys.generate_key(), "approve", {}, now=NOW), "bad_signature"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, now=NOW), agent="bob"), "unknown_agent"),
    (lambda k: make_request("alice", k, "reject", {}, now=NOW), "wrong_action"),
    (lambda k: make_request("alice", k, "approve", {}, now=NOW - 301), "stale"),
    (lambda k: make_request("alice", k, "approve", {}, now=NOW + 301), "stale"),
    (lambda k: make_request("alice", k, "approve", {}, now=NOW, nonce="short"), "malformed"),
    (lambda k: SignedRequest({"action": "approve"}, "x"), "malformed"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, now=NOW), timestamp="soon"), "malformed"),
])
def test_refused_requests(store, alice, make, code):
    with pytest.raises(AuthError) as info:
        verify_request(store, make(alice), action="approve", now=NOW)
    assert info.value.code == code


def test_replay_refused(store, alice):
    req = make_request("alice", alice, "approve", {"id": "c1"}, now=NOW)
    verify_request(store, req, action="approve", now=NOW)
    with pytest.raises(AuthError) as info:
        verify_request(store, req, action="approve", now=NOW + 1)
    assert info.value.code == "replay"


def test_nonce_spent_only_when_the_action_commits(store, alice):
    req = make_request("alice", alice, "approve", {}, now=NOW)
    with pytest.raises(RuntimeError):
        with store.transaction():
            verify_request(store, req, action="approve", now=NOW)
            raise RuntimeError("action failed")
    verify_request(store, req, action="approve", now=NOW)  # not consumed by the failed attempt


def test_malformed_json():
    with pytest.raises(AuthError):
        SignedRequest.from_json("{")


def test_cli_agent_create_with_passphrase(tmp_path, dsc, monkeypatch):
    monkeypatch.setenv("PW", "hunter22")
    run = dsc
    r = run("agent", "create", "bank1", "--display", "First Bank", "--passphrase-env", "PW")
    assert r.returncode == 0, r.stderr
    assert b"ENCRYPTED" in (tmp_path / ".dsc-escrow" / "keyring" / "bank1.pem").read_bytes()
    r = run("agent", "create", "bank1")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    r = run("agent", "create", "bank2", "--passphrase-env", "UNSET_VAR_X")
    assert r.returncode == 1 and "UNSET_VAR_X" in r.stderr
    r = run("agent", "list", "--format", "json")
    assert r.returncode == 0 and '"bank1"' in r.stdout and "bank2" not in r.stdout
