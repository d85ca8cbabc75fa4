"""Checker rules: one module per rule, each exposing `CODES` and `check(ctx) -> Iterable[Diagnostic]`.

`RULES` is the order they run in; the driver is `datastation.dsl.check`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from .. import ir
from ..symbols import Symbols


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckContext:
    program: ir.Program
    symbols: Symbols
    base_dir: Path
    broken: frozenset[str] = frozenset()  # names of declarations that failed to parse
    has_syntax_errors: bool = False


RULE_NAMES = (
    "duplicate_names",
    "contract_structure",
    "undefined_names",
    "result_scope",
    "function_modules",
    "call_signatures",
    "condition_types",
    "data_declarations",
    "data_owners_are_agents",
    "proposers_are_agents",
    "recipients_are_agents",
    "policy_owners",
    "kept_cycles",
    "denied_contracts",
    "never_constraints",
    "goals",
    "unused_data",
    "unused_agents",
    "unused_kept",
)

RULES = tuple(importlib.import_module(f"{__name__}.{name}") for name in RULE_NAMES)
