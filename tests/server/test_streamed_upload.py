"""Uploads stream to a temporary file and then into storage (encrypted at rest under no_trust),
bound to the signed sha256; nothing of them is left behind."""

import contextlib
import hashlib
import io

from datastation.runtime.cli import main
from datastation.runtime.config import load_config
from datastation.runtime.storage import Storage
from datastation.runtime.crypto import storage_codec
from serving import Served


def stored_file(served: Served, owner: str, content_hash: str):
    return served.root / "escrow" / "storage" / owner / content_hash[:2] / content_hash


def test_a_large_upload_is_stored_whole(served, tmp_path):
    alice = served.agent("alice")
    big = tmp_path / "big.csv"
    with open(big, "w") as fh:
        fh.write("id,amount\n")
        for i in range(300_000):
            fh.write(f"{i},{i * 0.5}\n")
    seen = []
    row = alice.add_data("alice.big", big, progress=lambda done, total: seen.append((done, total)))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    assert row["content_hash"] == digest and row["size"] == big.stat().st_size
    assert row["inferred_schema"] == {"id": "int", "amount": "float"}
    assert stored_file(served, "alice", digest).read_bytes() == big.read_bytes()
    assert seen[-1] == (big.stat().st_size, big.stat().st_size) and len(seen) > 1
    assert not list((served.root / "escrow" / "run" / "uploads").iterdir())


def test_under_no_trust_an_upload_is_encrypted_at_rest(tmp_path):
    kek = tmp_path / "secret" / "kek"
    extra_top = f"trust_mode: no_trust\nexecutor: docker\nkek: {{file: {kek}}}\n"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["keys", "init", "--kek-file", str(kek)]) == 0
    served = Served(tmp_path / "site", extra_top=extra_top)
    try:
        alice = served.agent("alice")
        data = tmp_path / "a.csv"
        data.write_text("secret_column,n\nsecret-value,1\n")
        row = alice.add_data("alice.t", data)
        blob = stored_file(served, "alice", row["content_hash"]).read_bytes()
        assert b"secret-value" not in blob and b"secret_column" not in blob
        config = load_config(served.config)
        storage = Storage(config.storage_path, storage_codec(config))
        assert storage.get("alice", row["content_hash"]) == data.read_bytes()
    finally:
        served.stop()
