"""Generate the fraud example's data: card transactions of two banks (seeded, deterministic).

Each bank's training month shows one fraud pattern only: bank1 sees high-value
card-not-present fraud, bank2 sees bursts of small foreign payments (card testing). In the
test month both patterns hit both banks, so a model trained on the pooled data beats each
bank's own model on that bank's test set.

    python examples/fraud/generate.py            # rewrites examples/fraud/data/*
    python examples/fraud/generate.py --out DIR  # writes elsewhere
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240601
TRAIN_ROWS, TEST_ROWS, MOCK_ROWS = 2400, 1000, 40
COLUMNS = ["id", "amount", "hour", "card_present", "foreign", "velocity", "merchant_risk", "is_fraud"]


def _legit(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3.4, 0.8, n),
            "hour": rng.choice(24, n, p=_daytime()),
            "card_present": rng.random(n) < 0.8,
            "foreign": rng.random(n) < 0.05,
            "velocity": rng.poisson(1.0, n),
            "merchant_risk": rng.beta(2, 8, n),
            "is_fraud": False,
        }
    )


def _card_not_present(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """High-value online fraud, often at night."""
    return pd.DataFrame(
        {
            "amount": rng.lognormal(6.0, 0.4, n),
            "hour": rng.choice(24, n),
            "card_present": rng.random(n) < 0.05,
            "foreign": rng.random(n) < 0.1,
            "velocity": rng.poisson(1.2, n),
            "merchant_risk": rng.beta(3, 6, n),
            "is_fraud": True,
        }
    )


def _card_testing(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Bursts of small foreign payments from a risky merchant."""
    return pd.DataFrame(
        {
            "amount": rng.lognormal(2.0, 0.5, n),
            "hour": rng.choice(24, n),
            "card_present": rng.random(n) < 0.5,
            "foreign": rng.random(n) < 0.9,
            "velocity": rng.poisson(7.0, n),
            "merchant_risk": rng.beta(6, 3, n),
            "is_fraud": True,
        }
    )


def _daytime() -> np.ndarray:
    w = np.array([1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 10, 10, 9, 9, 9, 9, 8, 7, 5, 4, 2, 1], dtype=float)
    return w / w.sum()


def _month(rng: np.random.Generator, n: int, first_id: int, cnp: float, testing: float) -> pd.DataFrame:
    n_cnp, n_testing = round(n * cnp), round(n * testing)
    parts = [_legit(rng, n - n_cnp - n_testing), _card_not_present(rng, n_cnp), _card_testing(rng, n_testing)]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame["amount"] = frame["amount"].round(2)
    frame["merchant_risk"] = frame["merchant_risk"].round(3)
    frame.insert(0, "id", np.arange(first_id, first_id + len(frame)))
    return frame[COLUMNS]


def generate(out: Path) -> list[Path]:
    """Write every data file of the example into `out`; returns the paths written."""
    rng = np.random.default_rng(SEED)
    files = {
        "bank1_train.csv": _month(rng, TRAIN_ROWS, 100_000, cnp=0.07, testing=0.0),
        "bank1_test.csv": _month(rng, TEST_ROWS, 200_000, cnp=0.035, testing=0.035),
        "bank2_train.csv": _month(rng, TRAIN_ROWS, 500_000, cnp=0.0, testing=0.07),
        "bank2_test.csv": _month(rng, TEST_ROWS, 600_000, cnp=0.035, testing=0.035),
        "mock_train.csv": _month(rng, MOCK_ROWS, 1, cnp=0.05, testing=0.05),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in files.items():
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
