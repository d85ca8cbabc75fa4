"""Joining a served escrow: the operator invites an agent, the agent registers its own public key.

    token, expires = issue_invite(ctx, "bank2", ttl_seconds=86400)     # `dsc invite bank2`
    register_invited(ctx, request)   # request: signed by the new key, params {token, public_key, display}

A token is one-time and expires. The escrow keeps only its sha256 (state scope `invite`), never
the token; the audit log records that an invitation was issued and used, by a short prefix of
that hash. Registration proves possession of the private key: the request is signed by the key
it registers, for this escrow, inside the request window.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from ..keys import (
    finite_timestamp,
    NOT_STORABLE, KeysError, SignedRequest, canonical_json, check_name, normalized_public_pem, storable_text, verify,
)
from ..store import AgentRow, ReplayError
from .actions import REGISTER
from .agents import refuse_reserved_name, register_agent
from .context import EscrowContext, EscrowRefusal

SCOPE = "invite"
TOKEN_PREFIX = "dsci_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_invite(ctx: EscrowContext, agent: str, ttl_seconds: float) -> tuple[str, float]:
    """A fresh one-time token with which `agent` may register its key (returned once, stored hashed)."""
    try:
        check_name(agent)
    except KeysError as exc:
        raise EscrowRefusal("bad_request", str(exc)) from None
    refuse_reserved_name(agent)
    if ttl_seconds <= 0:
        raise EscrowRefusal("bad_request", "an invitation must stay valid for some time (ttl > 0)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    h = token_hash(token)
    now = time.time()
    expires = now + ttl_seconds
    with ctx.store.transaction():
        if ctx.store.get_agent(agent) is not None:
            raise EscrowRefusal("agent_exists", f"agent {agent!r} is already registered with this escrow")
        ctx.store.set_state(SCOPE, h, {"agent": agent, "created": now, "expires": expires, "used": None})
        ctx.audit.append("invite", actor=None, payload={"agent": agent, "invite": h[:16], "expires": expires})
    return token, expires


def register_invited(ctx: EscrowContext, request: SignedRequest) -> AgentRow:
    """Register the key in a signed `agent.register` request that carries a valid invitation."""
    claimed = request.agent if isinstance(request.envelope, dict) else None
    try:
        with ctx.store.transaction():
            return _register(ctx, request)
    except EscrowRefusal as exc:
        if exc.code in UNAUTHENTICATED:  # nobody holding a valid invitation signed it: not audited
            raise ctx.refuse_unauthenticated(exc) from None
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=REGISTER) from None


# Refusals of a registration before its invitation is found valid (anyone can make a key and sign).
UNAUTHENTICATED = frozenset({"malformed", "wrong_escrow", "bad_request", "bad_key", "bad_signature", "stale",
                             "bad_invite"})


def _register(ctx: EscrowContext, request: SignedRequest) -> AgentRow:
    env = request.envelope
    p = request.params
    token, pem, display = p.get("token"), p.get("public_key"), p.get("display") or ""
    if not isinstance(env, dict) or env.get("action") != REGISTER or not isinstance(env.get("agent"), str):
        raise EscrowRefusal("malformed", "malformed registration request")
    if not storable_text(env):
        raise EscrowRefusal("malformed", NOT_STORABLE)
    if env.get("escrow") != ctx.escrow_id:
        raise EscrowRefusal("wrong_escrow", f"the registration was signed for another escrow, not this one "
                                            f"({ctx.escrow_id})")
    if not isinstance(token, str) or not isinstance(pem, str) or not isinstance(display, str) or len(display) > 200:
        raise EscrowRefusal("bad_request", "a registration carries the invitation token, the public key and "
                                           "an optional display name (at most 200 characters)")
    ts = env.get("timestamp")
    nonce = env.get("nonce")
    if finite_timestamp(ts) is None or not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise EscrowRefusal("malformed", "malformed registration request (timestamp or nonce)")
    try:
        message = canonical_json(env)
        pem = normalized_public_pem(pem)
    except (TypeError, ValueError, KeysError) as exc:
        raise EscrowRefusal("bad_key" if isinstance(exc, KeysError) else "malformed", str(exc)) from None
    if not verify(pem, message, request.signature):
        raise EscrowRefusal("bad_signature", "the registration is not signed by the key it registers")
    if abs(time.time() - float(ts)) > ctx.config.request_window_seconds:
        raise EscrowRefusal("stale", f"request timestamp is outside the accepted window of "
                                     f"{ctx.config.request_window_seconds:g} s")
    agent = env["agent"]
    try:
        check_name(agent)
    except KeysError as exc:
        raise EscrowRefusal("bad_request", str(exc)) from None
    h = token_hash(token)
    try:  # PostgreSQL sends the nonce with the read below, which raises a replay
        ctx.store.use_nonce(agent, nonce, float(ts))
        invite = ctx.store.get_state(SCOPE, h)
    except ReplayError:
        raise EscrowRefusal("replay", "registration nonce already used: replayed request refused") from None
    if not isinstance(invite, dict) or invite.get("agent") != agent:
        raise EscrowRefusal("bad_invite", f"this is not an invitation for {agent[:64]!r} (ask the escrow's "
                                          f"operator for one: `dsc invite {agent[:64]}`)")
    if invite.get("used"):
        raise EscrowRefusal("invite_used", "this invitation was already used (invitations are one-time)")
    if float(invite.get("expires") or 0) < time.time():
        raise EscrowRefusal("invite_expired", "this invitation has expired: ask the escrow's operator for a new one")
    ctx.store.set_state(SCOPE, h, {**invite, "used": time.time()})
    row = register_agent(ctx, agent, pem, display)
    ctx.audit.append("invite_used", actor=agent, payload={"agent": agent, "invite": h[:16]})
    return row
