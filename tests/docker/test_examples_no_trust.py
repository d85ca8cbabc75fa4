"""The four examples run end to end under no_trust (Docker executor, encrypted storage) and
release exactly what they release under full_trust."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["schema/schema.dsc", "fraud/fraud.dsc", "ads/ads.dsc", "health/health.dsc"]


def dsc(*argv) -> tuple[int, str]:
    from datastation.runtime.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(a) for a in argv])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def no_trust_config(tmp_path_factory, runtime_image):
    from datastation.runtime.crypto import generate_kek_file

    d = tmp_path_factory.mktemp("nt-config")
    generate_kek_file(d / "secret" / "kek")  # outside every escrow directory
    cfg = d / "no_trust.yaml"
    cfg.write_text(f"trust_mode: no_trust\nexecutor: docker\n"
                   f"docker: {{image: '{runtime_image}', warm_pool: 2, timeout_seconds: 300, memory: 1g}}\n"
                   f"kek: {{file: '{d / 'secret' / 'kek'}'}}\n")
    return cfg


def outbox(escrow: Path) -> dict[str, bytes]:
    box = escrow / "outbox"
    return {str(p.relative_to(box)): p.read_bytes() for p in sorted(box.rglob("*")) if p.is_file()} if box.is_dir() else {}


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_no_trust_equals_full_trust(example, tmp_path, no_trust_config):
    path = ROOT / "examples" / example
    if not path.exists():
        pytest.skip(f"{example} not in this tree")
    full_code, full_out = dsc("run", path, "--approve-all", "--escrow-dir", tmp_path / "full")
    nt_code, nt_out = dsc("run", path, "--approve-all", "--escrow-dir", tmp_path / "nt", "--config", no_trust_config)
    assert full_code == 0, full_out
    assert nt_code == full_code, nt_out
    released = outbox(tmp_path / "full")
    assert released, "the example released nothing under full_trust"
    assert outbox(tmp_path / "nt") == released
    # Nothing stored in plaintext: every stored file carries the encryption header.
    stored = [p for p in (tmp_path / "nt" / "storage").rglob("*") if p.is_file()]
    assert stored and all(p.read_bytes()[:6] == b"DSCENC" for p in stored)
