"""The README's test command starts clean: no warning about the project's own pytest configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pytest_starts_without_a_deprecation_warning():
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "tests/test_packaging.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tests/test_packaging.py::" in r.stdout
    assert "Warning" not in r.stdout + r.stderr, r.stdout + r.stderr
