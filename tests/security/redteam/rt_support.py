"""Shared tools of the red-team tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness import World, run_dsc

# Planted in the owner's data: nothing derived from it may reach a non-recipient.
SECRET_TEXT = "S3CR3T-CELL-7f3a9c"
SECRET_CSV = f"name,amount\n{SECRET_TEXT},424000\nbob,242\n"
SECRET_SUM = 424242


dsc = run_dsc  # (exit code, everything printed)


class Scenario:
    """A scenario folder (`s.dsc`, modules, data) and an escrow on it (the harness `World`,
    i.e. the documented `Escrow` facade with each agent's own keyring)."""

    def __init__(self, root: Path, files: dict[str, str | bytes], config_text: str = "",
                 agents: tuple[str, ...] = (), extra_data: dict[str, bytes] | None = None):
        from datastation.runtime.config import load_config

        self.root = Path(root)
        self.src = self.root / "sc"
        self.src.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            p = self.src / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(text if isinstance(text, bytes) else text.encode())
        self.config_file = self.root / "escrow.yaml"
        self.config_file.write_text(f"escrow_dir: '{self.root / 'escrow'}'\n{config_text}")
        base = load_config(self.config_file) if config_text else None
        self.world = World(self.root, self.src / "s.dsc", config=base)
        self.world.setup_from_file()
        for a in agents:
            self.world.agent(a)
        for key, body in (extra_data or {}).items():
            self.world.data(key, body)

    def close(self):
        self.world.close()

    # what any party reads on the escrow's machine
    def cli(self, *args) -> tuple[int, str]:
        return dsc(*args, "--config", self.config_file)

    def log(self) -> list[dict]:
        code, out = self.cli("log", "--format", "json")
        assert code == 0, out
        return json.loads(out)

    def status(self, cid: str) -> dict:
        code, out = self.cli("status", cid, "--format", "json")
        assert code == 0, out
        return json.loads(out)

    def everything_seen(self, cid: str) -> str:
        parts = [self.cli("status", cid)[1], self.cli("status", cid, "--format", "json")[1],
                 self.cli("log")[1], self.cli("log", "--format", "json")[1]]
        return "\n".join(parts)

    def run(self, contract: str, proposer: str, approvers: tuple[str, ...], executor: str):
        row = self.world.propose(contract, proposer)
        for a in approvers:
            self.world.approve(row.id, a)
        report = self.world.execute(row.id, executor)
        return row.id, report


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def brute_force_value(target_hash: str, candidates) -> object | None:
    """Find the value whose released bytes (the documented `serialize.to_bytes`) hash to target."""
    from datastation.stdlib import serialize

    for v in candidates:
        _, body = serialize.to_bytes(v)
        if sha(body) == target_hash:
            return v
    return None


def hashes_in(obj) -> set[str]:
    """Every 64-hex string anywhere in a JSON value."""
    found: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and len(x) == 64 and all(c in "0123456789abcdef" for c in x):
            found.add(x)
    walk(obj)
    return found


def refusal_code(fn):
    """The refusal code `fn()` raised (an exception's `code`, else its type name), or None."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the refusal's code is what is checked
        return getattr(exc, "code", type(exc).__name__)
    return None


def two_jobs_dsc(send: str, receive: str) -> str:
    """mallory's `count_rows` over alice's table (released to alice) calling `send`, and mallory's
    own `mine` over her own data (only she approves it) calling `receive`."""
    return ('use "f.py"\nagent alice\nagent mallory\ndata alice.t csv "t.csv"\ndata mallory.d csv "d.csv"\n\n'
            f"contract count_rows {{ by mallory compute {send}(t = alice.t) to alice }}\n"
            f"contract mine       {{ by mallory compute {receive}(d = mallory.d) to mallory }}\n")


#: a user module whose function returns its input whole (the attacks' "copy the table")
COPY_FUNCS = '''
def copy(t):
    return t
'''
