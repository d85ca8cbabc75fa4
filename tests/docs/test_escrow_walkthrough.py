"""docs/escrow.md's walkthrough of the local lifecycle runs verbatim: its one marked shell block,
in a temporary directory with its own HOME (so its own keyring), FRAUD naming examples/fraud
(the only name the doc leaves to the reader), through the installed `dsc`."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
MARK = "<!-- walkthrough: tests/docs/test_escrow_walkthrough.py"


def walkthrough() -> str:
    text = (ROOT / "docs" / "escrow.md").read_text(encoding="utf-8")
    after = text.split(MARK, 1)[1]
    block = re.search(r"```sh\n(.*?)```", after, re.S)
    assert block is not None, "no ```sh block after the walkthrough mark"
    return block.group(1)


def test_the_walkthrough_names_every_step():
    script = walkthrough()
    for step in ("dsc init", "dsc agent create", "dsc data add", "dsc policy apply", "dsc propose", "dsc approve",
                 "dsc execute", "dsc result", "dsc status", "dsc log", "dsc audit verify"):
        assert step in script, step


def test_the_walkthrough_runs_verbatim(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSC_")}
    env.update(HOME=str(tmp_path / "home"), FRAUD=str(ROOT / "examples" / "fraud"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    shared = tmp_path / "shared"
    assert (shared / "model.json").read_text().startswith("{")
    assert (tmp_path / "home" / ".config" / "datastation" / "keys" / "bank2.pem").is_file()
    assert not list((shared / ".dsc-escrow").rglob("*.pem"))[1:]  # no party's private key in the escrow
    assert "status: executed" in proc.stdout
    assert "audit log OK" in proc.stdout
