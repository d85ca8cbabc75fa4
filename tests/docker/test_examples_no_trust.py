"""The four examples run end to end under no_trust (Docker executor, encrypted storage, sealed
results) and release exactly what they release under full_trust.

The no_trust run is what docs/no-trust.md tells a user to do: a `data_station_config.yaml` in the
current directory with `trust_mode: no_trust` and the KEK in an environment variable (executor and
image left to their defaults), then `dsc run FILE --approve-all` as a separate process; each
recipient then opens its result with `dsc keys decrypt`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from results_close import assert_released_close

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["schema/schema.dsc", "fraud/fraud.dsc", "ads/ads.dsc", "health/health.dsc"]


def files_under(box: Path) -> dict[str, bytes]:
    return {str(p.relative_to(box)): p.read_bytes() for p in sorted(box.rglob("*")) if p.is_file()} \
        if box.is_dir() else {}


def dsc_cmd() -> list[str]:
    """`dsc`, run by the interpreter under test (a `dsc` on PATH may belong to another environment)."""
    return [sys.executable, "-m", "datastation.runtime.cli"]


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory, runtime_image):
    """A user's working directory: the config of docs/no-trust.md, the KEK in $DSC_KEK."""
    d = tmp_path_factory.mktemp("user")
    (d / "data_station_config.yaml").write_text("trust_mode: no_trust\nkek:\n  env: DSC_KEK\n")
    env = {**os.environ, "DSC_KEK": base64.b64encode(os.urandom(32)).decode()}
    env.pop("DSC_CONFIG", None)
    return d, env


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_no_trust_equals_full_trust(example, tmp_path, user_dir, dsc_out):
    from datastation.runtime.crypto.results import is_sealed

    path = ROOT / "examples" / example
    if not path.exists():
        pytest.skip(f"{example} not in this tree")
    workdir, env = user_dir
    full_code, full_out = dsc_out("run", path, "--approve-all", "--escrow-dir", tmp_path / "full",
                              "--config", ROOT / "data_station_config.yaml")
    assert full_code == 0, full_out
    released = files_under(tmp_path / "full" / "outbox")
    assert released, "the example released nothing under full_trust"

    nt = tmp_path / "nt"
    proc = subprocess.run([*dsc_cmd(), "run", str(path), "--approve-all", "--escrow-dir", str(nt)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == full_code, out
    assert "no_trust, docker executor" in out
    assert "Traceback" not in out

    sealed = files_under(nt / "outbox")
    assert sorted(sealed) == sorted(f"{rel}.sealed" for rel in released)
    opened = {}
    for rel, blob in sealed.items():
        assert is_sealed(blob), f"{rel} is released in plaintext"
        recipient = rel.split("/", 1)[0]
        rel = rel.removesuffix(".sealed")
        out_file = tmp_path / "opened" / rel
        out_file.parent.mkdir(parents=True, exist_ok=True)
        code, msg = dsc_out("keys", "decrypt", nt / "outbox" / f"{rel}.sealed", "--as", recipient,
                        "--key-file", tmp_path / "nt.dev-keys" / f"{recipient}.pem", "-o", out_file,
                        "--config", workdir / "data_station_config.yaml")
        assert code == 0, msg
        opened[rel] = out_file.read_bytes()
    assert_released_close(opened, released)  # floats may differ in the last digits (BLAS)
    # Nothing stored in plaintext: every stored file carries the encryption header.
    stored = [p for p in (nt / "storage").rglob("*") if p.is_file()]
    assert stored and all(p.read_bytes()[:6] == b"DSCENC" for p in stored)
