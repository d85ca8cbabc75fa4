"""`dsc keys`: init, rotate (data stays readable, old KEK refused), owner key rotation, decrypt."""

from __future__ import annotations

import pytest
from harness import run_dsc

dsc = run_dsc


@pytest.fixture
def escrow(tmp_path):
    cfg = tmp_path / "data_station_config.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'escrow'}\ntrust_mode: no_trust\nexecutor: docker\n"
                   f"kek: {{file: {tmp_path / 'secret' / 'kek'}}}\n")
    assert dsc("keys", "init", "--kek-file", tmp_path / "secret" / "kek")[0] == 0
    assert dsc("init", "--config", cfg)[0] == 0
    return tmp_path, cfg


def codec(cfg):
    from datastation.runtime.config import load_config
    from datastation.runtime.crypto import storage_codec

    return storage_codec(load_config(cfg))


def test_init_refuses_to_overwrite(escrow):
    tmp, _ = escrow
    code, _ = dsc("keys", "init", "--kek-file", tmp / "secret" / "kek")
    assert code == 1


def test_rotate_kek_keeps_data_readable(escrow):
    tmp, cfg = escrow
    blob = codec(cfg).encode(b"secret rows", owner="bank1")
    code, out = dsc("keys", "rotate", "--new-kek-file", tmp / "secret" / "kek2", "--generate", "--config", cfg)
    assert code == 0, out
    assert dsc("keys", "list", "--config", cfg)[0] == 1  # the config still names the old KEK
    cfg.write_text(cfg.read_text().replace("secret/kek}", "secret/kek2}"))
    assert dsc("keys", "list", "--config", cfg)[0] == 0
    assert codec(cfg).decode(blob, owner="bank1") == b"secret rows"


def test_rotate_owner_key_and_decrypt_result(escrow):
    tmp, cfg = escrow
    from datastation.runtime.config import load_config
    from datastation.runtime.crypto.results import seal_result

    old = codec(cfg).encode(b"old", owner="bank1")
    assert dsc("keys", "rotate", "--owner", "bank1", "--config", cfg)[0] == 0
    assert codec(cfg).decode(old, owner="bank1") == b"old"
    from datastation.runtime.keyring import Keyring
    from datastation.runtime.keys import public_pem

    keyring = Keyring(load_config(cfg).keyring_path)
    bank2 = keyring.create("bank2", None)
    keyring.create("bank1", None)
    sealed = tmp / "result.json"
    sealed.write_bytes(seal_result(load_config(cfg), "bank2", b'{"n": 3}', public_pem(bank2)))
    code, out = dsc("keys", "decrypt", sealed, "--as", "bank2", "-o", tmp / "plain.json", "--config", cfg)
    assert code == 0, out
    assert (tmp / "plain.json").read_bytes() == b'{"n": 3}'
    assert (tmp / "plain.json").stat().st_mode & 0o077 == 0
    # --for is the older spelling; --key-file names a key kept outside the keyring
    moved = tmp / "elsewhere.pem"
    moved.write_bytes(keyring.path_of("bank2").read_bytes())
    moved.chmod(0o600)
    code, out = dsc("keys", "decrypt", sealed, "--for", "bank2", "--key-file", moved, "-o", tmp / "p2",
                    "--config", cfg)
    assert code == 0 and (tmp / "p2").read_bytes() == b'{"n": 3}', out
    code, out = dsc("keys", "decrypt", sealed, "--as", "bank1", "-o", tmp / "x", "--config", cfg)
    assert code == 1 and "Traceback" not in out and not (tmp / "x").exists()
    code, out = dsc("keys", "decrypt", sealed, "--as", "bank3", "-o", tmp / "x", "--config", cfg)
    assert code == 1 and "bank3" in out  # no key: a clear error
