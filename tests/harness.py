"""A small scripted escrow for tests and benchmarks, over the public `Escrow` facade."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from datastation.runtime.config import Config
from datastation.runtime.escrow import (
    APPROVE,
    DATA_ADD,
    EXECUTE,
    POLICY_APPLY,
    PROPOSE,
    REJECT,
    REVOKE,
    Escrow,
    make_bundle,
    policy_params,
    propose_params,
)
from datastation.runtime.escrow.data import data_add_params


FIXTURES = Path(__file__).parent / "contracts" / "fixtures"


def bank_world(tmp_path: Path) -> "World":
    """An escrow with the bank fixture's agents and data registered (the files a private copy in
    `tmp_path/bank`); the caller closes it."""
    import shutil

    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    w = World(tmp_path, src / "bank.dsc")
    w.setup_from_file()
    return w


def run_dsc(*argv) -> tuple[int, str]:
    """`dsc ARGV` in this process: (exit code, everything it printed on stdout and stderr)."""
    from datastation.runtime.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue()


class World:
    """An escrow in `root/escrow` with a .dsc file whose agents and data are registered; the
    agents' keys (development keys, no passphrase) in their own keyring `root/keyring`."""

    def __init__(self, root: Path, dsc: Path | None = None, config: Config | None = None):
        self.root = Path(root)
        self.config = (config or Config()).with_root(self.root / "escrow", keyring=self.root / "keyring")
        self.escrow = Escrow.open(self.config)
        self.dsc = Path(dsc) if dsc else None

    def close(self) -> None:
        self.escrow.close()

    @property
    def store(self):
        return self.escrow.store

    def agent(self, *names: str) -> None:
        for n in names:
            self.escrow.create_agent(n, passphrase=None)

    def data(self, key: str, contents: bytes, fmt: str = "csv") -> None:
        owner = key.split(".", 1)[0]
        self.escrow.add_data(self.escrow.sign_as(owner, DATA_ADD, data_add_params(key, fmt, contents)), contents)

    def setup_from_file(self) -> None:
        """Register every agent of the file and every data element whose file exists."""
        from datastation.contracts.model import load_scenario

        scenario, _ = load_scenario(self.dsc)
        self.agent(*scenario.agents)
        for key, d in scenario.data.items():
            p = scenario.base_dir / d.path.value
            if p.exists():
                self.data(key, p.read_bytes(), d.format.name)

    # -- actions (each signed by `agent`) --------------------------------------------
    def propose(self, contract: str, agent: str, path: Path | None = None):
        bundle = make_bundle(path or self.dsc)
        return self.escrow.propose(self.escrow.sign_as(agent, PROPOSE, propose_params(bundle, contract))).row

    def approve(self, cid: str, agent: str):
        return self.escrow.approve(self.escrow.sign_as(agent, APPROVE, self.escrow.approval_params(agent, cid)))

    def reject(self, cid: str, agent: str, reason: str = "no"):
        return self.escrow.reject(self.escrow.sign_as(agent, REJECT, {"contract": cid, "reason": reason}))

    def revoke(self, cid: str, agent: str):
        return self.escrow.revoke(self.escrow.sign_as(agent, REVOKE, {"contract": cid}))

    def apply_policy(self, agent: str, path: Path | None = None):
        return self.escrow.apply_policy(self.escrow.sign_as(agent, POLICY_APPLY, policy_params(path or self.dsc)))

    def execute(self, cid: str, agent: str):
        return self.escrow.execute(self.escrow.sign_as(agent, EXECUTE, {"contract": cid}))

    def audit_kinds(self) -> list[str]:
        return [e.kind for e in self.store.audit_entries()]
