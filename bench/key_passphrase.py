"""What a passphrase-protected agent key costs, and what it costs a guesser.

    python bench/key_passphrase.py [--runs 7]

Times (median and best of --runs, each in this process): making a protected key file
(`Keyring.create` with a passphrase: scrypt N=2^17 r=8 p=1 + AES-256-CBC + the atomic write),
opening it (`Keyring.load`), opening an unprotected development key, and, for comparison,
one derivation of cryptography's `BestAvailableEncryption` (PBKDF2, 2048 iterations), which
is what an offline guess at the passphrase costs an attacker with each format.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def timed(fn, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def line(name: str, xs: list[float]) -> str:
    return f"{name:<44} median {statistics.median(xs) * 1e3:8.1f} ms   best {min(xs) * 1e3:8.1f} ms"


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--runs", type=int, default=7)
    args = a.parse_args(argv)
    from cryptography.hazmat.primitives import serialization

    from datastation.runtime.keyring import Keyring
    from datastation.runtime.keys import generate_key

    with tempfile.TemporaryDirectory() as tmp:
        ring = Keyring(Path(tmp) / "keys")
        make = timed(lambda i: ring.create(f"p{i}", b"correct horse battery staple"), args.runs)
        ring.create("dev", None)
        load = timed(lambda i: ring.load(f"p{i}", b"correct horse battery staple"), args.runs)
        dev = timed(lambda i: ring.load("dev"), args.runs)
        key = generate_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(b"correct horse battery staple"))
        best = timed(lambda i: serialization.load_pem_private_key(pem, b"correct horse battery staple"), args.runs)
    print(line("make a protected key (scrypt 2^17)", make))
    print(line("open a protected key (one guess)", load))
    print(line("open an unprotected development key", dev))
    print(line("BestAvailableEncryption: one guess (PBKDF2)", best))
    print(f"cost of one guess, scrypt / BestAvailableEncryption: {statistics.median(load) / statistics.median(best):.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
