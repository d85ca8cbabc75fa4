"""Short-circuit latency in the Docker sandbox: from the forbidden read to the stop.

The function calls `read_data("other.secret")`, a data element outside its contract. The
in-container API stops it inside that call (it never returns to the function): it writes
the short-circuit frame and ends the process. Measured on the host clock (the container
shares the kernel's clock): forbidden read -> escrow has the frame; forbidden read ->
process gone (its end of the result FIFO closed).

    python bench/short_circuit.py --runs 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docker_common import ensure_engine_and_image, summary  # noqa: E402

MODULE = '''
from datastation.runtime.app_api import read_data

def snoop(t):
    total = len(t)
    return total + len(read_data("other.secret"))
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args(argv)
    from datastation.runtime.executors.docker import DataRef, DockerSandbox, InputSource, Limits

    image = ensure_engine_and_image()
    box = DockerSandbox(Limits(image=image, timeout_seconds=60), warm_pool=1)
    to_frame, to_exit, total = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        mod = Path(tmp) / "functions.py"
        mod.write_text(MODULE)
        for _ in range(args.runs):
            box.pool.wait_ready(60)
            time.sleep(1.5)
            t = time.perf_counter()
            out = box.run_function(function="snoop", module_path=mod, args=[DataRef("mine.t")],
                                   inputs={"mine.t": InputSource.from_bytes(b"a\n1\n2\n", "csv")})
            total.append(time.perf_counter() - t)
            if out.status != "short_circuit" or out.key != "other.secret":
                sys.exit(f"bench: expected a short-circuit, got {out.status}: {out.error}")
            to_frame.append((out.timings["frame_ns"] - out.stop_ns) / 1e9)
            to_exit.append((out.timings["exit_ns"] - out.stop_ns) / 1e9)
    print(f"forbidden read -> escrow has the short-circuit frame: {summary(to_frame)}")
    print(f"forbidden read -> function's process gone          : {summary(to_exit)}")
    print(f"whole job (warm container, staging, stop)          : {summary(total)}")
    box.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
