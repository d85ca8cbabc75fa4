"""`dsc check` throughput on a generated 10,000-contract program, against CPython's `ast.parse`.

Both are measured in the same run on inputs of the same size (lines and bytes), so the ratio
is meaningful across machines:

    python bench/check_throughput.py [N_CONTRACTS] [--repeat 3]

It prints the sizes, the best-of-repeat times for: parsing alone, the full check (parse +
every rule), `ast.parse` of a Python file of the same size, and the `dsc check` command
(process start-up included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_contracts import FUNCTIONS, generate  # noqa: E402


def python_of_same_size(n_lines: int, n_bytes: int) -> str:
    """Python source with about the same number of lines and bytes, written like real code."""
    block = (
        "def f{i}(model, org_a, org_b, threshold={i}):\n"
        "    result = train(train=[org_a.train, org_b.train], label='is_fraud', rounds={i} % 50)\n"
        "    if rows(org_a.train) >= threshold and rows(org_b.train) >= threshold:\n"
        "        for b in [org_a, org_b]:\n"
        "            ok = score(result, b.test, 'is_fraud') >= 0.5 and score(result, b.test, 'x') * 2 - 1 > -0.5\n"
        "            assert ok, ('contract', {i})\n"
        "    return {{'by': org_a, 'to': [org_a, org_b], 'policy': None}}\n"
        "\n"
    )
    parts, lines, size, i = [], 0, 0, 0
    while lines < n_lines and size < n_bytes:
        text = block.format(i=i)
        parts.append(text)
        lines += text.count("\n")
        size += len(text)
        i += 1
    return "".join(parts)


_TIME_AST = """
import sys, time
src = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
compile(src, sys.argv[1], "exec", 0x400)  # ast.PyCF_ONLY_AST: what ast.parse does
print(time.perf_counter() - t)
"""

_TIME_PARSE = """
import sys, time
from datastation.dsl.parser import parse
src = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
parse(src, sys.argv[1])
print(time.perf_counter() - t)
"""

_TIME_CHECK = """
import sys, time
from datastation.dsl.check import check_source
src = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
result = check_source(src, sys.argv[1])
print(time.perf_counter() - t)
assert not result.errors, result.errors[:3]
"""


def in_fresh_process(script: str, path: Path) -> float:
    """Run a timing script in a new interpreter, so that no measurement inherits another's heap."""
    out = subprocess.run([sys.executable, "-c", script, str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "NO_COLOR": "1"})
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("contracts", type=int, nargs="?", default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = generate(args.contracts)
        (tmp / "functions.py").write_text(FUNCTIONS)
        dsc = tmp / "big.dsc"
        dsc.write_text(src)
        py_path = tmp / "same_size.py"
        py_path.write_text(python_of_same_size(src.count("\n"), len(src)))
        py = py_path.read_text()
        print(f"dsc program: {args.contracts} contracts, {src.count(chr(10))} lines, {len(src) / 1e6:.2f} MB")
        print(f"python file: {py.count(chr(10))} lines, {len(py) / 1e6:.2f} MB")

        # Interleaved, best of `repeat`, each measurement in its own interpreter.
        t_ast = t_parse = t_check = t_cli = float("inf")
        for _ in range(args.repeat):
            t_ast = min(t_ast, in_fresh_process(_TIME_AST, py_path))
            t_parse = min(t_parse, in_fresh_process(_TIME_PARSE, dsc))
            t_check = min(t_check, in_fresh_process(_TIME_CHECK, dsc))
            t_cli = min(t_cli, wall([sys.executable, "-m", "datastation.runtime.cli", "check", "--format", "plain", str(dsc)]))
        print(f"parse only                 {t_parse:7.3f} s")
        print(f"check (parse + all rules)  {t_check:7.3f} s")
        print(f"dsc check, whole process   {t_cli:7.3f} s   (interpreter start-up and imports included)")
        print(f"ast.parse, same size       {t_ast:7.3f} s")
        print(f"ratio check / ast.parse        {t_check / t_ast:5.2f}")
        print(f"ratio dsc check / ast.parse    {t_cli / t_ast:5.2f}")


if __name__ == "__main__":
    main()
