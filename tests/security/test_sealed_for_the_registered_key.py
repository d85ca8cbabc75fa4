"""Hole 5, no_trust: a result is sealed for the key the escrow's log binds to each recipient.

Someone who can write the database replaces bank2's public key in the agents table with
their own, after bank2's standing policy approved the contract (an approval the escrow signs,
so no key of bank2's is checked): the copy released to bank2 must not be sealed for the
attacker's key.
"""

import shutil
from pathlib import Path

import pytest

from datastation.runtime.config import Config, KekConfig
from datastation.runtime.crypto import CryptoError, generate_kek_file
from datastation.runtime.crypto.results import is_sealed, open_result
from datastation.runtime.escrow import EscrowRefusal
from datastation.runtime.executors.inprocess import InProcessExecutor
from datastation.runtime.keyring import Keyring
from harness import World

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"


@pytest.fixture
def no_trust(tmp_path):
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    kek = tmp_path / "secret" / "kek"
    generate_kek_file(kek)
    w = World(tmp_path, src / "bank.dsc", config=Config(trust_mode="no_trust", kek=KekConfig(file=kek)))
    w.escrow._executor = InProcessExecutor()  # the sealing is the point here, not the sandbox
    w.setup_from_file()
    yield w
    w.close()


def test_swapped_recipient_key_gets_no_copy(no_trust, tmp_path):
    w = no_trust
    policy = tmp_path / "bank2_policy.dsc"
    policy.write_text("policy bank2 {\n  allow any on bank2.* to bank1, bank2\n}\n")
    w.apply_policy("bank2", policy)
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")
    assert w.store.get_contract(row.id).status == "approved"
    w.agent("mallory")
    pem = w.store.get_agent("mallory").public_key
    w.store._db.execute("UPDATE agents SET public_key = ? WHERE name = 'bank2'", (pem,))
    try:
        rep = w.execute(row.id, "bank1")
    except EscrowRefusal:
        rep = None
    mallory = Keyring(w.config.keyring_path).load("mallory")
    for r in w.store.releases(contract_id=row.id):
        blob = Path(r.path).read_bytes()
        assert is_sealed(blob)
        with pytest.raises(CryptoError):
            open_result(w.config, blob, r.recipient, mallory)
    assert rep is None or rep.status != "executed"
