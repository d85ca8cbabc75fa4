"""Hole 3 (full trust): no value derived from data reaches anyone before release.

Each contract of `attack_support.LEAKY_DSC` used to carry a cell, a column name, the whole
table or the unreleased result into a message: a failing comparison, a failed `ensure`, a
quantifier binding, an exception raised by user code (its own type, a built-in error type, a
library error), a key asked for, an unserialisable result, a built-in's SQL or column error.
Nothing is released, and the secrets planted in the data appear nowhere a party can read:
not the terminal of `dsc run`, not `dsc status`, not the audit log. What is still shown:
numbers computed by built-in aggregates, and an error's type and place in the user's module.
"""

from __future__ import annotations

import re

import pytest

from attack_support import LEAKY_CONTRACTS, LEAKY_FILES, assert_nothing_leaks, play

EXPECTED_STATUS = {
    "compare_text": "failed",
    "failed_ensure": "failed",
    "compare_user_number": "failed",
    "quantifier_binding": "failed",
    "raise_message": "error",
    "raise_builtin_type": "error",
    "raise_library_error": "error",
    "key_from_data": "short_circuit",
    "unserializable_result": "error",
    "builtin_sql_value": "error",
    "builtin_sql_columns": "error",
    "builtin_missing_column": "error",
    "aggregate_shown": "executed",
}


@pytest.mark.parametrize("name", [c for c in LEAKY_CONTRACTS if c != "aggregate_shown"])
def test_nothing_derived_from_data_is_shown(tmp_path, name):
    played = play(tmp_path, LEAKY_FILES, contract=name)
    assert played.execution(name)["status"] == EXPECTED_STATUS[name], played.terminal
    assert played.released() == []
    assert_nothing_leaks(played)


@pytest.mark.parametrize("name,line", [("raise_message", 24), ("raise_builtin_type", 28),
                                       ("raise_library_error", 32)])
def test_user_errors_name_their_type_and_place(tmp_path, name, line):
    played = play(tmp_path, LEAKY_FILES, contract=name)
    error = played.execution(name)["detail"]["error"]
    assert f"functions.py:{line}" in error, error
    assert re.search(r"\b(Exception|BuiltinError|KeyError)\b", error), error


def test_builtin_errors_keep_their_own_words(tmp_path):
    played = play(tmp_path, LEAKY_FILES, contract="builtin_missing_column")
    error = played.execution("builtin_missing_column")["detail"]["error"]
    assert error.startswith("mean raised BuiltinError: `data` has no column")  # the stdlib's words, no column names


def test_numbers_from_builtin_aggregates_are_still_shown(tmp_path):
    played = play(tmp_path, LEAKY_FILES, contract="aggregate_shown")
    assert played.execution("aggregate_shown")["status"] == "executed"
    assert "rows(alice.t) >= 1: 2 vs 1" in played.terminal
    assert 'minimum(alice.t, "amount") >= 0: 242 vs 0' in played.terminal
