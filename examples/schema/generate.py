"""Generate the schema example's data: a clinical lab's samples and assay results (seeded).

    python examples/schema/generate.py            # rewrites examples/schema/data/*
    python examples/schema/generate.py --out DIR  # writes elsewhere
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240604
SAMPLES, ASSAYS_PER_SAMPLE = 300, 2
SPECIMENS = ["blood", "serum", "urine", "saliva"]
ANALYTES = {"glucose": ("mmol/L", 5.5, 1.2), "creatinine": ("umol/L", 80.0, 18.0), "crp": ("mg/L", 4.0, 3.0)}


def generate(out: Path) -> list[Path]:
    """Write every data file of the example into `out`; returns the paths written."""
    rng = np.random.default_rng(SEED)
    start = np.datetime64("2024-01-01T07:00")
    samples = pd.DataFrame(
        {
            "sample_id": np.arange(1, SAMPLES + 1),
            "patient_ref": [f"P{n:05d}" for n in rng.integers(0, 100_000, SAMPLES)],
            "collected_at": pd.to_datetime(start + rng.integers(0, 60 * 24 * 90, SAMPLES).astype("timedelta64[m]")),
            "specimen": rng.choice(SPECIMENS, SAMPLES),
            "volume_ml": rng.uniform(0.5, 10.0, SAMPLES).round(2),
            "frozen": rng.random(SAMPLES) < 0.3,
        }
    )
    n = SAMPLES * ASSAYS_PER_SAMPLE
    analyte = rng.choice(list(ANALYTES), n)
    mean = np.array([ANALYTES[a][1] for a in analyte])
    sd = np.array([ANALYTES[a][2] for a in analyte])
    value = np.abs(rng.normal(mean, sd)).round(2)
    value[rng.random(n) < 0.03] = np.nan  # a few failed measurements
    assays = pd.DataFrame(
        {
            "assay_id": np.arange(1, n + 1),
            "sample_id": rng.integers(1, SAMPLES + 1, n),
            "analyte": analyte,
            "value": value,
            "unit": [ANALYTES[a][0] for a in analyte],
            "flagged": np.nan_to_num(value) > mean + 2 * sd,
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in {"samples.csv": samples, "assays.csv": assays}.items():
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
