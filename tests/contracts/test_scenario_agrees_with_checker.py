"""The escrow's `Scenario` and the checker's `Symbols` agree on what every contract reads and on
who must approve it, for every example and every valid corpus program.

The checker decides what `dsc check` reports (unused data, denied contracts, `never` paths);
the escrow decides what a contract may read and whose approval it needs. Both must come from
the same answers, whichever way the escrow builds its Scenario: from the checked file, from
the file alone, or from an approved bundle held in memory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datastation.contracts.model import Scenario, walk
from datastation.dsl.check import check_file
from datastation.dsl.walk import contract_exprs

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(ROOT.glob("examples/**/*.dsc")) + sorted((ROOT / "tests" / "corpus" / "valid").glob("*.dsc"))


def _scenarios(path: Path, result) -> dict[str, Scenario]:
    base = path.resolve().parent
    texts = {u.path.value: (base / u.path.value).read_text(encoding="utf-8")
             for u in result.program.uses if (base / u.path.value).is_file()}
    return {
        "checked": Scenario.build(result.program, base, result.symbols),
        "file": Scenario.build(result.program, base),
        "bundle": Scenario.build(result.program, Path("/nonexistent-bundle-root"), module_texts=texts),
    }


def test_there_are_programs():
    assert len(PROGRAMS) >= 10


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scenario_agrees_with_symbols(path):
    result = check_file(path)
    assert not result.errors, [f"{d.code} {d.message}" for d in result.errors]
    sym = result.symbols
    for how, sc in _scenarios(path, result).items():
        assert sc.agents.keys() == sym.agents.keys(), how
        assert sc.data.keys() == sym.data.keys(), how
        assert sc.contracts.keys() == sym.contracts.keys(), how
        assert sc.kept.keys() == sym.kept.keys(), how
        for name, c in sym.contracts.items():
            where = f"{how}: contract {name}"
            calls, conds = sym.contract_inputs(c), sym.condition_inputs(c)
            assert sc.call_inputs(c) == calls, where
            assert sc.condition_inputs(c) == conds, where
            assert sc.inputs(c) == list(dict.fromkeys(calls + conds)), where
            assert sc.source_data(c) == set(sym.source_data(c)), where
            assert sc.source_agents(c) == sorted(sym.source_agents(c)), where
            called = [call.func.name for _, e in contract_exprs(c) for call in sym.calls(e)]
            assert sc.called_functions(c) == list(dict.fromkeys(called)), where
        for key in sym.kept:
            assert sc.expand(key) == set(sym.origins(key)), f"{how}: kept {key}"


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_quantifiers_read_what_their_expansion_reads(path):
    """The checker binds `b` in `for b in [x, y]: b.test` to both agents at once; the escrow's
    evaluator runs the body once per element. Both read the same data elements."""
    result = check_file(path)
    sym = result.symbols
    sc = Scenario.build(result.program, path.resolve().parent, sym)
    for c in sym.contracts.values():
        for clause, e in contract_exprs(c):
            expanded = {k for node, env in walk(e) if (k := sc.data_ref(node, env)) is not None}
            assert expanded == {r.key for r in sym.refs(e)}, f"contract {c.name.name}, {clause}"
