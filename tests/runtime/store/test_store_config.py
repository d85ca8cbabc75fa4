"""data_station_config.yaml loading and validation."""

from pathlib import Path

import pytest
import yaml

from datastation.runtime.config import CONFIG_NAME, ConfigError, Config, load_config

REPO_CONFIG = Path(__file__).resolve().parents[3] / CONFIG_NAME


def test_repo_config_equals_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_CONFIG", raising=False)
    defaults = load_config()
    (tmp_path / CONFIG_NAME).write_text(REPO_CONFIG.read_text())
    from_file = load_config()
    assert from_file.source == (tmp_path / CONFIG_NAME).resolve()
    assert {**from_file.__dict__, "source": None} == {**defaults.__dict__, "source": None}
    assert defaults.store.path == tmp_path.resolve() / ".dsc-escrow" / "escrow.db"


def test_paths_follow_escrow_dir_and_config_location(tmp_path):
    cfg = tmp_path / "conf" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text(yaml.safe_dump({"escrow_dir": "esc", "outbox_path": "/abs/out", "trust_mode": "no_trust",
                                   "executor": "docker", "docker": {"cpus": 2, "warm_pool": 3}, "kek": {"env": "K"}}))
    c = load_config(cfg)
    base = cfg.parent.resolve()
    assert c.escrow_dir == base / "esc"
    assert c.store.path == base / "esc" / "escrow.db"
    assert c.storage_path == base / "esc" / "storage"
    assert c.outbox_path == Path("/abs/out")
    assert (c.trust_mode, c.executor, c.docker.cpus, c.docker.warm_pool, c.kek.env) == ("no_trust", "docker", 2.0, 3, "K")


def test_env_var_and_with_root(tmp_path, monkeypatch):
    cfg = tmp_path / "x.yaml"
    cfg.write_text("trust_mode: full_trust\n")
    monkeypatch.setenv("DSC_CONFIG", str(cfg))
    c = load_config().with_root(tmp_path / "tmp-escrow")
    assert c.store.path == (tmp_path / "tmp-escrow" / "escrow.db").resolve()
    assert c.escrow_dir not in c.keyring_path.parents  # the agents' keys stay where they were
    assert c.with_root(tmp_path / "e2", keyring=tmp_path / "k").keyring_path == (tmp_path / "k").resolve()
    assert isinstance(c, Config)


@pytest.mark.parametrize("text, key", [
    ("bogus: 1", "bogus"),
    ("trust_mode: maybe", "trust_mode"),
    ("executor: vm", "executor"),
    ("store: {backend: postgres}", "store.backend"),
    ("store: {size: 3}", "store.size"),
    ("store: [1]", "store"),
    ("docker: {cpus: many}", "docker.cpus"),
    ("docker: {pids: true}", "docker.pids"),
    ("request_window_seconds: -1", "request_window_seconds"),
    ("- a list", "mapping"),
    ("a: [unclosed", "YAML"),
    ("escrow_dir: 5", "escrow_dir"),
])
def test_invalid(tmp_path, text, key):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(cfg)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.yaml")


def test_postgresql_url_chooses_the_postgresql_store(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("store:\n  url: postgresql://escrow:secret@db.internal:5432/escrow\n")
    c = load_config(cfg)
    assert (c.store.backend, c.store.url) == ("postgresql", "postgresql://escrow:secret@db.internal:5432/escrow")
    assert "secret" not in repr(c)  # the URL may hold a password: never in a repr
    cfg.write_text("store:\n  backend: postgresql\n  url: postgres://db/escrow\n")
    assert load_config(cfg).store.backend == "postgresql"
    assert load_config(cfg).with_root(tmp_path / "e").store.url == "postgres://db/escrow"  # a URL has no root
    cfg.write_text("store: {}\n")
    assert (load_config(cfg).store.backend, load_config(cfg).store.url) == ("sqlite", None)  # the default


@pytest.mark.parametrize("store", [
    "{url: mysql://db/escrow}",
    "{url: 5}",
    "{backend: postgresql}",
    "{backend: sqlite, url: postgresql://db/e}",
    "{url: postgresql://db/e, path: x.db}",
    "{url: postgresql://db/e, synchronous: FULL}",
])
def test_invalid_store_url(tmp_path, store):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"store: {store}\n")
    with pytest.raises(ConfigError, match=r"store\.(url|path|synchronous)"):
        load_config(cfg)
