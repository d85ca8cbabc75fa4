"""Hole 8 (no trust, Docker): side channels past the release decision.

- App state a function stores is data: it is discarded when nothing is released, and it is
  encrypted at rest (the store's file never holds it in plaintext).
- The result channel accepts only the runner's own frame: a function that writes a frame of
  its own (an error carrying data, or a result of its choosing) is refused.
- A blocked network call is reported as what it is, not as a read of "?".
"""

from __future__ import annotations

import pytest

from attack_support import SECRET_CSV, SECRET_TEXT, play

pytestmark = pytest.mark.docker

FUNCTIONS = '''
import json
import os
import stat
import sys

from datastation.runtime.app_api import store_state


def stash(t):
    store_state("copy", t.to_csv())
    return len(t)


def _channels():
    """Every writable pipe this process holds, the runner's result channel among them."""
    out = []
    for fd in range(3, 256):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISFIFO(st.st_mode):
            out.append(fd)
    runner = sys.modules.get("__main__")
    if getattr(runner, "_out_fd", None) is not None:
        out.insert(0, runner._out_fd)
    return out


def _forge(header, payload=b""):
    frame = json.dumps(dict(header, size=len(payload))).encode() + b"\\n" + payload
    for fd in _channels():
        try:
            os.write(fd, frame)
        except OSError:
            pass
    os._exit(0)


def forge_error(t):
    _forge({"status": "error", "error": t.to_csv()})


def forge_result(t):
    _forge({"status": "ok", "kind": "json", "reads": [], "state": {}}, json.dumps("forged").encode())


def call_out(t):
    import socket

    socket.create_connection(("192.0.2.1", 80), timeout=2)
    return 1
'''

DSC = '''use "functions.py"

agent alice
agent bob

data alice.t csv "t.csv"

contract stash_fails {
  by bob
  compute stash(t = alice.t)
  to bob
  ensure result < 0
}

contract stash_released {
  by bob
  compute stash(t = alice.t)
  to bob
  ensure result >= 0
}

contract forged_error {
  by bob
  compute forge_error(t = alice.t)
  to bob
}

contract forged_result {
  by bob
  compute forge_result(t = alice.t)
  to bob
}

contract network {
  by bob
  compute call_out(t = alice.t)
  to bob
}
'''

FILES = {"s.dsc": DSC, "functions.py": FUNCTIONS, "t.csv": SECRET_CSV}


def no_trust(tmp_path, no_trust_config, contract):
    return play(tmp_path, FILES, config=no_trust_config.read_text(), contract=contract)


def store_files_text(escrow) -> bytes:
    """The raw bytes of the store's database (and its write-ahead log)."""
    return b"".join(p.read_bytes() for p in escrow.glob("escrow.db*") if p.is_file())


def app_state(played, name):
    from datastation.runtime.escrow import open_escrow
    from datastation.runtime.config import load_config

    cid = played.status(name)["id"]
    config = load_config(played.config).with_root(played.escrow)
    ctx = open_escrow(config, create=False)
    try:
        return ctx.store.list_state(f"contract:{cid}")
    finally:
        ctx.store.close()


def test_app_state_is_discarded_when_nothing_is_released(tmp_path, no_trust_config):
    played = no_trust(tmp_path, no_trust_config, "stash_fails")
    assert played.execution("stash_fails")["status"] == "failed", played.terminal
    assert app_state(played, "stash_fails") == {}
    assert SECRET_TEXT.encode() not in store_files_text(played.escrow)


def test_app_state_is_encrypted_at_rest(tmp_path, no_trust_config):
    from datastation.runtime.app_state import AppState
    from datastation.runtime.config import load_config
    from datastation.runtime.escrow import open_escrow

    played = no_trust(tmp_path, no_trust_config, "stash_released")
    assert played.execution("stash_released")["status"] == "executed", played.terminal
    assert SECRET_TEXT.encode() not in store_files_text(played.escrow)
    assert app_state(played, "stash_released"), "the released contract's state was not kept"
    cid = played.status("stash_released")["id"]
    ctx = open_escrow(load_config(played.config).with_root(played.escrow), create=False)
    try:  # the escrow itself reads it back
        assert SECRET_TEXT in AppState(f"contract:{cid}", ctx.store, ctx.storage.codec).load("copy")
    finally:
        ctx.store.close()


@pytest.mark.parametrize("contract", ["forged_error", "forged_result"])
def test_a_frame_written_by_the_function_is_refused(tmp_path, no_trust_config, contract):
    played = no_trust(tmp_path, no_trust_config, contract)
    run = played.execution(contract)
    assert run["status"] == "error", played.terminal
    assert played.released() == []
    assert SECRET_TEXT not in played.seen()


def test_a_blocked_network_call_is_named(tmp_path, no_trust_config):
    played = no_trust(tmp_path, no_trust_config, "network")
    run = played.execution("network")
    assert run["status"] == "short_circuit", played.terminal
    assert "forbidden_key" not in run["detail"]
    assert "network" in run["detail"]["error"] and "?" not in run["detail"]["error"]
    assert "network" in played.terminal
