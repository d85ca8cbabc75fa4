"""Generate a large, valid .dsc program: N contracts (about 10 lines each) over a pool of agents and data.

    python bench/gen_contracts.py 10000 > /tmp/big.dsc
"""

from __future__ import annotations

import random
import sys

FUNCTIONS = '''\
def train(train: list["Table"], label: str, rounds: int = 10) -> "Model":
    """Train a model."""


def score(model: "Model", data: "Table", label: str) -> float:
    """Score a model."""
'''


def generate(n_contracts: int, n_agents: int = 50, seed: int = 7) -> str:
    rnd = random.Random(seed)
    out = ['use "functions.py"', ""]
    agents = [f"org{i}" for i in range(n_agents)]
    for a in agents:
        out.append(f'agent {a} "Organisation {a[3:]}"')
    out.append("")
    for a in agents:
        out.append(f'data {a}.train csv "data/{a}_train.csv"')
        out.append(f'data {a}.test csv "data/{a}_test.csv"')
    out.append("")
    for a in agents[:5]:
        out += [f"policy {a} {{", f"  allow score on {a}.* to any", f"  deny any on {a}.train to org49 except train", "}", ""]
    for i in range(n_contracts):
        x, y = rnd.sample(agents[:-1], 2)
        threshold = rnd.randint(100, 5000)
        out += [
            f"contract c{i} {{",
            f"  by {x}",
            f'  compute train(train = [{x}.train, {y}.train], label = "is_fraud", rounds = {rnd.randint(1, 50)})',
            f"  to {x}, {y}",
            f"  require rows({x}.train) >= {threshold} and rows({y}.train) >= {threshold}",
            f"  ensure for b in [{x}, {y}]:",
            f'    score(result, b.test, "is_fraud") >= 0.{rnd.randint(10, 99)}',
            f'      and score(result, b.test, "is_fraud") * 2 - 1 > -0.5',
            "}",
            "",
        ]
    out.append("never org0.train reaches org49")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10000))
