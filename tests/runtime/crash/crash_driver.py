"""Run a crash scenario in this process: `python crash_driver.py SCENARIO.yaml ROOT [--progress FILE]`.

Honours DSC_CRASH_AT / DSC_CRASH_TRACE (see datastation.runtime.store.crashpoints).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crash_harness  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("root")
    p.add_argument("--progress", default=None)
    p.add_argument("--start", type=int, default=0)
    a = p.parse_args()
    scenario = crash_harness.load_scenario(a.scenario)
    crash_harness.run_scenario(scenario, Path(a.root), Path(a.progress) if a.progress else None, a.start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
