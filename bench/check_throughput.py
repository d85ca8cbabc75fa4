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


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("contracts", type=int, nargs="?", default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from datastation.dsl.check import check_source
    from datastation.dsl.parser import parse

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = generate(args.contracts)
        (tmp / "functions.py").write_text(FUNCTIONS)
        dsc = tmp / "big.dsc"
        dsc.write_text(src)
        py = python_of_same_size(src.count("\n"), len(src))
        print(f"dsc program: {args.contracts} contracts, {src.count(chr(10))} lines, {len(src) / 1e6:.2f} MB")
        print(f"python file: {py.count(chr(10))} lines, {len(py) / 1e6:.2f} MB")

        result = check_source(src, str(dsc), tmp)
        assert not result.errors, result.errors[:3]

        t_parse = best(lambda: parse(src, str(dsc)), args.repeat)
        t_check = best(lambda: check_source(src, str(dsc), tmp), args.repeat)
        t_ast = best(lambda: compile(py, "same_size.py", "exec", 0x400), args.repeat)  # ast.PyCF_ONLY_AST
        t_cli = best(
            lambda: subprocess.run([sys.executable, "-m", "datastation.runtime.cli", "check", "--format", "plain", str(dsc)],
                                   check=True, stdout=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"}),
            args.repeat,
        )
        print(f"parse only            {t_parse:7.3f} s")
        print(f"check (parse + rules) {t_check:7.3f} s")
        print(f"dsc check (process)   {t_cli:7.3f} s")
        print(f"ast.parse same size   {t_ast:7.3f} s")
        print(f"ratio check / ast.parse      {t_check / t_ast:5.2f}")
        print(f"ratio dsc check / ast.parse  {t_cli / t_ast:5.2f}")


if __name__ == "__main__":
    main()
