"""Issue 9, hole 2: standing policies name functions, not names someone else can reuse.

An owner's standing `allow schema …` used to approve any contract whose *compute* call was
named `schema`: a proposer's own `schema` (whole tables out), `schema(data = userfn(…))`
(arbitrary code nobody approved), or a contract whose `require`/`ensure` call arbitrary
functions. Now a user function may not shadow a built-in (DSC032, an error), the names of a
policy resolve in the owner's own program when the owner applies it and are recorded with
their identity, and every function a contract calls must be allowed by that identity.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from attack_support import bypass_checker

from datastation.runtime.escrow import EscrowRefusal
from harness import World

ROWS = "id,secret\n1,alpha\n2,beta\n"

OWNER_ALLOWS_SCHEMA = '''agent a "Owner"

data a.t csv "t.csv"

policy a {
  allow schema on a.* to any
}
'''

HEADER = '''use "functions.py"

agent a "Owner"
agent b "Analyst"

data a.t csv "t.csv"
'''


def _dsc(*argv) -> tuple[int, str]:
    from datastation.runtime.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(a) for a in argv])
    return code, out.getvalue()


def _files(folder: Path, dsc: str, module: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if module is not None:
        (folder / "functions.py").write_text(module)
    (folder / "t.csv").write_text(ROWS)
    path = folder / "file.dsc"
    path.write_text(dsc)
    return path


@pytest.fixture
def escrow(tmp_path):
    """An escrow with owner `a` (data a.t) and analyst `b`."""
    world = World(tmp_path)
    world.agent("a", "b")
    world.data("a.t", ROWS.encode())
    yield world
    world.close()


def _apply(world: World, tmp_path: Path, dsc: str, module: str | None = None) -> None:
    world.apply_policy("a", _files(tmp_path / "owner", dsc, module))


def _propose(world: World, tmp_path: Path, contract: str, module: str | None):
    return world.propose("c", "b", _files(tmp_path / "proposer", HEADER + contract, module))




def _not_released(world: World, row) -> None:
    assert world.store.get_contract(row.id).status == "pending"
    with pytest.raises(EscrowRefusal) as refused:
        world.execute(row.id, "b")
    assert refused.value.code == "awaiting_approval"
    assert world.store.releases(contract_id=row.id) == []


# ---------------------------------------------------------------- 2a: a user function named like a built-in

OWN_SCHEMA = 'def schema(data):\n    """Not the built-in."""\n    return data.to_csv()\n'
SCHEMA_CONTRACT = "contract c {\n  by b\n  compute schema(data = a.t)\n  to b\n}\n"


def test_2a_check_refuses_a_user_function_shadowing_a_builtin(tmp_path):
    path = _files(tmp_path, HEADER + SCHEMA_CONTRACT, OWN_SCHEMA)
    code, out = _dsc("check", path)
    assert code == 1 and "error[DSC032]" in out, out


def test_2a_propose_refuses_a_user_function_shadowing_a_builtin(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA)
    with pytest.raises(EscrowRefusal) as refused:
        _propose(escrow, tmp_path, SCHEMA_CONTRACT, OWN_SCHEMA)
    assert refused.value.code == "check_failed" and "DSC032" in str(refused.value)
    assert escrow.store.list_contracts() == []


def test_2a_shadowing_function_is_not_the_builtin_the_policy_names(escrow, tmp_path, monkeypatch):
    """Even past the checker, the owner's `allow schema` names the built-in, not this function."""
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA)
    bypass_checker(monkeypatch, "DSC032")
    row = _propose(escrow, tmp_path, SCHEMA_CONTRACT, OWN_SCHEMA)
    assert row.meta["functions"]["schema"]["origin"] == "user"
    _not_released(escrow, row)


# ---------------------------------------------------------------- 2b: nested user code

USERFN = 'def userfn(data):\n    """Anything at all."""\n    return data\n'


def test_2b_allowed_function_over_an_unapproved_function_is_not_approved(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA)
    row = _propose(escrow, tmp_path, "contract c {\n  by b\n  compute schema(data = userfn(a.t))\n  to b\n}\n",
                   USERFN)
    _not_released(escrow, row)


# ---------------------------------------------------------------- 2c: functions in conditions

LEAK = 'def leak(data) -> int:\n    """Arbitrary code in a condition."""\n    return len(data)\n'
CONDITION_CONTRACT = "contract c {\n  by b\n  compute schema(data = a.t)\n  to b\n  require leak(a.t) >= 0\n}\n"


def test_2c_unapproved_function_in_a_require_is_not_approved(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA)
    _not_released(escrow, _propose(escrow, tmp_path, CONDITION_CONTRACT, LEAK))


def test_2c_unapproved_function_in_an_ensure_is_not_approved(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA)
    contract = "contract c {\n  by b\n  compute schema(data = a.t)\n  to b\n  ensure leak(a.t) >= 0\n}\n"
    _not_released(escrow, _propose(escrow, tmp_path, contract, LEAK))


def test_2c_deny_matches_a_function_called_in_a_condition(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_SCHEMA.replace("allow schema on a.* to any",
                                                         "allow schema on a.* to any\n  deny any on a.* except schema"))
    row = _propose(escrow, tmp_path, CONDITION_CONTRACT, LEAK)
    assert escrow.store.get_contract(row.id).status == "denied"


# ---------------------------------------------------------------- names resolve in the owner's program

OWNER_ALLOWS_ROW_COUNT = '''use "functions.py"

agent a "Owner"

data a.t csv "t.csv"

policy a {
  allow row_count on a.* to any
}
'''
ROW_COUNT = 'def row_count(data) -> int:\n    """How many rows."""\n    return len(data)\n'
ROW_COUNT_CHANGED = 'def row_count(data) -> int:\n    """How many rows."""\n    return len(data.to_csv())\n'
ROW_COUNT_CONTRACT = "contract c {\n  by b\n  compute row_count(data = a.t)\n  to b\n}\n"


def test_policy_function_whose_source_changed_no_longer_matches(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_ROW_COUNT, ROW_COUNT)
    _not_released(escrow, _propose(escrow, tmp_path, ROW_COUNT_CONTRACT, ROW_COUNT_CHANGED))


def test_policy_function_with_the_same_source_still_matches(escrow, tmp_path):
    _apply(escrow, tmp_path, OWNER_ALLOWS_ROW_COUNT, ROW_COUNT)
    row = _propose(escrow, tmp_path, ROW_COUNT_CONTRACT, ROW_COUNT)
    assert escrow.store.get_contract(row.id).status == "approved"
    assert escrow.execute(row.id, "b").status == "executed"


def test_policy_naming_an_unknown_function_is_refused_at_apply(escrow, tmp_path):
    """Otherwise the first proposer to define `row_count` would be approved by the owner's policy."""
    with pytest.raises(EscrowRefusal) as refused:
        _apply(escrow, tmp_path, OWNER_ALLOWS_ROW_COUNT.replace('use "functions.py"\n', ""))
    assert "DSC064" in str(refused.value)
    assert escrow.store.get_policy("a") is None
