"""Issue 9, hole 1: a contract's identity must bind exactly the code that runs.

The identity hashes a function's *closure* (its module's imports, the top-level definitions it
refers to, transitively, and the `def`). Top-level code outside that closure (an `if True:` or
`try:` block that redefines the function, a bare call at top level) used to run as well,
under the owners' approval and with an unchanged identity. Now:

* `dsc check` and the escrow's check at propose refuse such a module (DSC038), and a module
  that imports another module of the proposal (DSC039);
* independently, an escrow that is handed such a module anyway (the checker bypassed) executes
  only the hashed closure, in full trust and in no trust (Docker).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

from attack_support import bypass_checker

from datastation.runtime.config import Config, load_config
from datastation.runtime.escrow import EscrowRefusal
from datastation.stdlib.serialize import from_bytes
from harness import World

HERE = Path(__file__).resolve().parent

SECRET_ROWS = "id,secret\n1,alpha\n2,beta\n3,gamma\n"

COUNT_DSC = '''use "functions.py"

agent a "Owner"
agent b "Analyst"

data a.t csv "t.csv"

contract c {
  by      b
  compute n_rows(data = a.t)
  to      b
}
'''

COLUMNS_DSC = COUNT_DSC.replace("n_rows(data = a.t)", "public_columns(data = a.t)")

# The benign function, then a redefinition the identity never sees.
IF_TRUE = '''def n_rows(data):
    """Counts rows."""
    return len(data)


if True:
    def n_rows(data):
        return data.to_csv()
'''

TRY = '''def n_rows(data):
    """Counts rows."""
    return len(data)


try:
    def n_rows(data):
        return data.to_csv()
except Exception:
    pass
'''

# A top-level statement that changes what the hashed function does.
SIDE_EFFECT = '''COLUMNS = ["id"]


def public_columns(data):
    """Only the public columns."""
    return data[COLUMNS]


COLUMNS.append("secret")
'''

# (module text, .dsc text, the benign result as released)
VARIANTS = {
    "if_true_redefinition": (IF_TRUE, COUNT_DSC),
    "try_redefinition": (TRY, COUNT_DSC),
    "top_level_side_effect": (SIDE_EFFECT, COLUMNS_DSC),
}


def _write(tmp_path: Path, module: str, dsc: str) -> Path:
    folder = tmp_path / "proposal"
    folder.mkdir()
    (folder / "functions.py").write_text(module)
    (folder / "t.csv").write_text(SECRET_ROWS)
    path = folder / "scenario.dsc"
    path.write_text(dsc)
    return path


def _dsc(*argv) -> tuple[int, str]:
    from datastation.runtime.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(a) for a in argv])
    return code, out.getvalue()




def _run(world: World) -> bytes:
    """Propose (as b), approve (as a), execute (as b): the released bytes b receives."""
    world.setup_from_file()
    row = world.propose("c", "b")
    world.approve(row.id, "a")
    report = world.execute(row.id, "b")
    assert report.status == "executed", report.to_json()
    ((recipient, path),) = report.releases
    assert recipient == "b"
    return Path(path).read_bytes()


def _assert_benign(variant: str, released: bytes) -> None:
    if variant == "top_level_side_effect":
        table = from_bytes("table", released)
        assert list(table.columns) == ["id"], "the secret column was released"
    else:
        assert json.loads(released) == 3, "the redefined function ran"
    assert b"alpha" not in released and b"gamma" not in released


# ---------------------------------------------------------------- refused statically


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_check_refuses_module_code_outside_every_identity(tmp_path, variant):
    path = _write(tmp_path, *VARIANTS[variant])
    code, out = _dsc("check", path)
    assert code == 1, out
    assert "DSC038" in out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_propose_refuses_module_code_outside_every_identity(tmp_path, variant):
    path = _write(tmp_path, *VARIANTS[variant])
    world = World(tmp_path, path)
    try:
        world.setup_from_file()
        with pytest.raises(EscrowRefusal) as refused:
            world.propose("c", "b")
        assert refused.value.code == "check_failed"
        assert "DSC038" in str(refused.value)
        assert world.store.list_contracts() == []
    finally:
        world.close()


def test_propose_refuses_a_module_importing_another_module_of_the_proposal(tmp_path):
    """`from helpers import leak` would run code outside every identity: refused (DSC039)."""
    folder = tmp_path / "proposal"
    folder.mkdir()
    (folder / "helpers.py").write_text("def leak(data):\n    return data.to_csv()\n")
    (folder / "functions.py").write_text("from helpers import leak\n\n\ndef n_rows(data):\n    return leak(data)\n")
    (folder / "t.csv").write_text(SECRET_ROWS)
    path = folder / "scenario.dsc"
    path.write_text(COUNT_DSC.replace('use "functions.py"', 'use "functions.py"\nuse "helpers.py"'))
    code, out = _dsc("check", path)
    assert code == 1 and "DSC039" in out, out
    world = World(tmp_path, path)
    try:
        world.setup_from_file()
        with pytest.raises(EscrowRefusal) as refused:
            world.propose("c", "b")
        assert refused.value.code == "check_failed" and "DSC039" in str(refused.value)
    finally:
        world.close()


# ---------------------------------------------------------------- only the closure runs


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_full_trust_escrow_runs_only_the_hashed_closure(tmp_path, monkeypatch, variant):
    bypass_checker(monkeypatch, "DSC038")
    world = World(tmp_path, _write(tmp_path, *VARIANTS[variant]))
    try:
        _assert_benign(variant, _run(world))
    finally:
        world.close()


def test_full_trust_top_level_call_does_not_run(tmp_path, monkeypatch):
    marker = tmp_path / "top-level-ran"
    module = (f"import pathlib\n\n\ndef n_rows(data):\n    return len(data)\n\n\n"
              f"pathlib.Path({str(marker)!r}).write_text('ran')\n")
    bypass_checker(monkeypatch, "DSC038")
    world = World(tmp_path, _write(tmp_path, module, COUNT_DSC))
    try:
        assert json.loads(_run(world)) == 3
    finally:
        world.close()
    assert not marker.exists(), "top-level code outside the closure ran in the escrow"


def test_executors_refuse_a_module_text_that_is_not_exactly_the_closure(tmp_path):
    """The executor runs the text it is given only if it *is* the hashed closure: a text whose
    closure hashes the same but which holds more (a bare call) is refused, never run."""
    from datastation.contracts.functions import function_source_in_text
    from datastation.runtime.executors.base import ERROR, ExecutionJob, FunctionRef, ValueArg
    from datastation.runtime.executors.inprocess import InProcessExecutor

    marker = tmp_path / "ran"
    benign = "def f(x):\n    return x\n"
    padded = benign + f"\nopen({str(marker)!r}, 'w').close()\n"
    found = function_source_in_text(padded, "functions.py", "f")
    assert found.sha256 == function_source_in_text(benign, "functions.py", "f").sha256
    ref = FunctionRef(name="f", origin="user", source_hash=found.sha256, module_name="functions.py",
                      module_source=padded)
    out = InProcessExecutor().run(ExecutionJob(contract_id="x", contract_name="x", function=ref,
                                               args=(ValueArg(1),), phase="require"))
    assert out.status == ERROR
    assert not marker.exists()


# ---------------------------------------------------------------- no trust (Docker)


def _docker_fixtures():
    """The Docker fixtures of tests/docker/conftest.py (engine required under CI=true)."""
    spec = importlib.util.spec_from_file_location("_dsc_docker_conftest", HERE.parent / "docker" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_docker = _docker_fixtures()
runtime_image = _docker.runtime_image
no_trust_config = _docker.no_trust_config
_require_engine_in_ci = _docker._require_engine_in_ci


def _open_sealed(config: Config, blob: bytes) -> bytes:
    from datastation.runtime.crypto.results import is_sealed, open_result
    from datastation.runtime.keyring import Keyring

    assert is_sealed(blob)
    return open_result(config, blob, "b", Keyring(config.keyring_path).load("b"))


@pytest.mark.docker
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_trust_escrow_runs_only_the_hashed_closure(tmp_path, monkeypatch, no_trust_config, variant):
    bypass_checker(monkeypatch, "DSC038")
    world = World(tmp_path, _write(tmp_path, *VARIANTS[variant]), config=load_config(no_trust_config))
    try:
        assert world.config.trust_mode == "no_trust"
        _assert_benign(variant, _open_sealed(world.config, _run(world)))
    finally:
        world.close()


@pytest.mark.docker
def test_no_trust_propose_refuses_module_code_outside_every_identity(tmp_path, no_trust_config):
    world = World(tmp_path, _write(tmp_path, *VARIANTS["if_true_redefinition"]), config=load_config(no_trust_config))
    try:
        world.setup_from_file()
        with pytest.raises(EscrowRefusal) as refused:
            world.propose("c", "b")
        assert refused.value.code == "check_failed" and "DSC038" in str(refused.value)
    finally:
        world.close()
