"""`dsc init` creates an escrow; every other command finds it like git finds a repository (walking
up, `--escrow DIR`, `$DSC_ESCROW`, a config naming it), or says there is none and creates
nothing. Driven through the installed `dsc` entry point, in temporary directories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[3] / "examples" / "fraud" / "fraud.dsc"
DSC = [sys.executable, "-c", "import sys; from datastation.runtime.cli import main; sys.exit(main())"]


def dsc(cwd, *args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("DSC_CONFIG", "DSC_ESCROW")}
    e.update(env or {})
    return subprocess.run([*DSC, *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True, timeout=300)


def tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def test_init_then_found_from_a_subdirectory(tmp_path):
    r = dsc(tmp_path, "init")
    assert r.returncode == 0, r.stderr
    eid = dsc(tmp_path, "escrow", "id").stdout.strip()
    assert eid.startswith("escrow-") and eid in r.stdout and "dsc agent create" in r.stdout
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert dsc(sub, "escrow", "id").stdout.strip() == eid
    assert dsc(sub, "agent", "create", "alice", "--no-passphrase").returncode == 0
    assert not (sub / ".dsc-escrow").exists() and not (tmp_path / "a" / ".dsc-escrow").exists()
    assert "alice" in dsc(tmp_path, "agent", "list").stdout
    again = dsc(tmp_path, "init")
    assert again.returncode == 0 and "already" in again.stdout and eid in again.stdout


def test_no_escrow_says_so_and_creates_nothing(tmp_path):
    for args in (("status",), ("contracts",), ("policy", "show"), ("agent", "create", "bob", "--no-passphrase"),
                 ("propose", EXAMPLE, "joint_model", "--as", "bank1")):
        r = dsc(tmp_path, *args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("dsc: error: no escrow") and "dsc init" in r.stderr
    assert tree(tmp_path) == []
    assert not (tmp_path / "keyring").exists()  # not even bob's key


def test_escrow_flag_env_and_config(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert dsc(tmp_path, "init", project).returncode == 0
    eid = dsc(project, "escrow", "id").stdout.strip()
    for args, env in ((("--escrow", project, "escrow", "id"), None),
                      (("escrow", "id", "--escrow", project), None),
                      (("escrow", "--escrow", project, "id"), None),
                      (("--escrow", project / ".dsc-escrow", "escrow", "id"), None),
                      (("escrow", "id"), {"DSC_ESCROW": str(project)})):
        r = dsc(elsewhere, *args, env=env)
        assert (r.returncode, r.stdout.strip()) == (0, eid), (args, r.stderr)
    # a config file names the escrow: init creates it there, the others find it through the file
    cfg_dir = tmp_path / "configured"
    cfg_dir.mkdir()
    (cfg_dir / "data_station_config.yaml").write_text("escrow_dir: state/escrow\n")
    assert dsc(cfg_dir, "status").returncode == 1
    assert dsc(cfg_dir, "init").returncode == 0 and (cfg_dir / "state" / "escrow" / "escrow.db").exists()
    (cfg_dir / "x").mkdir()
    assert dsc(cfg_dir / "x", "status").returncode == 0
    assert dsc(elsewhere, "--escrow", cfg_dir, "status").returncode == 0
    assert tree(elsewhere) == []


def test_no_trust_without_a_kek_stops_at_init(tmp_path):
    (tmp_path / "data_station_config.yaml").write_text("trust_mode: no_trust\nkek: {env: DSC_TEST_NO_SUCH_KEK}\n")
    r = dsc(tmp_path, "init")
    assert r.returncode == 1 and r.stderr.startswith("dsc: error:") and "DSC_TEST_NO_SUCH_KEK" in r.stderr
    assert tree(tmp_path) == ["data_station_config.yaml"]
    r = dsc(tmp_path, "agent", "create", "alice", "--no-passphrase")
    assert r.returncode == 1 and tree(tmp_path) == ["data_station_config.yaml"]


def test_run_keep_prints_the_command_to_go_on(tmp_path):
    kept = tmp_path / "kept"
    r = dsc(tmp_path, "run", EXAMPLE, "--approve-all", "--keep", kept)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1].strip()
    assert line.startswith("DSC_KEYRING=") and f"dsc --escrow {kept}" in line
    env = {k: v for k, v in os.environ.items() if k not in ("DSC_CONFIG", "DSC_ESCROW", "DSC_KEYRING")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if shutil.which("dsc", path=env["PATH"]) is None:
        pytest.fail("the dsc entry point is not installed beside this Python")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(["bash", "-c", line + " --format json"], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [c["status"] for c in json.loads(done.stdout)] == ["executed"]
    # the printed keyring acts as the scenario's agents on the kept escrow
    more = subprocess.run(["bash", "-c", line.replace(" status", " agent list")], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert more.returncode == 0 and "bank1" in more.stdout
    assert tree(elsewhere) == []
