"""Playing the attacker end to end.

`play(folder, files)` writes a scenario (a .dsc, its functions, its data), runs it with
`dsc run --approve-all` in an escrow kept on disk, and returns what every party can see
afterwards: the terminal of `dsc run`, `dsc status` of every contract (human and JSON) and the
whole audit log (`dsc log`, human and JSON). A test then asserts that a secret planted in the
data appears nowhere in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness import run_dsc

# Planted in the data of the attacks: none of these may ever be shown before a release.
SECRET_TEXT = "S3CR3T-CELL-7f3a9c"
SECRET_NUMBER = 424242  # the sum of SECRET_CSV's `amount` column
SECRET_NUMBER_TEXT = "424242"
SECRET_CSV = f"name,amount\n{SECRET_TEXT},424000\nbob,242\n".encode()
# (column names of registered data are not secret: `dsc data add` publishes the schema)
SECRETS = (SECRET_TEXT, SECRET_NUMBER_TEXT)


dsc = run_dsc  # (exit code, everything it printed)


@dataclass
class Played:
    code: int
    terminal: str  # what `dsc run` printed
    escrow: Path
    config: Path

    def contracts(self) -> list[dict]:
        code, out = dsc("contracts", "--format", "json", "--config", self.config)
        assert code == 0, out
        return json.loads(out)

    def status(self, name: str) -> dict:
        """`dsc status --format json` of the contract called `name`."""
        cid = next(c["id"] for c in self.contracts() if c["name"] == name)
        code, out = dsc("status", cid, "--format", "json", "--config", self.config)
        assert code == 0, out
        return json.loads(out)

    def execution(self, name: str) -> dict:
        """The last execution of contract `name`, as `dsc status` shows it."""
        runs = self.status(name)["executions"]
        assert runs, f"contract {name} never ran"
        return runs[-1]

    def seen(self) -> str:
        """Everything a party can read: the terminal, `dsc status` of each contract, the audit log."""
        parts = [self.terminal]
        for c in self.contracts():
            parts.append(dsc("status", c["id"], "--config", self.config)[1])
            parts.append(dsc("status", c["id"], "--format", "json", "--config", self.config)[1])
        parts.append(dsc("log", "--config", self.config)[1])
        parts.append(dsc("log", "--format", "json", "--config", self.config)[1])
        return "\n".join(parts)

    def released(self) -> list[Path]:
        return sorted(p for p in (self.escrow / "outbox").rglob("*") if p.is_file())


def assert_nothing_leaks(played: Played, secrets=SECRETS) -> None:
    seen = played.seen()
    for s in secrets:
        assert s not in seen, f"{s!r} is shown before any release:\n{_around(seen, s)}"


def _around(text: str, needle: str, width: int = 300) -> str:
    i = text.find(needle)
    return text[max(0, i - width): i + width]


def play(folder: Path, files: dict[str, str | bytes], *, config: str = "", contract: str | None = None) -> Played:
    """Write `files` into `folder`, run `s.dsc` with `dsc run --approve-all` in `folder/escrow`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = folder / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    escrow = folder / "escrow"
    cfg = folder / "config.yaml"
    cfg.write_text(f"escrow_dir: '{escrow}'\n" + config)
    argv = ["run", folder / "s.dsc", *([contract] if contract else []), "--approve-all",
            "--escrow-dir", escrow, "--config", cfg]
    code, out = dsc(*argv)
    return Played(code, out, escrow, cfg)


# ---------------------------------------------------------------- hole 3: data through messages

LEAKY_FUNCTIONS = '''
import pandas as pd
from datastation.runtime.app_api import read_data
from datastation.stdlib.errors import BuiltinError


def n_rows(t) -> int:
    return len(t)


def text_of(t):
    return t.to_csv()


def number_of(t):
    return int(t["amount"].sum())


def names_of(t):
    return list(t["name"])


def boom(t):
    raise Exception(t.to_csv())


def boom_builtin(t):
    raise BuiltinError(t.to_csv())


def boom_keyerror(t):
    return t[t.iloc[0]["name"]]


def ask_for(t):
    return read_data(t.iloc[0]["name"])


def unserializable(t):
    return type("N" + str(int(t["amount"].sum())), (), {})()  # a class named after the data


def pivoted(t):
    """A table whose column names are cells of the data."""
    return pd.DataFrame({name: [1] for name in t["name"]})
'''

# One contract per way a value used to reach a message; `dsc run s.dsc NAME` plays one.
LEAKY_DSC = '''use "functions.py"

agent alice
agent bob

data alice.t csv "t.csv"

contract compare_text {
  by bob
  compute n_rows(t = alice.t)
  to bob
  require text_of(alice.t) > 0
}

contract failed_ensure {
  by bob
  compute number_of(t = alice.t)
  to bob
  ensure result < 0
}

contract compare_user_number {
  by bob
  compute n_rows(t = alice.t)
  to bob
  require number_of(alice.t) < 0
}

contract quantifier_binding {
  by bob
  compute n_rows(t = alice.t)
  to bob
  require for x in names_of(alice.t): x == "bob"
}

contract raise_message {
  by bob
  compute boom(t = alice.t)
  to bob
}

contract raise_builtin_type {
  by bob
  compute boom_builtin(t = alice.t)
  to bob
}

contract raise_library_error {
  by bob
  compute boom_keyerror(t = alice.t)
  to bob
}

contract key_from_data {
  by bob
  compute ask_for(t = alice.t)
  to bob
}

contract unserializable_result {
  by bob
  compute unserializable(t = alice.t)
  to bob
}

contract builtin_sql_value {
  by bob
  compute select(query = "SELECT CAST(name AS INTEGER) AS n FROM data", data = alice.t)
  to bob
}

contract builtin_sql_columns {
  by bob
  compute select(query = "SELECT S3CR3T FROM data", data = pivoted(alice.t))
  to bob
}

contract builtin_missing_column {
  by bob
  compute mean(data = pivoted(alice.t), column = "nope")
  to bob
}

contract aggregate_shown {
  by bob
  compute n_rows(t = alice.t)
  to bob
  require rows(alice.t) >= 1
  ensure  minimum(alice.t, "amount") >= 0
}
'''

LEAKY_FILES = {"s.dsc": LEAKY_DSC, "functions.py": LEAKY_FUNCTIONS, "t.csv": SECRET_CSV}
LEAKY_CONTRACTS = [line.split()[1] for line in LEAKY_DSC.splitlines() if line.startswith("contract ")]


def bypass_checker(monkeypatch, *ignored: str) -> None:
    """The escrow's check at propose, with the given codes dropped: an escrow handed a module
    that its checker would refuse (what the executors do must not depend on the checker)."""
    from pathlib import Path

    from datastation.contracts import loading
    from datastation.contracts.model import Scenario
    from datastation.runtime.escrow import bundle as bundle_module

    real = loading.load_checked

    def lenient(path):
        loaded = real(path)
        if loaded.ok:
            return loaded
        left = tuple(d for d in loaded.errors if d.code not in ignored)
        assert not left, left
        result = loaded.result
        return loading.Loaded(Scenario.build(result.program, Path(path).resolve().parent, result.symbols), result, ())

    monkeypatch.setattr(bundle_module, "load_checked", lenient)
    monkeypatch.setattr(bundle_module, "_CHECKED", type(bundle_module._CHECKED)())  # no outcome cached by the strict check
