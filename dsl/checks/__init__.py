"""Checker rules: one module per rule, each exposing `CODES` and `check(ctx) -> Iterable[Diagnostic]`.

`RULES` is the order they run in; the driver is `datastation.dsl.check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import ir
from ..symbols import Symbols
from . import (
    call_signatures,
    column_names,
    condition_types,
    contract_reads_data,
    contract_structure,
    data_declarations,
    data_owners_are_agents,
    denied_contracts,
    duplicate_names,
    function_modules,
    goals,
    kept_cycles,
    module_imports,
    module_top_level,
    never_constraints,
    policy_functions,
    policy_owners,
    proposers_are_agents,
    recipients_are_agents,
    result_scope,
    undefined_names,
    unused_agents,
    unused_data,
    unused_kept,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckContext:
    program: ir.Program
    symbols: Symbols
    base_dir: Path
    broken: frozenset[str] = frozenset()  # names of declarations that failed to parse
    has_syntax_errors: bool = False


# The rules, in the order they run.
RULES = (
    duplicate_names,
    contract_structure,
    undefined_names,
    result_scope,
    contract_reads_data,
    function_modules,
    module_top_level,
    module_imports,
    call_signatures,
    column_names,
    condition_types,
    data_declarations,
    data_owners_are_agents,
    proposers_are_agents,
    recipients_are_agents,
    policy_owners,
    policy_functions,
    kept_cycles,
    denied_contracts,
    never_constraints,
    goals,
    unused_data,
    unused_agents,
    unused_kept,
)
