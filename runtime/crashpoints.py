"""Crash points for the crash-safety harness.

`DSC_CRASH_AT=label:n[,label:n...]` kills the process with SIGKILL the n-th time (1-based)
`crash_point(label)` runs with that label. `DSC_CRASH_TRACE=FILE` appends every label reached
to FILE (one per line), so a harness can enumerate all points of a scenario. With neither
variable set (the normal case) a crash point costs one check.
"""

from __future__ import annotations

import os
import signal

_targets: dict[str, int] | None = None
_trace: str | None = None
_counts: dict[str, int] = {}


def _parse(spec: str) -> dict[str, int]:
    targets: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        label, _, n = part.rpartition(":")
        if not label or not n.isdigit():
            label, n = part, "1"
        targets[label] = int(n)
    return targets


def reset() -> None:
    """Re-read DSC_CRASH_AT / DSC_CRASH_TRACE and zero the counters."""
    global _targets, _trace
    _targets = _parse(os.environ.get("DSC_CRASH_AT", ""))
    _trace = os.environ.get("DSC_CRASH_TRACE") or None
    _counts.clear()


def crash_point(label: str) -> None:
    if _targets is None:
        reset()
    if not _targets and not _trace:
        return
    _counts[label] = _counts.get(label, 0) + 1
    if _trace:
        with open(_trace, "a", encoding="utf-8") as fh:
            fh.write(label + "\n")
    if _targets and _targets.get(label) == _counts[label]:
        os.kill(os.getpid(), signal.SIGKILL)
