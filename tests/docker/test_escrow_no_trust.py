"""Through the escrow (`dsc run`, no_trust): a function reading a data element outside its
contract is short-circuited, recorded in the audit log, releases nothing, and the escrow
goes on to run the next contract."""

from __future__ import annotations

import pytest
from datastation.runtime.escrow.execution import READ_OUTSIDE

pytestmark = pytest.mark.docker

FUNCTIONS = '''
from datastation.runtime.app_api import read_data
from datastation.stdlib.types import Table


def snoop(t: Table) -> int:
    """Reads a data element its contract does not name."""
    return len(t) + len(read_data("b.s"))


def total_rows(t: Table) -> int:
    """Counts rows."""
    return len(t)
'''

SCENARIO = '''
use "functions.py"

agent a "A"
agent b "B"

data a.t csv "t.csv"
data b.s csv "s.csv"

contract snooping {
  by      a
  compute snoop(t = a.t)
  to      a
}

contract fine {
  by      a
  compute total_rows(t = a.t)
  to      a
}
'''


def test_short_circuit_is_recorded_and_the_escrow_serves_the_next_contract(tmp_path, no_trust_config, dsc_out,
                                                                           monkeypatch):
    from datastation.runtime.config import load_config
    from datastation.runtime.crypto.results import is_sealed, open_result
    from datastation.runtime.escrow import execution, open_escrow
    from datastation.runtime.keyring import Keyring

    staged, whole = [], []
    read_into, read_bytes = execution._Runner.read_into, execution._Runner.read_bytes
    monkeypatch.setattr(execution._Runner, "read_into",
                        lambda self, key, path: (staged.append(key), read_into(self, key, path))[1])
    monkeypatch.setattr(execution._Runner, "read_bytes",
                        lambda self, key: (whole.append(key), read_bytes(self, key))[1])
    (tmp_path / "functions.py").write_text(FUNCTIONS)
    (tmp_path / "scenario.dsc").write_text(SCENARIO)
    (tmp_path / "t.csv").write_text("id,x\n1,2\n3,4\n")
    (tmp_path / "s.csv").write_text("id,secret\n1,hidden\n")
    escrow = tmp_path / "escrow"
    code, out = dsc_out("run", tmp_path / "scenario.dsc", "--approve-all", "--escrow-dir", escrow,
                    "--config", no_trust_config)
    assert code != 0, out
    released = sorted(p for p in (escrow / "outbox").rglob("*") if p.is_file())
    assert len(released) == 1 and released[0].name.startswith("fine-"), (released, out[-2500:])
    # the Docker executor staged both runs' input through the fast path, never as whole bytes
    assert staged == ["a.t", "a.t"] and whole == []

    config = load_config(no_trust_config).with_root(escrow, keyring=tmp_path / "escrow.dev-keys")
    blob = released[0].read_bytes()
    assert is_sealed(blob)
    assert open_result(config, blob, "a", Keyring(config.keyring_path).load("a")) == b"2"
    with open_escrow(config, create=False) as ctx:
        entries = list(ctx.store.audit_entries())
    shorts = [e for e in entries if e.kind == "short_circuit"]
    # `dsc run` stores only the data its contracts read: b.s is not in the escrow, so the report
    # names no key (a key the function chose could be data), only what was refused
    assert [e.payload.get("key") for e in shorts] == [None]
    assert shorts[0].payload["blocked"] == READ_OUTSIDE
    reads = [(e.contract, e.payload["key"]) for e in entries if e.kind == "data_read"]
    assert sorted(k for _, k in reads) == ["a.t", "a.t"]  # b.s was never decrypted for anyone
    releases = [e for e in entries if e.kind == "release"]
    assert len(releases) == 1 and releases[0].contract != shorts[0].contract
