"""Hole 4(a): an agent's private key is the agent's own. It lives in a per-user keyring outside
the escrow directory, protected by a passphrase unless the user opts out, and is never written
half-way; the escrow holds public keys only, and its own signing key is readable by its owner only."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import ok
from cryptography.hazmat.primitives import serialization

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"
PRIVATE_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
SCRYPT_OID = bytes.fromhex("06092b06010401da47040b")  # 1.3.6.1.4.1.11591.4.11 (RFC 7914)
PASSPHRASE = "correct horse battery staple"


def _raw(key) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def _private_keys_outside(root: Path, escrow_dir: Path) -> dict[Path, bytes]:
    """Raw bytes of every private key file under `root` but outside the escrow directory."""
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and escrow_dir not in p.parents and PRIVATE_PEM.search(p.read_bytes()):
            key = serialization.load_pem_private_key(p.read_bytes(), PASSPHRASE.encode())
            out[p] = _raw(key)
    return out


def _key_material_in(escrow_dir: Path, raws: list[bytes]) -> list[str]:
    """Files under the escrow directory (its own signing key aside) holding private key material."""
    found = []
    forms = [f for raw in raws for f in (raw, base64.b64encode(raw), raw.hex().encode(), raw.hex().upper().encode())]
    for p in sorted(escrow_dir.rglob("*")):
        if not p.is_file() or p == escrow_dir / "escrow_key.pem":
            continue
        data = p.read_bytes()
        if PRIVATE_PEM.search(data):
            found.append(f"{p.relative_to(escrow_dir)}: a PEM private key")
        if any(f in data for f in forms):
            found.append(f"{p.relative_to(escrow_dir)}: an agent's raw private key bytes")
    return found


def test_no_agent_key_material_under_the_escrow_after_a_whole_lifecycle(tmp_path, dsc, monkeypatch):
    monkeypatch.setenv("DSC_PASSPHRASE", PASSPHRASE)
    shutil.copytree(FIXTURES, tmp_path / "bank")
    for agent in ("bank1", "bank2"):
        ok(dsc("agent", "create", agent))
    for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
        owner, name = key.split(".")
        ok(dsc("data", "add", key, f"bank/{owner}_{name}.csv", "--as", owner))
    cid = json.loads(ok(dsc("propose", "bank/bank.dsc", "joint_model", "--as", "bank1", "--format", "json")).stdout)["id"]
    ok(dsc("approve", cid, "--as", "bank1", "--yes"))
    ok(dsc("approve", cid, "--as", "bank2", "--yes"))
    rep = json.loads(ok(dsc("execute", cid, "--as", "bank2", "--format", "json")).stdout)
    assert rep["status"] == "executed"

    escrow_dir = tmp_path / ".dsc-escrow"
    agent_keys = _private_keys_outside(tmp_path, escrow_dir)
    assert _key_material_in(escrow_dir, list(agent_keys.values())) == []
    # the agents' keys are in the user's keyring, one per agent, passphrase-protected
    assert sorted(p.name for p in agent_keys) == ["bank1.pem", "bank2.pem"]
    assert all(b"ENCRYPTED" in p.read_bytes() for p in agent_keys)


def test_a_new_key_is_passphrase_protected_unless_the_user_opts_out(tmp_path, dsc, monkeypatch):
    keyring = Path(os.environ["DSC_KEYRING"])
    # no passphrase source and no terminal to ask on: refused, nothing made, nothing registered
    r = dsc("agent", "create", "bank1")
    assert r.returncode == 1
    assert "--no-passphrase" in r.stderr and "DSC_PASSPHRASE" in r.stderr
    assert not keyring.exists() or not any(keyring.iterdir())
    store = tmp_path / ".dsc-escrow" / "escrow.db"
    assert not store.exists() or json.loads(ok(dsc("agent", "list", "--format", "json")).stdout) == []

    monkeypatch.setenv("DSC_PASSPHRASE", PASSPHRASE)
    ok(dsc("agent", "create", "bank1"))
    pem = (keyring / "bank1.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # a memory-hard KDF (scrypt), not BestAvailableEncryption's 2048 PBKDF2 iterations
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert SCRYPT_OID in der
    assert (keyring / "bank1.pem").stat().st_mode & 0o777 == 0o600
    assert keyring.stat().st_mode & 0o077 == 0

    monkeypatch.delenv("DSC_PASSPHRASE")
    (tmp_path / "t.csv").write_text("x\n1\n")
    r = dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1")
    assert r.returncode == 1 and "passphrase" in r.stderr
    monkeypatch.setenv("BANK1_PW", PASSPHRASE)
    ok(dsc("data", "add", "bank1.t", "t.csv", "--as", "bank1", "--passphrase-env", "BANK1_PW"))


def test_a_keyring_inside_the_escrow_directory_is_refused(tmp_path, monkeypatch):
    from datastation.runtime.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="keyring"):
        config_from_dict({"keyring_path": ".dsc-escrow/keyring"}, tmp_path)
    with pytest.raises(ConfigError, match="keyring"):
        config_from_dict({"escrow_dir": "esc", "keyring_path": "esc/deep/keys"}, tmp_path)
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / ".dsc-escrow" / "keys"))
    with pytest.raises(ConfigError, match="DSC_KEYRING"):
        config_from_dict({}, tmp_path)


def test_the_escrow_signing_key_is_readable_by_its_owner_only(tmp_path, dsc):
    from datastation.runtime.config import config_from_dict
    from datastation.runtime.escrow import open_escrow

    config = config_from_dict({}, tmp_path)
    open_escrow(config).close()
    key = config.escrow_key_path
    assert key.stat().st_mode & 0o777 == 0o600
    assert config.escrow_dir.stat().st_mode & 0o077 == 0
    for mode in (0o640, 0o604, 0o660):
        os.chmod(key, mode)
        r = dsc("agent", "list")
        assert r.returncode == 1 and "chmod 600" in r.stderr and str(key) in r.stderr


def _dsc_process(cwd: Path, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datastation.runtime.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


# `dsc init` wrote the escrow's key first: in `agent create` the agent's key is the first one written
@pytest.mark.parametrize("point", ["keys.written:1", "keys.linked:1"])
def test_no_file_holding_a_partial_or_temporary_private_key_survives_a_crash(tmp_path, point):
    env = {**os.environ, "DSC_PASSPHRASE": PASSPHRASE, "DSC_CRASH_AT": point}
    env.pop("DSC_CONFIG", None)
    env.pop("DSC_ESCROW", None)
    assert _dsc_process(tmp_path, {k: v for k, v in env.items() if k != "DSC_CRASH_AT"}, "init").returncode == 0
    crashed = _dsc_process(tmp_path, env, "agent", "create", "bank1")
    assert crashed.returncode == -9, crashed.stderr

    def key_files() -> list[str]:
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                      if p.is_file() and PRIVATE_PEM.search(p.read_bytes()))

    keyring = Path(env["DSC_KEYRING"])
    expected = {"keys.written:1": [".dsc-escrow/escrow_key.pem"],
                "keys.linked:1": [".dsc-escrow/escrow_key.pem", str((keyring / "bank1.pem").relative_to(tmp_path))]}
    assert key_files() == expected[point]
    for p in tmp_path.rglob("*.pem"):  # what was published is whole
        serialization.load_pem_private_key(p.read_bytes(), PASSPHRASE.encode() if b"ENCRYPTED" in p.read_bytes() else None)

    env.pop("DSC_CRASH_AT")
    again = _dsc_process(tmp_path, env, "agent", "create", "bank1")
    assert again.returncode == 0, again.stderr
    assert key_files() == [".dsc-escrow/escrow_key.pem", str((keyring / "bank1.pem").relative_to(tmp_path))]
