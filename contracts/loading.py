"""Load a .dsc file through the checker into a `Scenario`, or explain why it cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datastation.dsl import codes

from .model import Scenario


@dataclass
class Loaded:
    scenario: Scenario | None
    result: object  # datastation.dsl.check.CheckResult
    errors: tuple

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not self.errors


# Errors that predict what the lifecycle will decide rather than flaws of the file: a contract
# that a standing `deny` blocks, a goal that is therefore unreachable. The escrow still takes
# such a proposal and records the policy's decision (`dsc run` exits 3, denied).
LIFECYCLE_PREDICTIONS = frozenset({codes.DENIED_BY_POLICY, codes.GOAL_UNREACHABLE})


# What makes a file unusable as a standing policy: it does not parse, a module it `use`s is
# missing or refused, or a rule names a function that resolves to nothing. A policy file need
# not declare the agents and data its rules name (they match the escrow's records by name),
# and errors in its contracts are not errors of its policies.
POLICY_FILE_ERRORS = frozenset({
    codes.SYNTAX_ERROR, codes.UNTERMINATED_STRING, codes.UNEXPECTED_CHARACTER, codes.NESTED_TOO_DEEPLY,
    codes.UNREADABLE_FILE, codes.NUMBER_TOO_LARGE, codes.REPEATED_CLAUSE, codes.POSITIONAL_AFTER_KEYWORD,
    codes.MODULE_NOT_FOUND, codes.MODULE_NOT_PYTHON, codes.HIDES_BUILTIN, codes.CODE_OUTSIDE_IDENTITY,
    codes.IMPORTS_LOCAL_MODULE, codes.POLICY_UNKNOWN_FUNCTION,
})


def policy_file(loaded: Loaded) -> tuple[Scenario | None, tuple]:
    """The scenario of a checked file read as an owner's standing policy, or the errors that make
    it unusable as one (`POLICY_FILE_ERRORS`)."""
    result = loaded.result
    errors = tuple(d for d in result.errors if d.code in POLICY_FILE_ERRORS)
    if errors:
        return None, errors
    if loaded.scenario is not None:
        return loaded.scenario, ()
    base = Path(result.file).resolve().parent
    return Scenario.build(result.program, base, result.symbols), ()


def load_checked(path: str | Path) -> Loaded:
    from datastation.dsl.check import check_file

    result = check_file(path)
    errors = tuple(d for d in result.errors if d.code not in LIFECYCLE_PREDICTIONS)
    if errors:
        return Loaded(None, result, errors)
    base = Path(path).resolve().parent
    return Loaded(Scenario.build(result.program, base, result.symbols), result, ())
