"""What an agent may read, for an escrow that answers parties it does not otherwise trust (the
server): every read is a signed request (its own nonce and timestamp, verified and spent in one
transaction like any action, a refusal audited), and answers only what the agent is party to.

- contracts: those it proposes, contributes data to (a source agent) or receives;
- data elements: its own, and kept results derived from its data;
- audit entries: about those contracts, and entries about the agent itself;
- a released result: only to a recipient, the file of its own release.

    rows = contracts_for(ctx, request)                 # request: signed `read.contracts`
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from datastation.contracts.provenance import owner_of

from ..store import MAX_SEQ, AuditEntry, ContractRow, DataRow, PolicyRow, ReleaseRow
from .actions import (
    READ_AUDIT, READ_CONTRACTS, READ_DATA, READ_GRAPH, READ_POLICY, READ_RESULT, READ_STATUS, READ_SUMMARY,
)
from .context import EscrowContext, EscrowRefusal, data_about, release_about, signed_action
from .lifecycle import Status, not_yours, pending_for, status

MAX_AUDIT_PAGE = 5000
MAX_CONTRACT_PAGE = 1000


def is_party(row: ContractRow, agent: str) -> bool:
    return agent in row.parties


def visible_contract(ctx: EscrowContext, agent: str, text) -> ContractRow:
    """The contract `text` names (a full id, or a prefix of at least 4 characters matched among
    the agent's own contracts only), if `agent` is party to it: another agent's contract is
    refused exactly as an id nothing has (`lifecycle.not_yours`)."""
    if not isinstance(text, str) or not text:
        raise EscrowRefusal("bad_request", "name a contract by its id (or a prefix of it)")
    row = ctx.store.get_contract(text)
    if row is not None and is_party(row, agent):
        return row
    found = [r for r in (ctx.store.find_contracts(text) if row is None and len(text) >= 4 else [])
             if is_party(r, agent)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise not_yours(text, agent)
    raise EscrowRefusal("ambiguous_id", f"{len(found)} of your contracts start with {text!r}: give more characters")


def _read(ctx: EscrowContext, request, action: str, body):
    cid = request.params.get("contract")
    return signed_action(ctx, request, action, body, contract=cid if isinstance(cid, str) else None)


def contracts_for(ctx: EscrowContext, request) -> list[ContractRow]:
    """params: `status` (optional), `pending` (true: only those waiting for the agent's approval),
    `limit` (1 to `MAX_CONTRACT_PAGE`, the default), `after` (the id of the last contract of the
    previous page). One page, in creation order: the work of one request (in the transaction
    that holds the store's write lock) does not grow with the agent's contracts."""
    p = request.params

    def body(agent: str) -> list[ContractRow]:
        wanted = p.get("status")
        if wanted is not None and not isinstance(wanted, str):
            raise EscrowRefusal("bad_request", "status must be a contract status (pending, approved, ...)")
        limit = p.get("limit", MAX_CONTRACT_PAGE)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CONTRACT_PAGE:
            raise EscrowRefusal("bad_request", f"limit must be an integer from 1 to {MAX_CONTRACT_PAGE}")
        pending = p.get("pending", False)
        if not isinstance(pending, bool):
            raise EscrowRefusal("bad_request", "pending must be true or false")
        after = None
        if p.get("after") is not None:
            # the cursor's place in the agent's own index (what the pages are read in the order of)
            after = ctx.store.party_place(agent, p["after"]) if isinstance(p["after"], str) else None
            if after is None:
                raise EscrowRefusal("bad_request", "after must be the id of the last contract of your previous page")
        if pending:
            return [r for r in pending_for(ctx, agent, after=after, limit=limit) if wanted is None or r.status == wanted]
        return ctx.store.contracts_of(agent, status=wanted, after=after, limit=limit)

    return _read(ctx, request, READ_CONTRACTS, body)


def waiting_for(ctx: EscrowContext, row: ContractRow) -> list[str]:
    """The source agents whose approval a pending contract still waits for."""
    if row.status != "pending":
        return []
    got = {a.agent for a in ctx.store.approvals(row.id)}
    return [a for a in row.source_agents if a not in got]


def status_for(ctx: EscrowContext, request) -> Status:
    """params: `contract` (id or prefix)."""
    return _read(ctx, request, READ_STATUS,
                 lambda agent: status(ctx, visible_contract(ctx, agent, request.params.get("contract")).id))


def summary_for(ctx: EscrowContext, request) -> dict:
    """params: `contract`. The owner's summary as the escrow stored it (what an approval signs)."""
    from .views import stored_summary

    return _read(ctx, request, READ_SUMMARY,
                 lambda agent: stored_summary(ctx, visible_contract(ctx, agent, request.params.get("contract"))))


def graph_for(ctx: EscrowContext, request) -> tuple[ContractRow, str]:
    """params: `contract`. The contract's dataflow graph as DOT (`views.stored_graph`)."""
    from .views import stored_graph

    def body(agent: str) -> tuple[ContractRow, str]:
        row = visible_contract(ctx, agent, request.params.get("contract"))
        return row, stored_graph(ctx, row)

    return _read(ctx, request, READ_GRAPH, body)


def data_view(ctx: EscrowContext, row: DataRow, viewer: str | None) -> dict:
    """What `viewer` (an authenticated agent, or None: nobody in particular) may see of a data
    element. Everyone: its name, owner, format, schemas, provenance and `digest` (keyed, see
    `EscrowContext.mac`: equal contents give equal digests, but no guess can be tested against
    it). Only the owner of a data element it added: the plaintext `content_hash` (sha256) and the
    `size` of its own file. A kept result is nobody's plaintext (it never left the escrow), and
    its size is chosen by the code that computed it: neither is shown to anyone."""
    own = viewer is not None and row.owner == viewer and not row.derived
    return {"key": row.key, "owner": row.owner, "format": row.format,
            "content_hash": row.content_hash if own else None, "digest": ctx.mac(row.content_hash, about=data_about(row.key)),
            "size": row.size if own else None, "inferred_schema": row.inferred_schema,
            "declared_schema": row.declared_schema, "derived": bool(row.derived),
            "provenance": list(row.provenance or ()), "created": row.created}


def data_for(ctx: EscrowContext, request) -> list[dict]:
    """The agent's own data elements, and kept results computed from its data (`data_view`s)."""
    def body(agent: str) -> list[dict]:
        # its own rows through the owner index, then the kept results derived from its data (their
        # provenance decides: their owner is the escrow's `_derived`), not every data element
        rows = [d for d in ctx.store.list_data(owner=agent) if not d.derived]
        rows += [d for d in ctx.store.list_data(derived=True) if agent in {owner_of(k) for k in d.provenance}]
        return [data_view(ctx, d, agent) for d in sorted(rows, key=lambda d: d.key)]

    return _read(ctx, request, READ_DATA, body)


def data_views(ctx: EscrowContext, viewer_request=None) -> list[dict]:
    """Every data element of the escrow as `data_view`s, for the escrow's own machine (`dsc data
    list`): seen by nobody in particular, or, given a signed `read.data` request, by its agent."""
    viewer = None
    if viewer_request is not None:
        viewer = _read(ctx, viewer_request, READ_DATA, lambda agent: agent)
    return [data_view(ctx, d, viewer) for d in ctx.store.list_data()]


def policy_for(ctx: EscrowContext, request) -> PolicyRow | None:
    """The agent's own registered policy (None when it registered none)."""
    return _read(ctx, request, READ_POLICY, lambda agent: ctx.store.get_policy(agent))


def audit_for(ctx: EscrowContext, request) -> list[AuditEntry]:
    """params: `contract` (optional id or prefix), `after` (sequence number), `limit`. Entries about
    the agent's contracts, and entries by or about the agent that concern no contract."""
    p = request.params

    def body(agent: str) -> list[AuditEntry]:
        after, limit = p.get("after", 0), p.get("limit", 1000)
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_SEQ:
            raise EscrowRefusal("bad_request", f"after must be a sequence number (an integer from 0 to {MAX_SEQ})")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT_PAGE:
            raise EscrowRefusal("bad_request", f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}")
        if p.get("contract") is None:
            return ctx.store.audit_about(agent, after_seq=after, limit=limit)
        cid = visible_contract(ctx, agent, p["contract"]).id
        return list(itertools.islice(ctx.store.audit_entries(contract=cid, after_seq=after), limit))

    return _read(ctx, request, READ_AUDIT, body)


@dataclass
class ResultFile:
    release: ReleaseRow
    path: Path
    sealed: bool
    name: str


def result_for(ctx: EscrowContext, request) -> ResultFile:
    """params: `contract`. The agent's released copy of the result (sealed for it under no_trust);
    the fetch is audited."""
    def body(agent: str) -> ResultFile:
        from .results import release_for, release_file  # one notion of "the result released to an agent"

        row = visible_contract(ctx, agent, request.params.get("contract"))
        rel = release_for(ctx, row.id, agent)
        path = release_file(ctx, rel)
        if not path.is_file():
            raise EscrowRefusal("no_release_file", f"the released file of contract {row.name} is no longer in "
                                                   f"the outbox")
        ctx.audit.append("result_fetch", actor=agent, contract=row.id,
                         payload={"recipient": agent, "file_mac": ctx.mac(rel.file_hash or rel.content_hash,
                                                      about=release_about(rel.contract_id, rel.recipient)),
                                  "execution": rel.execution_id})
        return ResultFile(rel, path, ctx.config.trust_mode == "no_trust", path.name)

    return _read(ctx, request, READ_RESULT, body)
