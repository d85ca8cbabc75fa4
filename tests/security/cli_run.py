"""Helpers for the attacker tests that run `dsc` (the `dsc` fixture is tests/conftest.py's)."""

from __future__ import annotations


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result
