"""Hole 4(c): full trust runs user code in a child process that holds only its bound inputs.

Each function below is a contract's computation, approved by the data's owner, that tries to
take more than it was given: the escrow's files (stored data, private keys, the database),
data the computation was never bound to (a condition-only input, read after catching the
short-circuit), the network, other programs, the escrow process itself, or what an earlier
contract left behind in the process. Each must end without releasing anything it took.
"""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest

from attack_support import SECRET_CSV, SECRET_TEXT, play
from datastation.runtime.escrow.execution import READ_OUTSIDE

EXTRA_TEXT = "EXTRA-ONLY-FOR-THE-REQUIRE-33b1"
EXTRA_CSV = f"k,v\n{EXTRA_TEXT},1\n".encode()

FUNCTIONS = '''
import builtins
import os


def n_rows(t) -> int:
    return len(t)


def walk_escrow(t, root: str):
    """Every file under the escrow directory: stored data, keys, the database."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[path] = f.read().decode("latin-1")
    return found


def list_escrow(t, root: str):
    return sorted(os.listdir(root))


def native_read(t, path: str):
    """Read a stored file with a library that opens files itself (no Python `open`)."""
    import pyarrow.csv as pc

    return pc.read_csv(path).to_pandas()


def native_read_key(t, path: str):
    import pyarrow.fs as pf

    with pf.LocalFileSystem().open_input_stream(path) as f:
        return f.read().decode("latin-1")


def symlinked_read(t, path: str):
    """A link made outside the escrow directory that points into it."""
    import tempfile

    link = os.path.join(tempfile.mkdtemp(), "innocent.csv")
    os.symlink(path, link)
    with open(link) as f:
        return f.read()


def store_api(t, db: str):
    """Read the escrow's database directly."""
    import sqlite3

    return [list(r) for r in sqlite3.connect(db).execute("SELECT key, content_hash FROM data")]


def escrow_api(t, root: str):
    """Open the escrow through its own Python API and read another owner's data."""
    from datastation.runtime.config import Config
    from datastation.runtime.escrow import open_escrow

    ctx = open_escrow(Config().with_root(root), create=False)
    d = ctx.store.get_data("alice.extra")
    return ctx.storage.get(d.owner, d.content_hash).decode()


def steal_condition_input(t):
    """Load an input of the contract's `require`, never bound to the computation."""
    from datastation.runtime import app_api

    return app_api._current.get().load("alice.extra").to_csv()


def catch_short_circuit(t):
    """Swallow the short-circuit, clear the violation, and read again."""
    from datastation.runtime import app_api

    try:
        app_api.read_data("alice.extra")
    except BaseException:
        pass
    ctx = app_api._current.get()
    ctx.violation = None
    return ctx.load("alice.extra").to_csv()


def keep_going_after_short_circuit(t):
    from datastation.runtime.app_api import read_data

    try:
        read_data("alice.extra")
    except BaseException:
        pass
    return t.to_csv()


def phone_home(t, port: int):
    import socket

    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(t.to_csv().encode())
    s.close()
    return 1


def run_program(t, path: str):
    import subprocess

    return subprocess.run(["cat", path], capture_output=True).stdout.decode()


def signal_escrow(t, pid: int):
    import signal

    os.kill(pid, signal.SIGCONT)  # harmless, but a process that can signal can kill
    return "signalled"


def read_escrow_memory(t, pid: int):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().decode("latin-1")


def exit_quietly(t):
    raise SystemExit(0)


def interrupt(t):
    raise KeyboardInterrupt


def vanish(t):
    os._exit(0)


def leave_behind(t):
    builtins.LEFT_BEHIND = t.to_csv()
    import datastation.stdlib.tables as tables
    tables.LEFT_BEHIND = t.to_csv()
    return len(t)


def pick_up(u):
    import datastation.stdlib.tables as tables
    return str(getattr(builtins, "LEFT_BEHIND", None)) + str(getattr(tables, "LEFT_BEHIND", None))
'''

CONTRACT = '''
contract {name} {{
  by      bob
  compute {call}
  to      bob
  require rows(alice.extra) >= 1
}}
'''

HEAD = '''use "functions.py"

agent alice
agent bob

data alice.t     csv "t.csv"
data alice.extra csv "extra.csv"
'''


def scenario(folder, name: str, call: str) -> dict:
    return {"s.dsc": HEAD + CONTRACT.format(name=name, call=call), "functions.py": FUNCTIONS,
            "t.csv": SECRET_CSV, "extra.csv": EXTRA_CSV}


def stored_path(escrow, owner: str, contents: bytes) -> str:
    h = hashlib.sha256(contents).hexdigest()
    return str(escrow / "storage" / owner / h[:2] / h)


def released_text(played) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in played.released())


def attack(tmp_path, call: str):
    """Play one contract computing `call` ({escrow}, {db}, {extra_file}, {key} are filled in)."""
    escrow = tmp_path / "escrow"
    call = call.format(escrow=escrow, db=escrow / "escrow.db", extra_file=stored_path(escrow, "alice", EXTRA_CSV),
                       key=escrow / "escrow_key.pem")
    played = play(tmp_path, scenario(tmp_path, "attack", call))
    return played, played.execution("attack")


def assert_took_nothing(played, run):
    assert run["status"] in ("short_circuit", "error"), played.terminal
    assert played.released() == []


@pytest.mark.parametrize("call", [
    'walk_escrow(t = alice.t, root = "{escrow}")',
    'list_escrow(t = alice.t, root = "{escrow}")',
    'native_read(t = alice.t, path = "{extra_file}")',
    'native_read_key(t = alice.t, path = "{key}")',
    'symlinked_read(t = alice.t, path = "{extra_file}")',
    'store_api(t = alice.t, db = "{db}")',
    'escrow_api(t = alice.t, root = "{escrow}")',
    'run_program(t = alice.t, path = "{key}")',
], ids=["walk", "list", "native-read", "native-read-key", "symlink", "sqlite", "escrow-api", "subprocess"])
def test_nothing_under_the_escrow_directory_is_reachable(tmp_path, call):
    played, run = attack(tmp_path, call)
    assert_took_nothing(played, run)


@pytest.mark.parametrize("function", ["catch_short_circuit", "keep_going_after_short_circuit"])
def test_a_short_circuit_cannot_be_caught(tmp_path, function):
    played, run = attack(tmp_path, f"{function}(t = alice.t)")
    assert run["status"] == "short_circuit", played.terminal
    assert played.released() == []
    detail = run["detail"]  # (alice.extra is named by the contract's own `require`, and read there)
    assert detail["blocked"] == READ_OUTSIDE and "forbidden_key" not in detail
    assert "alice.extra" not in detail["blocked"] + detail["error"]


def test_a_condition_input_is_out_of_the_computations_reach(tmp_path):
    played, run = attack(tmp_path, "steal_condition_input(t = alice.t)")
    assert_took_nothing(played, run)
    assert EXTRA_TEXT not in played.seen()


def test_the_network_is_off(tmp_path):
    got: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def accept():
        try:
            conn, _ = server.accept()
            got.append(conn.recv(1 << 16))
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        played, run = attack(tmp_path, f"phone_home(t = alice.t, port = {server.getsockname()[1]})")
    finally:
        server.close()
        t.join(timeout=15)
    assert got == [] and run["status"] == "short_circuit", played.terminal
    assert "network" in run["detail"]["error"]


@pytest.mark.parametrize("function", ["signal_escrow", "read_escrow_memory"])
def test_the_escrow_process_is_out_of_reach(tmp_path, function):
    import os

    played, run = attack(tmp_path, f"{function}(t = alice.t, pid = {os.getpid()})")
    assert_took_nothing(played, run)


@pytest.mark.parametrize("function", ["exit_quietly", "interrupt", "vanish"])
def test_a_function_that_ends_its_process_is_an_error_and_the_escrow_goes_on(tmp_path, function):
    files = scenario(tmp_path, "attack", f"{function}(t = alice.t)")
    files["s.dsc"] += CONTRACT.format(name="after", call="n_rows(t = alice.t)")
    played = play(tmp_path, files)
    assert played.execution("attack")["status"] == "error", played.terminal
    assert played.execution("after")["status"] == "executed", played.terminal


def test_nothing_stays_behind_for_the_next_contract(tmp_path):
    files = scenario(tmp_path, "first", "leave_behind(t = alice.t)")
    files["s.dsc"] = files["s.dsc"].replace("to      bob", "to      alice")
    files["s.dsc"] += '''
data bob.u csv "u.csv"

contract second {
  by      bob
  compute pick_up(u = bob.u)
  to      bob
}
'''
    files["u.csv"] = "x\n1\n"
    played = play(tmp_path, files)
    assert played.execution("first")["status"] == "executed", played.terminal
    assert played.execution("second")["status"] == "executed", played.terminal
    assert SECRET_TEXT not in "".join(p.read_text() for p in played.released() if "second" in p.name)
