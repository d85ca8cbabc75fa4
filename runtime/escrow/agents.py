"""Agents joining the escrow: registering a public key. The escrow never makes, sees or keeps an
agent's private key: each party makes its key pair in its own keyring (`runtime/keyring.py`)
and gives the escrow the public half."""

from __future__ import annotations

import time

from ..audit import public_key_sha256
from ..keys import KeysError, check_name, fingerprint, normalized_public_pem
from ..store import AgentRow
from .context import EscrowContext, EscrowRefusal
from .facts import DERIVED_OWNER


def refuse_reserved_name(name: str) -> None:
    """No agent may be called like the escrow's own owner of kept results (`_derived`): reads that
    show an agent its own data would show it every kept result (red team, session 10)."""
    if name.casefold() == DERIVED_OWNER.casefold():
        raise EscrowRefusal("name_reserved", f"{name!r} is the escrow's own name for kept results: choose another "
                                             f"agent name")


def register_agent(ctx: EscrowContext, name: str, public_key_pem: str, display: str = "") -> AgentRow:
    """Register an agent's public key (agent_created audit entry in the same transaction).

    Only the public key is kept, re-serialised from the parsed key: a file that also carries a
    private key is refused, and nothing else in the text reaches the store."""
    check_name(name)
    refuse_reserved_name(name)
    try:
        pem = normalized_public_pem(public_key_pem)
    except KeysError as exc:
        raise EscrowRefusal("bad_key", f"cannot register {name}: {exc}") from None
    row = AgentRow(name=name, display=display, public_key=pem, created=time.time())
    with ctx.store.transaction():
        if ctx.store.get_agent(name):
            raise EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
        twin = next((a.name for a in ctx.store.list_agents() if a.name.casefold() == name.casefold()), None)
        if twin is not None:  # `Bank1` beside `bank1` reads as the same party (and is one folder on some disks)
            raise EscrowRefusal("name_confusable", f"agent {name!r} differs from the registered agent {twin!r} only "
                                                   f"in case: choose another name")
        ctx.store.add_agent(row)
        ctx.audit.append("agent_created", actor=name, payload={
            "agent": name, "display": display, "key": fingerprint(pem), "public_key_sha256": public_key_sha256(pem)})
    return row
