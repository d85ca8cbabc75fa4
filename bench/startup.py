"""Start-up time of `dsc` commands, against a bare `python -c pass` measured in the same run.

    python bench/startup.py [--runs 9] [--importtime 15]

Each command runs as a subprocess, the way a user or a script runs it (the `dsc` console
script beside this interpreter, else `python -m datastation.runtime.cli`), in rounds: every
round runs every command once, so that a burst of load on a shared machine spreads over all
of them. Bytecode is cached as after a normal install (in a temporary `PYTHONPYCACHEPREFIX`,
filled by a warm-up run, even where `PYTHONDONTWRITEBYTECODE` is set), so that the figures do
not include compiling the sources. It prints, per command, the median and the best wall time over `--runs` rounds and
the median's ratio to the bare interpreter's. `--importtime N` then prints the N modules with
the largest cumulative time under `python -X importtime` for `dsc check` of the one-line file,
each the smallest of 5 runs (imports made through `importlib.import_module`, such as the
command's module, show as top-level entries).

The targets of issue 10: `dsc --version` under 60 ms and `dsc check` of a one-line file under
100 ms (medians).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAUD = ROOT / "examples" / "fraud" / "fraud.dsc"
TARGETS_MS = {"dsc --version": 60, "dsc check one-line.dsc": 100}


def dsc_command() -> list[str]:
    """How to start `dsc`: the console script installed beside this interpreter, if any."""
    script = Path(sys.executable).with_name("dsc")
    if script.exists():
        return [sys.executable, str(script)]
    found = shutil.which("dsc")
    return [sys.executable, found] if found else [sys.executable, "-m", "datastation.runtime.cli"]


def commands(tmp: Path) -> dict[str, list[str]]:
    one = tmp / "one-line.dsc"
    one.write_text('agent alice "Alice"\n', encoding="utf-8")
    dsc = dsc_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dsc --version": [*dsc, "--version"],
        "dsc --help": [*dsc, "--help"],
        "dsc check one-line.dsc": [*dsc, "check", str(one)],
        "dsc fmt one-line.dsc": [*dsc, "fmt", str(one)],
        "dsc check examples/fraud/fraud.dsc": [*dsc, "check", str(FRAUD)],
        "dsc show examples/fraud/fraud.dsc joint_model": [*dsc, "show", str(FRAUD), "joint_model"],
    }


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "NO_COLOR": "1", "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}


def wall(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(cwd))
    elapsed = time.perf_counter() - t
    if done.returncode not in (0, 1):  # 1: a warning-free check is not required, a crash is
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def importtime(cmd: list[str], cwd: Path, top: int, runs: int = 5) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of the `top` imports with the largest cumulative time,
    each the smallest over `runs` runs (the least disturbed by other load)."""
    self_us: dict[str, int] = {}
    cum_us: dict[str, int] = {}
    depth: dict[str, str] = {}
    for _ in range(runs):
        done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=cwd, capture_output=True, text=True,
                              env=environment(cwd))
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if m:
                name = m[4]
                self_us[name] = min(self_us.get(name, 1 << 60), int(m[1]))
                cum_us[name] = min(cum_us.get(name, 1 << 60), int(m[2]))
                depth[name] = m[3][1:]
    ranked = sorted(cum_us, key=lambda n: -cum_us[n])[:top]
    return [(self_us[n], cum_us[n], depth[n] + n) for n in ranked]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="rounds (at least 7 for a stable median)")
    ap.add_argument("--importtime", type=int, default=15, metavar="N",
                    help="show the N largest imports of `dsc check` (0: none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cmds = commands(tmp)
        for cmd in cmds.values():  # compile the bytecode and warm the file cache
            wall(cmd, tmp)
            wall(cmd, tmp)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                times[name].append(wall(cmd, tmp))
        load = os.getloadavg()
        print(f"{args.runs} rounds, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
        base = statistics.median(times["python -c pass"])
        print(f"{'command':<48} {'median':>8} {'best':>8} {'median/python':>14}  target")
        for name, ts in times.items():
            med, best = statistics.median(ts), min(ts)
            target = TARGETS_MS.get(name)
            mark = "" if target is None else f"< {target} ms: {'met' if med * 1000 < target else 'NOT met'}"
            print(f"{name:<48} {med * 1000:6.1f}ms {best * 1000:6.1f}ms {med / base:13.1f}x  {mark}")
        if args.importtime:
            print(f"\npython -X importtime, dsc check one-line.dsc: the {args.importtime} largest "
                  "(cumulative µs, the smallest of 5 runs)")
            print(f"{'self':>8} {'cumul.':>8}  module")
            for self_us, cum_us, module in importtime(cmds["dsc check one-line.dsc"], tmp, args.importtime):
                print(f"{self_us:8d} {cum_us:8d}  {module}")


if __name__ == "__main__":
    main()
