"""The four examples run end to end under no_trust (Docker executor, encrypted storage) and
release exactly what they release under full_trust."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["schema/schema.dsc", "fraud/fraud.dsc", "ads/ads.dsc", "health/health.dsc"]


def outbox(escrow: Path, config_path=None) -> dict[str, bytes]:
    """Released files by path; results sealed for their recipient (no_trust) are opened."""
    from datastation.runtime.config import load_config
    from datastation.runtime.crypto.results import is_sealed, open_result

    box = escrow / "outbox"
    files = {}
    for p in sorted(box.rglob("*")) if box.is_dir() else ():
        if p.is_file():
            blob = p.read_bytes()
            if is_sealed(blob):
                blob = open_result(load_config(config_path).with_root(escrow), blob, p.relative_to(box).parts[0])
            files[str(p.relative_to(box))] = blob
    return files


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_no_trust_equals_full_trust(example, tmp_path, no_trust_config, dsc):
    path = ROOT / "examples" / example
    if not path.exists():
        pytest.skip(f"{example} not in this tree")
    full_code, full_out = dsc("run", path, "--approve-all", "--escrow-dir", tmp_path / "full")
    nt_code, nt_out = dsc("run", path, "--approve-all", "--escrow-dir", tmp_path / "nt", "--config", no_trust_config)
    assert full_code == 0, full_out
    assert nt_code == full_code, nt_out
    released = outbox(tmp_path / "full")
    assert released, "the example released nothing under full_trust"
    assert outbox(tmp_path / "nt", no_trust_config) == released
    # Nothing stored in plaintext: every stored file carries the encryption header.
    stored = [p for p in (tmp_path / "nt" / "storage").rglob("*") if p.is_file()]
    assert stored and all(p.read_bytes()[:6] == b"DSCENC" for p in stored)
