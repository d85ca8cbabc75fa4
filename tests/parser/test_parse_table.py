"""The stored parse table (dsl/grammar_table.py): the one Lark builds from the grammar, loaded
without Lark, reproducible, and replaced by Lark's own when it is stale or damaged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from datastation.dsl import grammar_table, lalr, parse_table, parser

REGENERATE = "regenerate it: python -m datastation.dsl.parse_table"


def test_the_stored_table_is_the_one_lark_builds_from_the_grammar():
    import lark

    expected = parse_table.render(parse_table.from_lark(), parse_table.grammar_text(), lark.__version__)
    assert parse_table.GENERATED.read_text(encoding="utf-8") == expected, REGENERATE


def test_the_canonical_table_is_the_same_whatever_the_string_hashing():
    # Lark numbers its states in an order that depends on PYTHONHASHSEED; the stored form must not.
    script = ("import hashlib; from datastation.dsl import parse_table as p; import lark; "
              "print(hashlib.sha256(p.render(p.from_lark(), p.grammar_text(), lark.__version__).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1


def test_canonical_renumbering_keeps_the_table():
    rows, start, end = lalr.read_lark_table(parse_table.build_lark())
    crows, cstart, cend = parse_table.canonical((rows, start, end))
    assert len(crows) == len(rows) and cstart == 0
    # Walk both tables along the same symbols: every action matches.
    pairs, seen = [(start, cstart)], set()
    while pairs:
        a, b = pairs.pop()
        if (a, b) in seen:
            continue
        seen.add((a, b))
        assert rows[a].keys() == crows[b].keys()
        for symbol, (is_shift, arg) in rows[a].items():
            c_shift, c_arg = crows[b][symbol]
            assert c_shift == is_shift
            if is_shift:
                pairs.append((arg, c_arg))
            else:
                assert c_arg == arg
    assert (end, cend) in seen


def test_parsing_imports_no_lark():
    code = textwrap.dedent("""
        import sys
        from datastation.dsl.check import check_source
        result = check_source('agent a\\ndata a.x csv "x.csv"\\ncontract c { by a compute rows(a.x) to a }')
        assert not result.errors, result.errors
        print(sorted(m for m in sys.modules if m == "lark" or m.startswith("lark.")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def fresh_load(monkeypatch):
    """`parse_table.load` with an empty cache, and the list of the times it built the table with Lark."""
    built: list[int] = []
    real = parse_table.from_lark
    monkeypatch.setattr(parse_table, "from_lark", lambda: built.append(1) or real())
    parse_table.load.cache_clear()
    yield parse_table.load, built, real()
    parse_table.load.cache_clear()


def test_the_stored_table_is_used(fresh_load):
    load, built, lark_table = fresh_load
    assert load() == lark_table
    assert built == []


def test_a_stale_table_is_not_used(fresh_load, monkeypatch):
    # A grammar edited without regenerating the table: the table comes from Lark, in memory.
    load, built, lark_table = fresh_load
    monkeypatch.setattr(grammar_table, "GRAMMAR", grammar_table.GRAMMAR + "\n// edited\n")
    assert load() == lark_table
    assert built == [1]


@pytest.mark.parametrize("damage", [
    {"ROWS": grammar_table.ROWS[:1] + ({"AGENT": -9999},) + grammar_table.ROWS[2:]},  # no such rule
    {"END_STATE": 10_000},
    {"RULES": None},
    {"START_STATE": None},
])
def test_a_damaged_table_is_not_used(fresh_load, monkeypatch, damage):
    load, built, lark_table = fresh_load
    for name, value in damage.items():
        monkeypatch.setattr(grammar_table, name, value)
    assert load() == lark_table
    assert built == [1]


def test_a_missing_table_module_is_rebuilt(fresh_load, monkeypatch):
    import datastation.dsl

    load, built, lark_table = fresh_load
    monkeypatch.delattr(datastation.dsl, "grammar_table")
    monkeypatch.setitem(sys.modules, "datastation.dsl.grammar_table", None)  # the import fails
    assert load() == lark_table
    assert built == [1]


def test_write_regenerates_the_module(tmp_path):
    target = tmp_path / "grammar_table.py"
    assert parse_table.write(target) is True
    assert target.read_text(encoding="utf-8") == parse_table.GENERATED.read_text(encoding="utf-8")
    assert parse_table.write(target) is False  # already up to date
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_the_parser_runs_the_stored_table():
    driver, _builder = parser._parser()
    stored = parse_table.decode(grammar_table.RULES, grammar_table.ROWS, grammar_table.START_STATE,
                                grammar_table.END_STATE)
    assert (driver.start_state, driver.end_state) == stored[1:]
    assert set(driver.actions) == set(stored[0])
