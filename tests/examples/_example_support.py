"""Shared helpers for the example tests: where the examples are, loading their modules and data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = ("schema", "fraud", "ads", "health")


def load_module(example: str, name: str) -> ModuleType:
    """Import examples/EXAMPLE/NAME.py under a unique module name (the examples are not a package)."""
    path = EXAMPLES_DIR / example / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"datastation_example_{example}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(example: str, file: str) -> pd.DataFrame:
    """A committed data file of an example, read the way a CSV data element is."""
    return pd.read_csv(EXAMPLES_DIR / example / "data" / file)


def dsc_files() -> list[Path]:
    """Every .dsc file of every example."""
    return sorted(p for name in EXAMPLES for p in (EXAMPLES_DIR / name).glob("*.dsc"))
