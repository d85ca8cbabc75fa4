"""Fixtures of the attacker tests: an escrow on the bank fixture, raw SQL on its database (what
someone with write access to the escrow's files can do), and `dsc audit verify` on it."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from datastation.runtime.cli import main
from docker_support import *  # noqa: F401,F403  (the no-trust attacks' Docker fixtures)
from harness import World

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"

# User functions an attacker adds beside the bank fixture's.
ATTACK_FUNCTIONS = '''

def dump(t) -> dict:
    """Everything in the table it is given."""
    return {c: [str(v) for v in t[c]] for c in t.columns}


def stack(ts: list) -> dict:
    """How many rows each table has, and its first cell."""
    return {"rows": [len(t) for t in ts], "first": [str(t.iloc[0, 0]) for t in ts]}


def echo(x) -> dict:
    return x


def peek(t) -> dict:
    """Reads bank2.train through the escrow API, whatever the contract says."""
    from datastation.runtime.app_api import read_data
    return dump(read_data("bank2.train"))
'''

ATTACK_CONTRACTS = '''
contract dump_train {
  by      auditor
  compute dump(t = bank1.train)
  to      auditor
}

contract peek_c {
  by      bank1
  compute peek(t = bank1.train)
  to      bank1
}

contract count_b2 {
  by      auditor
  compute rows(bank2.test)
  to      auditor
}

contract pooled1 {
  by bank1
  keep pool1 = stack(ts = [bank1.train])
}

contract pooled12 {
  by bank1
  keep pool12 = stack(ts = [bank1.train, bank2.train])
}

contract audit1 {
  by      auditor
  compute echo(x = pool1)
  to      auditor
}
'''


class Attack:
    """An escrow on a private copy of the bank fixture, plus the attacker's tools."""

    def __init__(self, tmp_path: Path):
        src = tmp_path / "bank"
        shutil.copytree(FIXTURES, src)
        (src / "functions.py").write_text((src / "functions.py").read_text() + ATTACK_FUNCTIONS)
        (src / "bank.dsc").write_text((src / "bank.dsc").read_text() + ATTACK_CONTRACTS)
        self.tmp = tmp_path
        self.world = World(tmp_path, src / "bank.dsc")
        self.world.setup_from_file()
        self.config_file = tmp_path / "escrow.yaml"
        self.config_file.write_text(f"escrow_dir: {tmp_path / 'escrow'}\n")

    # -- the escrow's files, edited directly --------------------------------------------
    def sql(self, statement: str, params: tuple = ()) -> list:
        db = sqlite3.connect(self.world.config.store.path, isolation_level=None)
        try:
            return db.execute(statement, params).fetchall()
        finally:
            db.close()

    def set_meta(self, cid: str, key: str, value) -> None:
        if key.split(".")[0] == "bundle":  # the bundle is stored once, in `bundles`, under the row's bundle_ref
            ref = self.sql("SELECT bundle_ref FROM contracts WHERE id = ?", (cid,))[0][0]
            assert ref, "the contract's bundle is stored in its own table"
            where = "$" + key[len("bundle"):]
            self.sql("UPDATE bundles SET body = json_set(body, ?, json(?)) WHERE sha256 = ?",
                     (where, json.dumps(value), ref))
            return
        self.sql("UPDATE contracts SET meta = json_set(meta, ?, json(?)) WHERE id = ?", (f"$.{key}", json.dumps(value), cid))

    def set_list(self, cid: str, column: str, values) -> None:
        self.sql(f"UPDATE contracts SET {column} = ? WHERE id = ?", (json.dumps(list(values)), cid))

    # -- what a party sees ---------------------------------------------------------------
    def audit_verify(self, capsys) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["audit", "verify", "--config", str(self.config_file), "--format", "json"])
        out = capsys.readouterr()
        return code, out.out + out.err

    def outbox(self, agent: str) -> list[Path]:
        d = self.world.config.outbox_path / agent
        return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []

    def approve_all(self, cid: str):
        for a in self.world.store.get_contract(cid).source_agents:
            self.world.approve(cid, a)
        return self.world.store.get_contract(cid)


@pytest.fixture
def attack(tmp_path):
    a = Attack(tmp_path)
    yield a
    a.world.close()
