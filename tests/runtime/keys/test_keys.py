"""Agent keys, the escrow key, signatures and signed request envelopes."""

import base64
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from datastation.runtime import keyfile, keys
from datastation.runtime.config import config_from_dict
from datastation.runtime.keyring import Keyring, keyring_path, new_passphrase
from datastation.runtime.keys import AuthError, KeysError, SignedRequest, make_request, verify_request
from datastation.runtime.store import AgentRow, open_store

ESCROW = "escrow-0123456789abcdef01234567"


@pytest.fixture
def store(tmp_path):
    s = open_store(config_from_dict({}, tmp_path))
    yield s
    s.close()


def test_agent_key_file_is_private(tmp_path):
    ring = Keyring(tmp_path / "ring")
    key = ring.create("bank1", None)
    path = tmp_path / "ring" / "bank1.pem"
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "ring").stat().st_mode & 0o777 == 0o700
    assert keys.public_pem(ring.load("bank1")) == keys.public_pem(key) == ring.public_pem("bank1")
    with pytest.raises(KeysError, match="exists"):
        ring.create("bank1", None)  # never overwrites a key


def test_passphrase(tmp_path, monkeypatch):
    ring = Keyring(tmp_path / "ring")
    ring.create("bank1", b"s3cret")
    assert b"ENCRYPTED" in (tmp_path / "ring" / "bank1.pem").read_bytes()
    with pytest.raises(KeysError, match="passphrase"):
        ring.load("bank1")  # no terminal, nothing in the environment
    with pytest.raises(KeysError, match="wrong passphrase"):
        ring.load("bank1", b"nope")
    ring.load("bank1", b"s3cret")
    monkeypatch.setenv("DSC_PASSPHRASE_BANK1", "s3cret")
    ring.load("bank1")
    monkeypatch.setenv("MY_PW", "s3cret")
    monkeypatch.setenv("DSC_PASSPHRASE_BANK1", "wrong")
    ring.load("bank1", passphrase_env="MY_PW")  # the named variable wins
    with pytest.raises(KeysError, match="UNSET_PW"):
        ring.load("bank1", passphrase_env="UNSET_PW")


def test_readable_key_file_refused(tmp_path):
    Keyring(tmp_path).create("bank1", None)
    os.chmod(tmp_path / "bank1.pem", 0o644)
    with pytest.raises(KeysError, match="chmod 600"):
        Keyring(tmp_path).load("bank1")


def test_keyring_writable_by_others_refused(tmp_path):
    ring = Keyring(tmp_path / "ring")
    ring.create("bank1", None)
    os.chmod(tmp_path / "ring", 0o777)
    with pytest.raises(KeysError, match="chmod 700"):
        ring.load("bank1")
    with pytest.raises(KeysError, match="chmod 700"):
        ring.create("bank2", None)


@pytest.mark.parametrize("name", ["", "1bank", "a.b", "../x", "a b", "x" * 65])
def test_bad_names(tmp_path, name):
    with pytest.raises(KeysError):
        Keyring(tmp_path).create(name, None)


def test_missing_and_garbage_keys(tmp_path):
    with pytest.raises(KeysError, match="dsc agent create"):
        Keyring(tmp_path).load("ghost")
    (tmp_path / "junk.pem").write_bytes(b"not a key")
    os.chmod(tmp_path / "junk.pem", 0o600)
    with pytest.raises(KeysError, match="not a valid"):
        Keyring(tmp_path).load("junk")


def test_keyring_location(tmp_path, monkeypatch):
    monkeypatch.delenv("DSC_KEYRING")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert keyring_path() == tmp_path / "home" / ".config" / "datastation" / "keys"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert keyring_path() == tmp_path / "xdg" / "datastation" / "keys"
    assert keyring_path(tmp_path / "configured") == tmp_path / "configured"
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "env"))
    assert keyring_path(tmp_path / "configured") == tmp_path / "env"  # the user's variable wins
    assert config_from_dict({}, tmp_path).keyring_path == tmp_path / "env"


def test_new_passphrase_rules(monkeypatch):
    assert new_passphrase("bank1", None, no_passphrase=True) is None
    with pytest.raises(KeysError, match="--no-passphrase"):
        new_passphrase("bank1", None, no_passphrase=False)  # protected by default; no terminal here
    with pytest.raises(KeysError, match="contradict"):
        new_passphrase("bank1", "PW", no_passphrase=True)
    monkeypatch.setenv("DSC_PASSPHRASE", "all")
    assert new_passphrase("bank1", None, no_passphrase=False) == b"all"
    monkeypatch.setenv("DSC_PASSPHRASE_BANK1", "mine")
    assert new_passphrase("bank1", None, no_passphrase=False) == b"mine"
    monkeypatch.setenv("PW", "")
    with pytest.raises(KeysError, match="empty"):
        new_passphrase("bank1", "PW", no_passphrase=False)


# ---------------------------------------------------------------- key files


def test_scrypt_protected_key_round_trip():
    key = keys.generate_key()
    pem = keyfile.encrypt_private_key(key, b"pw")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert keys.public_pem(keyfile.decrypt_private_key(pem, b"pw")) == keys.public_pem(key)
    # a standard container: cryptography (and OpenSSL where its scrypt memory limit allows) reads it too
    assert keys.public_pem(serialization.load_pem_private_key(pem, b"pw")) == keys.public_pem(key)
    with pytest.raises(KeysError, match="wrong passphrase"):
        keyfile.decrypt_private_key(pem, b"pW")
    with pytest.raises(KeysError, match="empty"):
        keyfile.encrypt_private_key(key, b"")


def test_keys_made_elsewhere_are_read():
    key = keys.generate_key()
    for enc, pw in ((serialization.BestAvailableEncryption(b"pw"), b"pw"), (serialization.NoEncryption(), None)):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        assert keys.public_pem(keyfile.decrypt_private_key(pem, pw)) == keys.public_pem(key)
    with pytest.raises(KeysError, match="not a valid"):
        keyfile.decrypt_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", None)


def test_hostile_scrypt_parameters_are_refused_before_any_work():
    pem = keyfile.encrypt_private_key(keys.generate_key(), b"pw")
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    n = (1 << keyfile.SCRYPT_LOG_N).to_bytes(3, "big")
    assert der.count(b"\x02\x03" + n) == 1
    huge = der.replace(b"\x02\x03" + n, b"\x02\x03" + (1 << 22).to_bytes(3, "big"))
    bad = b"\n".join([pem.splitlines()[0], base64.b64encode(huge), pem.splitlines()[-1]])
    with pytest.raises(KeysError, match="scrypt parameters"):
        keyfile.decrypt_private_key(bad, b"pw")
    truncated = b"\n".join([pem.splitlines()[0], base64.b64encode(der[:40]), pem.splitlines()[-1]])
    with pytest.raises(KeysError, match="not a readable encrypted key"):
        keyfile.decrypt_private_key(truncated, b"pw")


def test_portable_writer_and_the_sweep_of_crashed_temporaries(tmp_path, monkeypatch):
    def no_tmpfile(path, data):
        raise keyfile._NoTmpfile

    monkeypatch.setattr(keyfile, "_write_unnamed", no_tmpfile)
    keyfile.write_secret_file(tmp_path / "k.pem", b"secret")
    assert (tmp_path / "k.pem").read_bytes() == b"secret" and sorted(os.listdir(tmp_path)) == ["k.pem"]
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeysError, match="exists"):
        keyfile.write_secret_file(tmp_path / "k.pem", b"other")
    assert (tmp_path / "k.pem").read_bytes() == b"secret" and sorted(os.listdir(tmp_path)) == ["k.pem"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f".tmp-key-{dead.stdout.strip()}-abc").write_bytes(b"left by a crash")
    (tmp_path / f".tmp-key-{os.getpid()}-def").write_bytes(b"being written")
    keyfile.sweep_temporary_keys(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [f".tmp-key-{os.getpid()}-def", "k.pem"]


def test_escrow_key_created_once(tmp_path):
    a = keys.load_or_create_escrow_key(tmp_path / "esc" / "escrow_key.pem")
    b = keys.load_or_create_escrow_key(tmp_path / "esc" / "escrow_key.pem")
    assert keys.public_pem(a) == keys.public_pem(b)
    assert (tmp_path / "esc" / "escrow_key.pem").stat().st_mode & 0o777 == 0o600


def test_sign_verify():
    k, other = keys.generate_key(), keys.generate_key()
    msg = keys.approval_message(ESCROW, "abc")
    sig = keys.sign(k, msg)
    assert keys.verify(keys.public_pem(k), msg, sig)
    assert keys.verify(k.public_key(), msg, sig)
    assert not keys.verify(keys.public_pem(other), msg, sig)
    assert not keys.verify(keys.public_pem(k), keys.approval_message(ESCROW, "abd"), sig)
    assert not keys.verify(keys.public_pem(k), keys.approval_message("escrow-other", "abc"), sig)
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
    req = make_request("alice", alice, "approve", {"id": "c1"}, escrow=ESCROW, now=NOW)
    assert verify_request(store, req, escrow=ESCROW, action="approve", now=NOW + 10).name == "alice"
    # travels as JSON
    again = SignedRequest.from_json(req.to_json())
    assert again == req


def _tamper(req, **changes):
    return SignedRequest({**req.envelope, **changes}, req.signature)


@pytest.mark.parametrize("make, code", [
    (lambda k: _tamper(make_request("alice", k, "approve", {"id": "c1"}, escrow=ESCROW, now=NOW), params={"id": "c2"}), "bad_signature"),
    (lambda k: make_request("alice", keys.generate_key(), "approve", {}, escrow=ESCROW, now=NOW), "bad_signature"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW), agent="bob"), "unknown_agent"),
    (lambda k: make_request("alice", k, "reject", {}, escrow=ESCROW, now=NOW), "wrong_action"),
    (lambda k: make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW - 301), "stale"),
    (lambda k: make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW + 301), "stale"),
    (lambda k: make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW, nonce="short"), "malformed"),
    (lambda k: SignedRequest({"action": "approve", "escrow": ESCROW}, "x"), "malformed"),
    (lambda k: SignedRequest({"action": "approve"}, "x"), "wrong_escrow"),
    (lambda k: make_request("alice", k, "approve", {}, escrow="escrow-elsewhere", now=NOW), "wrong_escrow"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW), escrow="escrow-x"), "wrong_escrow"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW), timestamp="soon"), "malformed"),
    # numbers no float holds, from anyone: refused, not an internal error (red team session 14, F1)
    (lambda k: _tamper(make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW), timestamp=10**400), "malformed"),
    (lambda k: _tamper(make_request("mallory", k, "approve", {}, escrow=ESCROW, now=NOW), timestamp=-10**400), "malformed"),
    (lambda k: _tamper(make_request("alice", k, "approve", {}, escrow=ESCROW, now=NOW), timestamp=float("nan")), "malformed"),
])
def test_refused_requests(store, alice, make, code):
    with pytest.raises(AuthError) as info:
        verify_request(store, make(alice), escrow=ESCROW, action="approve", now=NOW)
    assert info.value.code == code


def test_replay_refused(store, alice):
    req = make_request("alice", alice, "approve", {"id": "c1"}, escrow=ESCROW, now=NOW)
    verify_request(store, req, escrow=ESCROW, action="approve", now=NOW)
    with pytest.raises(AuthError) as info:
        verify_request(store, req, escrow=ESCROW, action="approve", now=NOW + 1)
    assert info.value.code == "replay"


def test_old_nonces_are_forgotten_and_never_replayable(store, alice):
    # pruned at most once per PRUNE_SECONDS: a nonce past the window may stay a little longer,
    # but its request is refused as stale anyway, before or after it is forgotten
    old = make_request("alice", alice, "approve", {}, escrow=ESCROW, now=NOW)
    verify_request(store, old, escrow=ESCROW, action="approve", now=NOW)
    for later in (NOW + 400, NOW + 400 + keys.PRUNE_SECONDS):
        req = make_request("alice", alice, "approve", {}, escrow=ESCROW, now=later)
        verify_request(store, req, escrow=ESCROW, action="approve", now=later)
        with pytest.raises(AuthError) as info:
            verify_request(store, old, escrow=ESCROW, action="approve", now=later)
        assert info.value.code == "stale"
    assert store.prune_nonces(NOW + 1) == 0  # the first nonce was forgotten by the last request


def test_nonce_spent_only_when_the_action_commits(store, alice):
    req = make_request("alice", alice, "approve", {}, escrow=ESCROW, now=NOW)
    with pytest.raises(RuntimeError):
        with store.transaction():
            verify_request(store, req, escrow=ESCROW, action="approve", now=NOW)
            raise RuntimeError("action failed")
    verify_request(store, req, escrow=ESCROW, action="approve", now=NOW)  # not consumed by the failed attempt


def test_malformed_json():
    with pytest.raises(AuthError):
        SignedRequest.from_json("{")


def test_cli_agent_create_with_passphrase(tmp_path, dsc, monkeypatch):
    monkeypatch.setenv("PW", "hunter22")
    run = dsc
    r = run("agent", "create", "bank1", "--display", "First Bank", "--passphrase-env", "PW")
    assert r.returncode == 0, r.stderr
    assert b"ENCRYPTED" in (tmp_path / "keyring" / "bank1.pem").read_bytes()
    assert not (tmp_path / ".dsc-escrow" / "keyring").exists()
    r = run("agent", "create", "bank1")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    r = run("agent", "create", "bank2", "--passphrase-env", "UNSET_VAR_X")
    assert r.returncode == 1 and "UNSET_VAR_X" in r.stderr
    r = run("agent", "create", "bank2", "--passphrase-env", "PW", "--no-passphrase")
    assert r.returncode == 2  # one or the other
    r = run("agent", "list", "--format", "json")
    assert r.returncode == 0 and '"bank1"' in r.stdout and "bank2" not in r.stdout


def test_cli_keygen_then_register_elsewhere(tmp_path, dsc, monkeypatch):
    # the party makes its key pair on its own machine ...
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "party-keys"))
    r = dsc("agent", "keygen", "bank1", "--no-passphrase")
    assert r.returncode == 0, r.stderr
    assert "dsc agent register bank1 bank1.pub" in r.stdout
    pub = tmp_path / "party-keys" / "bank1.pub"
    assert b"PRIVATE" not in pub.read_bytes()
    assert dsc("agent", "keygen", "bank1", "--no-passphrase").returncode == 1  # never overwritten
    # ... the operator registers its public key (a file holding a private key is refused)
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "operator-keys"))
    r = dsc("agent", "register", "bank1", tmp_path / "party-keys" / "bank1.pem")
    assert r.returncode == 1 and "private key" in r.stderr
    both = tmp_path / "both.pem"
    both.write_bytes(pub.read_bytes() + (tmp_path / "party-keys" / "bank1.pem").read_bytes())
    assert dsc("agent", "register", "bank1", both).returncode == 1
    r = dsc("agent", "register", "bank1", pub, "--display", "First Bank")
    assert r.returncode == 0, r.stderr
    db = (tmp_path / ".dsc-escrow" / "escrow.db").read_bytes()
    assert b"PRIVATE KEY" not in db
    # the party, with its own keyring, acts on that escrow
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "party-keys"))
    (tmp_path / "t.csv").write_text("x\n1\n")
    assert dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1").returncode == 0
    # register without a file: the keyring's bank2.pub
    assert dsc("agent", "keygen", "bank2", "--no-passphrase").returncode == 0
    assert dsc("agent", "register", "bank2").returncode == 0


def test_cli_escrow_id_and_pinning(tmp_path, dsc, monkeypatch):
    assert dsc("agent", "create", "bank1", "--no-passphrase").returncode == 0
    r = dsc("escrow", "id", "--public-key")
    eid, pem = r.stdout.split("\n", 1)
    assert eid.startswith("escrow-") and eid == keys.escrow_id(pem)
    assert (tmp_path / ".dsc-escrow" / "escrow.pub").read_text() == pem
    assert (tmp_path / ".dsc-escrow" / "escrow.pub").stat().st_mode & 0o777 == 0o644
    (tmp_path / "t.csv").write_text("x\n1\n")
    monkeypatch.setenv("DSC_ESCROW_ID", "escrow-000000000000000000000000")
    r = dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1")
    assert r.returncode == 1 and "DSC_ESCROW_ID" in r.stderr
    monkeypatch.setenv("DSC_ESCROW_ID", eid)
    assert dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1").returncode == 0


def test_an_escrow_made_by_an_older_dsc(tmp_path, dsc):
    # agents' keys inside the escrow: not used, and the error says where to move them
    assert dsc("agent", "create", "bank1", "--no-passphrase").returncode == 0
    old = tmp_path / ".dsc-escrow" / "keyring"
    old.mkdir()
    (tmp_path / "keyring" / "bank1.pem").rename(old / "bank1.pem")
    (tmp_path / "t.csv").write_text("x\n1\n")
    r = dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1")
    assert r.returncode == 1 and "mv " in r.stderr and str(old / "bank1.pem") in r.stderr
    # the wrapped data keys of no_trust are still found where it kept them
    config = config_from_dict({}, tmp_path)
    assert config.datakeys_path == tmp_path / ".dsc-escrow" / "datakeys.json"
    (old / "datakeys.json").write_text("{}")
    assert config.datakeys_path == old / "datakeys.json"
