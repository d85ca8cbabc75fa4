"""`dsc agent/data/log/audit` from the command line: exit codes, no tracebacks."""

import json

import pytest
import yaml

from pg_support import store_section


@pytest.fixture
def on_store(tmp_path, backend, request):
    """The escrow of the current directory on `backend` (a config file naming the PostgreSQL store)."""
    store = store_section(request, backend)
    if store:
        (tmp_path / "data_station_config.yaml").write_text(yaml.safe_dump({"store": store}))
    return backend


def test_data_workflow(tmp_path, on_store, dsc):
    (tmp_path / "t.csv").write_text("id,amount\n1,2.5\n2,3.0\n")
    (tmp_path / "s.json").write_text('{"id": "int", "amount": "float"}')
    assert dsc("agent", "create", "bank1", "--no-passphrase").returncode == 0
    assert dsc("agent", "create", "bank2", "--no-passphrase").returncode == 0
    r = dsc("data", "add", "bank1.train", "t.csv", "--as", "bank1", "--declared-schema", "@s.json")
    assert r.returncode == 0, r.stderr
    r = dsc("data", "list", "--format", "json")
    (row,) = json.loads(r.stdout)
    assert (row["key"], row["schema"]) == ("bank1.train", {"id": "int", "amount": "float"})
    assert dsc("data", "add", "bank1.train", "t.csv", "--as", "bank1").returncode == 1  # exists
    assert dsc("data", "add", "bank1.train", "t.csv", "--as", "bank1", "--replace").returncode == 0
    assert dsc("data", "remove", "bank1.train", "--as", "bank2").returncode == 1  # not the owner
    assert dsc("data", "remove", "bank1.train", "--as", "bank1").returncode == 0
    assert json.loads(dsc("data", "list", "--format", "json").stdout) == []
    r = dsc("log", "--format", "json")
    kinds = [e["kind"] for e in json.loads(r.stdout)]
    assert kinds == ["genesis", "agent_created", "agent_created", "data_add", "refusal", "data_replace", "refusal", "data_remove"]
    assert dsc("audit", "verify").returncode == 0


@pytest.mark.parametrize("args", [
    ("data", "add", "bank1.t", "missing.csv", "--as", "bank1"),
    ("data", "add", "bank1.t", "t.txt", "--as", "bank1"),  # unknown extension
    ("data", "add", "bank1.t", "t.csv", "--as", "ghost"),  # no key for this agent
    ("data", "add", "bank1.t", "t.csv", "--as", "bank1", "--declared-schema", "{bad"),
    ("data", "add", "bank1.t", "t.csv", "--as", "bank1", "--declared-schema", '{"x": "decimal"}'),
    ("data", "add", "nodot", "t.csv", "--as", "bank1"),
    ("data", "remove", "bank1.none", "--as", "bank1"),
    ("agent", "create", "9bad"),
    ("agent", "register", "x", "missing.pem"),
    ("log", "--config", "nope.yaml"),
])
def test_errors_exit_1(tmp_path, on_store, dsc, args):
    (tmp_path / "t.csv").write_text("x\n1\n")
    (tmp_path / "t.txt").write_text("x\n1\n")
    assert dsc("agent", "create", "bank1", "--no-passphrase").returncode == 0
    r = dsc(*args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("dsc: error:")


def test_bad_config_file(tmp_path, dsc):
    (tmp_path / "data_station_config.yaml").write_text("trust_mode: sometimes\n")
    r = dsc("agent", "list")
    assert r.returncode == 1 and "trust_mode" in r.stderr


def test_usage_errors_exit_2(dsc):
    assert dsc("data", "add", "bank1.t").returncode == 2
    assert dsc("agent").returncode == 2


def test_read_commands_do_not_create_an_escrow(tmp_path, dsc):
    import shutil

    shutil.rmtree(tmp_path / ".dsc-escrow")  # the one `dsc init` made
    for args in (("log",), ("audit", "verify"), ("data", "list"), ("agent", "list")):
        r = dsc(*args)
        assert r.returncode == 1 and "no escrow" in r.stderr
    assert not (tmp_path / ".dsc-escrow").exists()
