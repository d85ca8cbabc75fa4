"""Generate the ads example's data: two platforms' users and an advertiser's conversions (seeded).

People are identified across parties by `user_key`, a hash of their e-mail address. The
platforms overlap in part; conversion depends on activity on both platforms, so a model
needs the joined audience. One region ("islands") is rare, so small groups exist and the
minimum-group-size rule has something to suppress.

    python examples/ads/generate.py            # rewrites examples/ads/data/*
    python examples/ads/generate.py --out DIR  # writes elsewhere
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240602
PEOPLE = 4000
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+"]
REGIONS = ["north", "south", "east", "west", "islands"]
REGION_WEIGHTS = [0.3, 0.28, 0.22, 0.18, 0.02]


def _key(i: int) -> str:
    return hashlib.sha256(f"person{i}@example.org".encode()).hexdigest()[:16]


def _people(rng: np.random.Generator) -> pd.DataFrame:
    n = PEOPLE
    people = pd.DataFrame(
        {
            "user_key": [_key(i) for i in range(n)],
            "age_band": rng.choice(AGE_BANDS, n, p=[0.15, 0.25, 0.25, 0.2, 0.15]),
            "region": rng.choice(REGIONS, n, p=REGION_WEIGHTS),
            "sessions": rng.poisson(6, n),
            "clicked_ads": rng.poisson(1.5, n),
            "minutes": rng.gamma(2.0, 15.0, n).round(1),
            "follows_brand": rng.random(n) < 0.15,
            "on_platform1": rng.random(n) < 0.65,
            "on_platform2": rng.random(n) < 0.6,
            "customer": rng.random(n) < 0.7,
        }
    )
    score = (
        -4.2
        + 0.18 * people["sessions"]
        + 0.45 * people["clicked_ads"]
        + 0.03 * people["minutes"]
        + 1.6 * people["follows_brand"]
    )
    people["converted"] = rng.random(n) < 1 / (1 + np.exp(-score))
    return people


def generate(out: Path) -> list[Path]:
    """Write every data file of the example into `out`; returns the paths written."""
    rng = np.random.default_rng(SEED)
    people = _people(rng)
    p1 = people[people["on_platform1"]]
    p2 = people[people["on_platform2"]]
    customers = people[people["customer"]]
    files = {
        "platform1_users.csv": p1[["user_key", "age_band", "region", "sessions", "clicked_ads"]],
        "platform2_users.csv": p2[["user_key", "minutes", "follows_brand"]],
        "advertiser_conversions.csv": customers[["user_key", "converted"]],
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in files.items():
        frame = frame.iloc[rng.permutation(len(frame))]  # no party's row order reveals another's
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
