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


def load_checked(path: str | Path) -> Loaded:
    from datastation.dsl.check import check_file

    result = check_file(path)
    errors = tuple(d for d in result.errors if d.code not in LIFECYCLE_PREDICTIONS)
    if errors:
        return Loaded(None, result, errors)
    base = Path(path).resolve().parent
    return Loaded(Scenario.build(result.program, base, result.symbols), result, ())
