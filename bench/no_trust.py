"""no_trust versus full_trust: an aggregation contract over a large CSV data element.

Both modes run the escrow's real path for one execution: read the stored data element
through `Storage` (plaintext vs AES-256-GCM at rest, sha256 verified in both), run the
stdlib `aggregate` (group by, mean, minimum group size) through the executor (in-process vs
a Docker sandbox from the warm pool, the plaintext staged in a tmpfs), and serialise the result.

    python bench/no_trust.py --mb 1024          # the issue's 1 GB target
    python bench/no_trust.py --mb 200 --repeat 3
    python bench/no_trust.py --mb 200 --repeat 3 --stream   # decrypt straight into the tmpfs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docker_common import ensure_engine_and_image, stdlib_ref  # noqa: E402


def make_csv(path: Path, mb: int, seed: int = 7) -> int:
    """About `mb` MiB of transactions: id, region (40 groups), channel, amount, items."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows_per_chunk = 500_000
    with open(path, "w") as f:
        first = True
        start = 0
        while f.tell() < mb * (1 << 20):
            n = rows_per_chunk
            chunk = pd.DataFrame({
                "id": np.arange(start, start + n),
                "region": rng.integers(0, 40, n).astype(str),
                "channel": rng.choice(["web", "shop", "phone"], n),
                "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
                "items": rng.integers(1, 9, n),
            })
            chunk["region"] = "r" + chunk["region"]
            chunk.to_csv(f, header=first, index=False)
            first = False
            start += n
    return start


def run_once(executor, storage, owner, content_hash, allowed_key, stream=False):
    from dataclasses import dataclass
    from typing import Callable

    from datastation.runtime.crypto.codec import decrypt_to_path
    from datastation.runtime.executors.base import DataArg, ExecutionJob, ValueArg

    @dataclass(frozen=True)
    class StreamingJob(ExecutionJob):  # the optional `read_into` fast path of the Docker executor
        read_into: Callable | None = None

    spent = {}

    def read(key):
        t = time.perf_counter()
        data = storage.get(owner, content_hash)
        spent["read"] = time.perf_counter() - t
        return data

    def read_into(key, path):
        t = time.perf_counter()
        decrypt_to_path(storage.codec, storage.path_for(owner, content_hash), path, owner, content_hash)
        spent["read"] = time.perf_counter() - t

    job = StreamingJob(contract_id="b" * 64, contract_name="aggregate", function=stdlib_ref("aggregate"),
                       args=(DataArg(allowed_key), ValueArg(["region", "channel"]), ValueArg("mean"),
                             ValueArg("amount"), ValueArg(50)),
                       allowed=frozenset([allowed_key]), formats={allowed_key: "csv"}, read=read,
                       timeout_seconds=3600, read_into=read_into if stream else None)
    t = time.perf_counter()
    out = executor.run(job)
    dt = time.perf_counter() - t
    if out.status != "ok":
        sys.exit(f"bench: {out.status}: {out.error}")
    return dt, out, spent["read"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="size of the CSV in MiB (default 1024)")
    ap.add_argument("--repeat", type=int, default=2, help="executions per mode (best is reported)")
    ap.add_argument("--memory", default="8g", help="container memory limit")
    ap.add_argument("--cpus", type=float, default=1.0, help="container CPU limit (the config's docker.cpus)")
    ap.add_argument("--stream", action="store_true",
                    help="also run no_trust staging inputs with read_into (decrypt straight into the tmpfs)")
    args = ap.parse_args(argv)

    from datastation.runtime.crypto import EncryptedCodec, KeyStore, generate_kek_file
    from datastation.runtime.executors.docker import DockerExecutor, Limits
    from datastation.runtime.executors.inprocess import InProcessExecutor
    from datastation.runtime.storage import Storage

    image = ensure_engine_and_image()
    with tempfile.TemporaryDirectory(prefix="dsc-bench-nt-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "tx.csv"
        t = time.perf_counter()
        rows = make_csv(csv, args.mb)
        size = csv.stat().st_size
        print(f"container limits: cpus {args.cpus:g}, memory {args.memory}", flush=True)
        print(f"data: {size / (1 << 20):.0f} MiB CSV, {rows:,} rows (generated in {time.perf_counter() - t:.1f} s)")
        data = csv.read_bytes()
        csv.unlink()

        plain = Storage(tmp / "plain")
        kek = generate_kek_file(tmp / "kek")
        encrypted = Storage(tmp / "enc", EncryptedCodec(KeyStore(tmp / "keys.json", kek)))
        t = time.perf_counter()
        h = plain.put(data, "bank")
        t_plain_put = time.perf_counter() - t
        t = time.perf_counter()
        encrypted.put(data, "bank")
        t_enc_put = time.perf_counter() - t
        del data
        print(f"store: plaintext {t_plain_put:.2f} s, encrypted {t_enc_put:.2f} s")

        full = InProcessExecutor()
        nt = DockerExecutor(limits=Limits(image=image, cpus=args.cpus, memory=args.memory, timeout_seconds=3600),
                            warm_pool=1)
        nt.sandbox.pool.wait_ready(120)
        modes = [("full_trust", full, plain, False), ("no_trust", nt, encrypted, False)]
        if args.stream:
            modes.append(("no_trust+stream", nt, encrypted, True))
        times = {m[0]: [] for m in modes}
        results = {}
        for i in range(args.repeat):
            for mode, ex, st, stream in modes:
                if ex is nt:
                    nt.sandbox.pool.wait_ready(120)
                    time.sleep(1.0)  # let the fresh spare finish importing
                dt, out, t_read = run_once(ex, st, "bank", h, "bank.tx", stream=stream)
                times[mode].append(dt)
                results[mode] = out.data
                print(f"  run {i + 1} {mode}: {dt:.2f} s (storage read{' + decrypt' if ex is nt else ''} "
                      f"{t_read:.2f} s, function {dt - t_read:.2f} s)", flush=True)
        import io

        import pandas as pd

        import statistics

        a = pd.read_parquet(io.BytesIO(results["full_trust"]))
        for mode in times:
            pd.testing.assert_frame_equal(a, pd.read_parquet(io.BytesIO(results[mode])))
        print(f"result: {len(a)} groups, identical in every mode")
        base_best, base_med = min(times["full_trust"]), statistics.median(times["full_trust"])
        for mode, ts in times.items():
            print(f"{mode:16s} best {min(ts):6.2f} s ({min(ts) / base_best:.2f}x)   "
                  f"median {statistics.median(ts):6.2f} s ({statistics.median(ts) / base_med:.2f}x)")
        nt.sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
