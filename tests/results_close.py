"""Comparing released results across machines: numbers within a tolerance, everything else exactly.

The no-trust container and the host may use different BLAS kernels, so a model trained in one
and in the other can differ in the last digits of its floats; a byte-for-byte comparison would
fail for no reason. Tables (Parquet) and JSON documents (models, answers) are decoded and compared
structurally, floats with `math.isclose`.
"""

from __future__ import annotations

import io
import json
import math

REL, ABS = 1e-6, 1e-9


def _close(a, b, where: str) -> None:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        if isinstance(a, dict) and isinstance(b, dict):
            assert sorted(a) == sorted(b), f"{where}: keys differ: {sorted(a)} vs {sorted(b)}"
            for k in a:
                _close(a[k], b[k], f"{where}.{k}")
            return
        if isinstance(a, list) and isinstance(b, list):
            assert len(a) == len(b), f"{where}: lengths differ: {len(a)} vs {len(b)}"
            for i, (x, y) in enumerate(zip(a, b)):
                _close(x, y, f"{where}[{i}]")
            return
        assert a == b, f"{where}: {a!r} != {b!r}"
        return
    assert math.isclose(a, b, rel_tol=REL, abs_tol=ABS), f"{where}: {a!r} and {b!r} differ beyond the tolerance"


def assert_results_close(name: str, a: bytes, b: bytes) -> None:
    """Two released results named `name` (an outbox file name) are the same up to float noise."""
    if a == b:
        return
    if name.endswith(".parquet"):
        import pandas as pd
        from pandas.testing import assert_frame_equal

        assert_frame_equal(pd.read_parquet(io.BytesIO(a)), pd.read_parquet(io.BytesIO(b)),
                           check_exact=False, rtol=REL, atol=ABS)
        return
    if name.endswith(".json"):
        _close(json.loads(a), json.loads(b), name)
        return
    raise AssertionError(f"{name}: the results differ (and are neither Parquet nor JSON)")


def assert_released_close(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    """Two outboxes (relative path -> bytes) hold the same files with the same results."""
    assert sorted(a) == sorted(b)
    for rel in a:
        assert_results_close(rel, a[rel], b[rel])
