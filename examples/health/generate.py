"""Generate the health example's data: a national patient registry and a researcher's cohort (seeded).

The cohort lists patients and whether they took a new blood-pressure drug. Older and
diabetic patients were more likely to get it, and they also have higher blood pressure, so
the naive difference in means even gets the sign of the true effect (TRUE_EFFECT mmHg) wrong;
adjusting for the registry's confounders recovers it. A few cohort patients are not in
the registry (moved abroad).

    python examples/health/generate.py            # rewrites examples/health/data/*
    python examples/health/generate.py --out DIR  # writes elsewhere
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240603
REGISTRY_ROWS, COHORT_ROWS, UNREGISTERED = 3000, 800, 15
TRUE_EFFECT = -6.0


def generate(out: Path) -> list[Path]:
    """Write every data file of the example into `out`; returns the paths written."""
    rng = np.random.default_rng(SEED)
    n = REGISTRY_ROWS
    ids = np.arange(100_001, 100_001 + n)
    age = rng.integers(30, 86, n)
    sex = rng.choice(["F", "M"], n)
    diabetes = rng.random(n) < 1 / (1 + np.exp(-(age - 70) / 8))
    bmi = rng.normal(27.0, 4.0, n).round(1)

    in_cohort = np.zeros(n, dtype=bool)
    in_cohort[rng.choice(n, COHORT_ROWS - UNREGISTERED, replace=False)] = True
    p_treat = 1 / (1 + np.exp(-(-4.0 + 0.06 * age + 0.9 * diabetes)))
    treated = in_cohort & (rng.random(n) < p_treat)

    systolic = (
        100.0
        + 0.55 * age
        + 9.0 * diabetes
        + 0.7 * (bmi - 27.0)
        + 3.0 * (sex == "M")
        + TRUE_EFFECT * treated
        + rng.normal(0.0, 8.0, n)
    ).round(1)
    registry = pd.DataFrame(
        {"patient_id": ids, "age": age, "sex": sex, "diabetes": diabetes, "bmi": bmi, "systolic_bp": systolic}
    )
    unregistered = pd.DataFrame(
        {"patient_id": np.arange(900_001, 900_001 + UNREGISTERED), "treated": rng.random(UNREGISTERED) < 0.5}
    )
    cohort = pd.concat(
        [pd.DataFrame({"patient_id": ids[in_cohort], "treated": treated[in_cohort]}), unregistered], ignore_index=True
    )
    cohort = cohort.iloc[rng.permutation(len(cohort))]

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in {"registry.csv": registry, "cohort.csv": cohort}.items():
        path = out / name
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data", help="output directory")
    for path in generate(parser.parse_args(argv).out):
        print(path)


if __name__ == "__main__":
    main()
