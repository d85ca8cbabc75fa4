"""The `server:` section of data_station_config.yaml: embedded defaults, the file's documented
defaults equal to them, and every bad value refused naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datastation.runtime.config import ConfigError, ServerConfig, config_from_dict

ROOT = Path(__file__).resolve().parents[3]


def test_no_section_means_a_local_server():
    s = config_from_dict({}).server
    assert s == ServerConfig()
    assert (s.host, s.tls_cert, s.tls_key) == ("127.0.0.1", None, None)


def test_the_documented_file_states_the_defaults(tmp_path):
    raw = yaml.safe_load((ROOT / "data_station_config.yaml").read_text())
    assert config_from_dict(raw, tmp_path).server == ServerConfig()


def test_values_and_relative_tls_paths(tmp_path):
    s = config_from_dict({"server": {"host": "0.0.0.0", "port": 9000, "tls_cert": "tls/c.pem", "tls_key": "tls/k.pem",
                                     "max_request_bytes": 1024, "max_upload_bytes": 2048, "invite_ttl_seconds": 60,
                                     "forwarded_allow_ips": ["10.0.0.1", "10.0.0.2"], "threads": 16, "workers": 2,
                                     "warm_decisions": False}}, tmp_path).server
    assert (s.threads, s.workers, s.warm_decisions) == (16, 2, False)
    assert (s.host, s.port, s.max_request_bytes, s.max_upload_bytes, s.invite_ttl_seconds) == \
        ("0.0.0.0", 9000, 1024, 2048, 60.0)
    assert s.tls_cert == tmp_path.resolve() / "tls/c.pem" and s.tls_key == tmp_path.resolve() / "tls/k.pem"
    assert s.forwarded_allow_ips == "10.0.0.1,10.0.0.2"


@pytest.mark.parametrize("server, key", [
    ({"listen": "x"}, "server.listen"),
    ({"port": "8750"}, "server.port"),
    ({"port": 70000}, "server.port"),
    ({"tls_cert": "c.pem"}, "server.tls_cert"),
    ({"max_request_bytes": 0}, "server.max_request_bytes"),
    ({"max_upload_bytes": -1}, "server.max_upload_bytes"),
    ({"invite_ttl_seconds": True}, "server.invite_ttl_seconds"),
    ({"forwarded_allow_ips": 5}, "server.forwarded_allow_ips"),
    ({"threads": 0}, "server.threads"),
    ({"threads": "8"}, "server.threads"),
    ({"workers": 0}, "server.workers"),
    ({"workers": 33}, "server.workers"),
    ({"workers": 2.0}, "server.workers"),
    ({"workers": True}, "server.workers"),
    ({"warm_decisions": "yes"}, "server.warm_decisions"),
    ({"warm_decisions": 1}, "server.warm_decisions"),
])
def test_bad_values_name_their_key(server, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict({"server": server})
