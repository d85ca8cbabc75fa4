"""Per-execution overhead of the Docker sandbox: cold container versus the warm pool.

A trivial stdlib call (`rows` of a 3-row table) through `DockerExecutor.run`, compared with
the in-process executor. Cold: a container is created, started and imports pandas for the
job. Warm: the pool handed over a blank container started earlier (the pool is given time
to refill between runs, as an idle escrow would).

    python bench/docker_overhead.py --runs 10
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docker_common import ensure_engine_and_image, stdlib_ref, summary  # noqa: E402

TABLE = b"id,amount\n1,10\n2,20\n3,30\n"


def job():
    from datastation.runtime.executors.base import DataArg, ExecutionJob

    return ExecutionJob(contract_id="o" * 64, contract_name="overhead", function=stdlib_ref("rows"),
                        args=(DataArg("a.t"),), allowed=frozenset(["a.t"]), formats={"a.t": "csv"},
                        read=lambda key: TABLE)


def measure(executor, runs: int, before=None) -> tuple[list[float], list]:
    times, outs = [], []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        out = executor.run(job())
        times.append(time.perf_counter() - t)
        if out.status != "ok" or out.result_value() != 3:
            sys.exit(f"bench: unexpected outcome {out.status}: {out.error}")
        outs.append(out)
    return times, outs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args(argv)
    from datastation.runtime.executors.docker import DockerExecutor, Limits
    from datastation.runtime.executors.inprocess import InProcessExecutor

    image = ensure_engine_and_image()
    limits = Limits(image=image, timeout_seconds=120)
    measure(InProcessExecutor(), 1)  # warm-up: pandas imported, module caches filled
    inproc, _ = measure(InProcessExecutor(), args.runs)
    cold_ex = DockerExecutor(limits=limits, warm_pool=0)
    cold, _ = measure(cold_ex, args.runs)
    warm_ex = DockerExecutor(limits=Limits(image=image, timeout_seconds=119), warm_pool=1)

    def refill():
        warm_ex.sandbox.pool.wait_ready(60)
        time.sleep(1.5)  # the spare finishes importing pandas before it is needed

    warm, _ = measure(warm_ex, args.runs, before=refill)
    print(f"in-process executor: {summary(inproc)}")
    print(f"docker, cold       : {summary(cold)}")
    print(f"docker, warm pool  : {summary(warm)}")
    warm_ex.sandbox.close()
    cold_ex.sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
