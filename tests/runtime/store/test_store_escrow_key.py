"""A store whose log has entries belongs to the escrow whose key signed them: opened without that
key (another escrow directory named for a shared PostgreSQL store, a deleted key), no command
makes a new key that would sign entries into its chain (red team, session 9). SQLite and PostgreSQL."""

import pytest

from datastation.runtime.escrow import Escrow
from datastation.runtime.store import StoreError


def test_a_used_store_without_its_key_is_refused_and_no_key_is_made(config, tmp_path):
    with Escrow.open(config) as e:
        e.create_agent("alice", passphrase=None)
    elsewhere = config.with_root(tmp_path / "other", keyring=tmp_path / "keyring")
    if config.store.backend == "postgresql":
        other = elsewhere  # the same database named from another escrow directory
    else:
        config.escrow_key_path.unlink()  # the escrow's key deleted beside its database
        other = config
    with pytest.raises(StoreError, match="no new escrow key was made"):
        Escrow.open(other)
    assert not other.escrow_key_path.exists()


def test_a_new_store_gets_its_key(config):
    assert not config.escrow_key_path.exists()
    with Escrow.open(config) as e:
        e.create_agent("alice", passphrase=None)
    assert config.escrow_key_path.exists()
