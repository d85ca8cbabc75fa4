"""The bodies of the HTTP API (pydantic), from which the OpenAPI schema is generated.

Signed requests are read from the raw body (a signature covers the exact JSON values: nothing
may coerce them first); their schema is `SIGNED_REQUEST`, given to each route by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SIGNED_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["envelope", "signature"],
    "properties": {
        "envelope": {
            "type": "object",
            "required": ["action", "params", "agent", "escrow", "nonce", "timestamp"],
            "properties": {
                "action": {"type": "string", "description": "the action this request is for (e.g. contract.approve)"},
                "params": {"type": "object", "description": "the action's parameters (see each route)"},
                "agent": {"type": "string", "description": "the agent whose key signs the request"},
                "escrow": {"type": "string", "description": "the id of the escrow it is for (GET /v1/escrow)"},
                "nonce": {"type": "string", "minLength": 8, "maxLength": 128},
                "timestamp": {"type": "number", "description": "seconds since the epoch (request window applies)"},
            },
        },
        "signature": {"type": "string", "description": "base64 Ed25519 signature of the envelope's canonical JSON"},
    },
}


def signed_body(params: str) -> dict[str, Any]:
    """`openapi_extra` of a route whose body is a signed request with these `params`."""
    return {"requestBody": {"required": True, "description": f"a signed request; params: {params}",
                            "content": {"application/json": {"schema": SIGNED_REQUEST}}}}


class EscrowInfo(BaseModel):
    escrow_id: str = Field(description="what every signed request names; derived from public_key")
    public_key: str
    trust_mode: str
    version: str
    max_request_bytes: int
    max_upload_bytes: int
    request_window_seconds: float


class AgentOut(BaseModel):
    name: str
    display: str
    key_fingerprint: str


class DataOut(BaseModel):
    key: str
    owner: str
    format: str
    content_hash: str | None = Field(None, description="sha256 of the file: only for your own data elements")
    digest: str = Field(description="keyed digest of the contents (equal contents, equal digests; no guess "
                                    "can be tested against it)")
    size: int | None = Field(None, description="bytes of the file: not shown for kept results")
    inferred_schema: dict[str, str] | None = None
    declared_schema: dict[str, str] | None = None
    derived: bool = False
    provenance: list[str] = []
    created: float


class ContractOut(BaseModel):
    id: str
    name: str
    status: str
    proposer: str
    source_agents: list[str]
    recipients: list[str]
    waiting_for: list[str]
    kept_as: str | None = None


class DecisionOut(BaseModel):
    owner: str
    effect: str | None = None
    rule: str | None = None


class ProposalOut(BaseModel):
    contract: ContractOut
    decisions: list[DecisionOut]


class ApprovalOut(BaseModel):
    agent: str
    via_policy: str | None = None
    ts: float


class RejectionOut(BaseModel):
    agent: str
    reason: str
    via_policy: str | None = None


class ExecutionRecordOut(BaseModel):
    id: int | None = None
    number: int | None = None  # per contract: "execution #1" is its first run
    attempt: int = 1  # the attempt of the contract it ran for
    status: str
    actor: str
    detail: dict[str, Any] | None = None


class ReleaseOut(BaseModel):
    recipient: str
    content_mac: str  # a keyed digest of the result (the escrow's secret), not its sha256


class GraphOut(BaseModel):
    contract: str
    name: str
    dot: str  # Graphviz DOT: the contract's inputs, their owners, what it keeps, its recipients


class AttemptOut(BaseModel):
    attempt: int
    proposer: str
    proposed: float | None = None
    outcome: str | None = None  # how the attempt ended; the current one's is the contract's status


class StatusOut(BaseModel):
    id: str
    name: str
    status: str
    proposer: str
    source_agents: list[str]
    recipients: list[str]
    kept_as: str | None = None
    approvals: list[ApprovalOut]
    missing_approvals: list[str]
    rejections: list[RejectionOut]
    executions: list[ExecutionRecordOut]
    releases: list[ReleaseOut]
    attempt: int = 1  # the current attempt (a contract that ended without a release may be proposed again)
    attempts: list[AttemptOut] = []  # oldest first


class ReportOut(BaseModel):
    contract: str
    name: str
    status: str
    conditions: list[dict[str, Any]]
    reads: list[str]
    releases: list[dict[str, Any]]
    kept: str | None = None
    kind: str | None = None
    error: str | None = None
    blocked: str | None = None  # what a short-circuit refused, in fixed words (never a key)
    seconds: float


class PolicyDecisionOut(BaseModel):
    contract: str
    name: str
    owner: str
    effect: str | None = None
    rule: str | None = None


class PolicyAppliedOut(BaseModel):
    owner: str
    rules: list[str]
    decisions: list[PolicyDecisionOut]
    superseded: bool = Field(False, description="a newer policy of the owner's was applied before this one reached "
                                                "every open contract: it decided the rest")


class PolicyOut(BaseModel):
    owner: str
    rules: list[str]
    updated: float


class AuditEntryOut(BaseModel):
    seq: int
    ts: float
    kind: str
    actor: str | None = None
    contract: str | None = None
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str
