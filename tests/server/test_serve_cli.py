"""`dsc serve` reports a bad configuration before listening; `dsc invite` prints its token once
and the escrow keeps only its hash."""

import json

from datastation.runtime.config import load_config
from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.invites import SCOPE, token_hash


def test_serve_refuses_a_bad_server_section(dsc, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\nserver:\n  tls_cert: cert.pem\n")
    r = dsc("serve", "--config", cfg)
    assert r.returncode == 1 and "server.tls_cert" in r.stderr


def test_invite_prints_the_token_and_keeps_its_hash(dsc, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\n")
    assert dsc("init", "--config", cfg).returncode == 0  # only `dsc init` creates an escrow
    r = dsc("invite", "bank2", "--config", cfg)
    assert r.returncode == 0
    token = next(line.split()[-1] for line in r.stdout.splitlines() if "token:" in line)
    out = json.loads(dsc("invite", "bank3", "--ttl", "60", "--format", "json", "--config", cfg).stdout)
    assert out["agent"] == "bank3" and out["token"].startswith("dsci_")
    with Escrow.open(load_config(cfg)) as escrow:
        kept = escrow.store.list_state(SCOPE)
        assert set(kept) == {token_hash(token), token_hash(out["token"])}
        assert token not in json.dumps(kept) and token not in json.dumps([e.payload for e in escrow.store.audit_entries()])
    assert dsc("invite", "bad name", "--config", cfg).returncode == 1
    alone = dsc("invite", "bank4", "--format", "token", "--config", cfg)
    assert alone.returncode == 0 and alone.stdout.strip().startswith("dsci_") and len(alone.stdout.split()) == 1


def test_serve_refuses_a_bad_worker_count(dsc, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\n")
    for bad in ("0", "33"):
        r = dsc("serve", "--config", cfg, "--workers", bad)
        assert r.returncode == 2 and "--workers" in r.stderr
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\nserver:\n  workers: 0\n")
    r = dsc("serve", "--config", cfg)
    assert r.returncode == 1 and "server.workers" in r.stderr


def test_a_worker_refuses_a_config_changed_after_start(dsc, tmp_path, monkeypatch):
    """A worker finds the config as `dsc serve` did; a file edited in between is refused."""
    import pytest

    from datastation.runtime.server import serve as srv

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\n")
    assert dsc("init", "--config", cfg).returncode == 0
    config = load_config(cfg)
    monkeypatch.setenv(srv.WORKER_ENV, json.dumps({"escrow": None, "config": str(cfg), "digest": srv.digest(config)}))
    assert srv.worker_app().state.config == config
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\nserver:\n  threads: 9\n")
    with pytest.raises(RuntimeError, match="changed"):
        srv.worker_app()
