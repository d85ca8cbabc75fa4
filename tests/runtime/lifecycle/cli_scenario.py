"""A small two-agent scenario driven through `dsc` (in-process, or as a subprocess) in a
temporary directory with its own escrow and keyring."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from datastation.runtime.cli import main

DSC = '''use "fns.py"

agent alice
agent bob

data alice.nums csv "nums.csv" { x: int }

contract total {
  by      bob
  compute add_up(data = alice.nums)
  to      bob
  require rows(alice.nums) >= 3
}

contract quits {
  by      bob
  compute quits(data = alice.nums)
  to      bob
}

contract raises {
  by      bob
  compute raises(data = alice.nums)
  to      bob
}

contract slow {
  by      bob
  compute slow(data = alice.nums)
  to      bob
}
'''

FNS = '''import sys
import time


def add_up(data) -> int:
    return int(data["x"].sum())


def quits(data) -> int:
    sys.exit(3)


def raises(data) -> int:
    raise KeyboardInterrupt


def slow(data) -> int:
    time.sleep(60)
    return 1
'''


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Scenario:
    """`dsc` in `root` (its escrow in root/escrow, keys in root/keyring)."""

    def __init__(self, root: Path, capsys=None):
        self.root, self.capsys = Path(root), capsys
        (self.root / "fns.py").write_text(FNS)
        (self.root / "s.dsc").write_text(DSC)
        (self.root / "nums.csv").write_text("x\n1\n2\n")
        (self.root / "data_station_config.yaml").write_text("escrow_dir: escrow\n")
        self.env = {**os.environ, "DSC_KEYRING": str(self.root / "keyring"),
                    "DSC_CONFIG": str(self.root / "data_station_config.yaml")}

    def __call__(self, *args) -> SimpleNamespace:
        """`dsc ARGS` in-process (the caller has chdir'd to root and set the environment)."""
        code = main([str(a) for a in args])
        out = self.capsys.readouterr()
        assert "Traceback" not in out.err, out.err
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    def popen(self, *args) -> subprocess.Popen:
        """`dsc ARGS` as a subprocess that Ctrl-C (SIGINT) interrupts, as in a terminal, even when
        the tests run as a background job (whose shell makes it ignore SIGINT, and children
        inherit that: Python then never raises KeyboardInterrupt)."""
        return subprocess.Popen([sys.executable, "-m", "datastation.runtime.cli", *map(str, args)], cwd=self.root,
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_sigint_as_in_a_terminal)

    def setup(self) -> None:
        assert self("init").returncode == 0  # every command but `dsc init` needs an escrow made by it
        for a in ("alice", "bob"):
            assert self("agent", "create", a, "--no-passphrase").returncode == 0
        r = self("data", "add", "alice.nums", "nums.csv", "--as", "alice")
        assert r.returncode == 0, r.stderr

    def propose(self, contract: str) -> SimpleNamespace:
        return self("propose", "s.dsc", contract, "--as", "bob", "--format", "json")

    def approved(self, contract: str) -> str:
        r = self.propose(contract)
        assert r.returncode == 0, r.stderr
        cid = json.loads(r.stdout)["id"]
        assert self("approve", cid, "--as", "alice", "--yes").returncode == 0
        return cid

    def status(self, cid: str) -> dict:
        r = self("status", cid, "--format", "json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
