"""trust_mode decides the default executor; no_trust never runs in-process; one image name everywhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from datastation.runtime.config import DEFAULT_IMAGE, Config, ConfigError, config_from_dict, load_config
from harness import run_dsc

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("raw, executor", [
    ({}, "inprocess"),
    ({"trust_mode": "full_trust"}, "inprocess"),
    ({"trust_mode": "no_trust"}, "docker"),
    ({"trust_mode": "no_trust", "executor": None}, "docker"),
    ({"trust_mode": "no_trust", "executor": "docker"}, "docker"),
    ({"trust_mode": "full_trust", "executor": "docker"}, "docker"),
    ({"trust_mode": "full_trust", "executor": None}, "inprocess"),
    ({"trust_mode": "no_trust", "executor": "inprocess"}, ConfigError),
])
def test_executor_follows_trust_mode(tmp_path, raw, executor):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    if executor is ConfigError:
        with pytest.raises(ConfigError, match="executor"):
            load_config(cfg)
        with pytest.raises(ConfigError, match="executor"):
            config_from_dict(raw, tmp_path)
        return
    assert load_config(cfg).executor == executor
    assert config_from_dict(raw, tmp_path).executor == executor


def test_dataclass_construction_and_replace_are_checked_too():
    assert Config(trust_mode="no_trust").executor == "docker"
    with pytest.raises(ConfigError):
        Config(trust_mode="no_trust", executor="inprocess")
    with pytest.raises(ConfigError):
        dataclasses.replace(Config(), trust_mode="no_trust")  # inprocess resolved already: refused


def test_dsc_run_refuses_no_trust_inprocess_as_a_config_error(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("trust_mode: no_trust\nexecutor: inprocess\n")
    code, out = run_dsc("run", ROOT / "examples" / "schema" / "schema.dsc", "--approve-all", "--config", cfg)
    assert code == 1, out  # a configuration error, as for every command
    assert "executor" in out and "no_trust" in out
    assert "Traceback" not in out and "internal error" not in out


def test_one_image_name_everywhere():
    from datastation.runtime.executors.docker import container, image

    assert DEFAULT_IMAGE == image.LATEST == container.Limits().image == Config().docker.image
    repo_cfg = yaml.safe_load((ROOT / "data_station_config.yaml").read_text())
    assert repo_cfg["docker"]["image"] == DEFAULT_IMAGE
    assert repo_cfg["executor"] is None  # the trust mode picks it
    for doc in ("docker/build-image.sh", "docker/Dockerfile", "docs/no-trust.md"):
        assert DEFAULT_IMAGE in (ROOT / doc).read_text(), doc
    assert "datastation-runner" not in (ROOT / "docs" / "no-trust.md").read_text()


def test_build_tags_latest_and_the_configured_name(monkeypatch):
    from datastation.runtime.executors.docker import image

    ran = []
    monkeypatch.setattr(image, "_run", lambda cmd, log, **kw: ran.append(cmd))
    image._tag_all("datastation-runtime:abc", ["mine:1"], lambda *_: None)
    assert ran == [["docker", "tag", "datastation-runtime:abc", DEFAULT_IMAGE],
                   ["docker", "tag", "datastation-runtime:abc", "mine:1"]]
