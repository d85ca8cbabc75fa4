"""Agents joining the escrow: registering a public key (and, for local use, making the key pair)."""

from __future__ import annotations

import time

from ..audit import public_key_sha256
from ..keys import agent_key_path, check_name, create_agent_key, fingerprint, load_agent_key, public_pem
from ..store import AgentRow
from .context import EscrowContext, EscrowRefusal

def register_agent(ctx: EscrowContext, name: str, public_key_pem: str, display: str = "") -> AgentRow:
    """Register an agent's public key (agent_created audit entry in the same transaction)."""
    check_name(name)
    fp = fingerprint(public_key_pem)  # validates the key
    row = AgentRow(name=name, display=display, public_key=public_key_pem, created=time.time())
    with ctx.store.transaction():
        if ctx.store.get_agent(name):
            raise EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
        ctx.store.add_agent(row)
        ctx.audit.append("agent_created", actor=name, payload={
            "agent": name, "display": display, "key": fp, "public_key_sha256": public_key_sha256(public_key_pem)})
    return row


def create_agent(ctx: EscrowContext, name: str, display: str = "", passphrase: bytes | None = None) -> AgentRow:
    """Make a key pair in the keyring (0600) and register its public key.

    If a key file for `name` exists but the agent is not registered (a crash between the two
    steps), that key is registered instead of failing.
    """
    check_name(name)
    if ctx.store.get_agent(name):
        raise EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
    path = agent_key_path(ctx.config.keyring_path, name)
    if path.exists():
        key = load_agent_key(ctx.config.keyring_path, name, passphrase)
    else:
        key = create_agent_key(ctx.config.keyring_path, name, passphrase)
    return register_agent(ctx, name, public_pem(key), display)


