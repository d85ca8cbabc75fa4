"""The fraud example across three "machines" through the command line: docs/server.md's marked
shell block runs verbatim (`dsc` subprocesses), against one `dsc serve` on 127.0.0.1, each party
with its own home directory and keyring. Only $SITE, $DSC_ESCROW, $MACHINES and $FRAUD (the names
the doc itself uses) are given here. The model reaches the two banks only: the outsider's
`dsc result` is refused, and it never holds another party's key."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
MARK = "<!-- walkthrough: tests/server/test_cli_three_machines.py"


def walkthrough() -> str:
    after = (ROOT / "docs" / "server.md").read_text(encoding="utf-8").split(MARK, 1)[1]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)


def _env(served, machines: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSC_")}
    env.update(SITE=str(served.root / "escrow"), DSC_ESCROW=served.url, MACHINES=str(machines),
               FRAUD=str(ROOT / "examples" / "fraud"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return env


def dsc(env, home: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["dsc", *map(str, args)], env={**env, "HOME": str(home)}, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_three_machines_through_the_cli(served, tmp_path):
    machines = tmp_path / "machines"
    for m in ("bank1", "bank2", "outsider"):
        (machines / m).mkdir(parents=True)
    env = _env(served, machines)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + served.log_text()
    assert "Traceback" not in proc.stderr
    assert "status: executed" in proc.stdout
    assert proc.stdout.rstrip().endswith("no contracts")  # the outsider sees nothing

    model = machines / "bank1" / "model.json"
    assert json.loads(model.read_text())["format"] == "datastation.linear_model/1"
    keys = {m: sorted(p.name for p in (machines / m / ".config/datastation/keys").glob("*.pem"))
            for m in ("bank1", "bank2", "outsider")}
    assert keys == {"bank1": ["bank1.pem"], "bank2": ["bank2.pem"], "outsider": ["outsider.pem"]}
    assert not list((served.root / "escrow").rglob("bank*.pem"))  # the escrow holds public keys only

    # The contract's full id (as bank2 reads it): the outsider is refused its result and status.
    st = dsc(env, machines / "bank2", "status", "joint_model", "--as", "bank2", "--format", "json")
    cid = json.loads(st.stdout)["id"]
    for args in (("result", cid, "--as", "outsider", "-o", machines / "outsider" / "model.json"),
                 ("status", cid, "--as", "outsider"), ("result", "joint_model", "--as", "outsider")):
        got = dsc(env, machines / "outsider", *args)
        assert got.returncode == 1 and got.stderr.startswith("dsc: error:"), (args, got.stderr)
    assert not (machines / "outsider" / "model.json").exists()
    # bank2 holds no key of bank1's: it cannot act as bank1
    got = dsc(env, machines / "bank2", "execute", cid, "--as", "bank1")
    assert got.returncode == 1 and got.stderr.startswith("dsc: error:")


def test_remote_refusals_keep_the_exit_code_table(served, tmp_path):
    machines = tmp_path / "machines"
    env = _env(served, machines)
    homes = {}
    for m in ("bank1", "bank2"):
        homes[m] = machines / m
        homes[m].mkdir(parents=True)
        got = dsc(env, homes[m], "agent", "create", m, "--invite", served.invite(m), "--no-passphrase")
        assert got.returncode == 0, got.stderr
        for part in ("train", "test"):
            got = dsc(env, homes[m], "data", "add", f"{m}.{part}", ROOT / f"examples/fraud/data/{m}_{part}.csv",
                      "--as", m)
            assert got.returncode == 0, got.stderr
    fraud = ROOT / "examples" / "fraud" / "fraud.dsc"
    assert dsc(env, homes["bank1"], "propose", fraud, "joint_model", "--as", "bank1").returncode == 0
    got = dsc(env, homes["bank1"], "execute", "joint_model", "--as", "bank1")
    assert got.returncode == 4 and "awaiting_approval" not in got.stdout, got.stderr  # awaiting approval
    got = dsc(env, homes["bank2"], "reject", "joint_model", "--as", "bank2", "--why", "not now")
    assert got.returncode == 0, got.stderr
    got = dsc(env, homes["bank1"], "execute", "joint_model", "--as", "bank1")
    assert got.returncode == 3, got.stderr  # rejected: denied
    got = dsc(env, homes["bank1"], "status", "joint_model")  # a read needs an agent to sign it
    assert got.returncode == 1 and "--as" in got.stderr
    got = dsc(env, homes["bank1"], "agent", "create", "carol", "--invite", "dsci_bogus", "--no-passphrase")
    assert got.returncode == 1 and got.stderr.startswith("dsc: error:")
    got = dsc({**env, "DSC_ESCROW": "ftp://127.0.0.1:1"}, homes["bank1"], "status", "--as", "bank1")
    assert got.returncode == 1 and got.stderr.startswith("dsc: error:")
    # proposed again after the rejection: the remote status shows both attempts, as a local one does
    got = dsc(env, homes["bank1"], "propose", fraud, "joint_model", "--as", "bank1")
    assert got.returncode == 0, got.stderr
    got = dsc(env, homes["bank2"], "status", "joint_model", "--as", "bank2", "--format", "json")
    assert got.returncode == 0, got.stderr
    st = json.loads(got.stdout)
    assert st["attempt"] == 2 and [a["outcome"] for a in st["attempts"]] == ["rejected", "pending"], st
    got = dsc(env, homes["bank2"], "status", "joint_model", "--as", "bank2")
    assert "attempt 1 (proposed by bank1): rejected" in got.stdout, got.stdout
