"""Hole 3 (no trust, Docker): the same attacks as `test_data_in_messages.py` in the sandbox.

Nothing derived from data is shown, and an error is described exactly as in full trust: the
same exception gives the same detail in both modes (and so in the audit log).
"""

from __future__ import annotations

import pytest

from attack_support import LEAKY_CONTRACTS, LEAKY_FILES, assert_nothing_leaks, play

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("name", LEAKY_CONTRACTS)
def test_same_redacted_report_in_both_modes(tmp_path, no_trust_config, name):
    sandboxed = play(tmp_path / "no_trust", LEAKY_FILES, config=no_trust_config.read_text(), contract=name)
    assert_nothing_leaks(sandboxed)
    assert sandboxed.released() == [] or name == "aggregate_shown"
    in_process = play(tmp_path / "full_trust", LEAKY_FILES, contract=name)
    a, b = sandboxed.execution(name), in_process.execution(name)
    assert a["status"] == b["status"], (sandboxed.terminal, in_process.terminal)
    for field in ("error", "blocked"):
        assert (a["detail"] or {}).get(field) == (b["detail"] or {}).get(field), field
    assert [c["error"] for c in a["detail"]["conditions"]] == [c["error"] for c in b["detail"]["conditions"]]
