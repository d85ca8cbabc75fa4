"""The JSON routes: every escrow action and every read, each a signed request in the body.

Each route hands the request to the `Escrow` facade, which verifies it (signature, escrow id,
timestamp window, nonce) in the transaction of the action, and answers only what the agent may
see (`escrow/reads.py`). Blocking work runs in the thread pool; the server never holds a key.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from datastation.runtime.store import Busy

from . import convert
from . import models as m
from .errors import ERROR_RESPONSES
from .signed import signed_request
from .stages import NDJSON, execute_streamed, wants_stages

router = APIRouter(prefix="/v1")


@router.get("/escrow", response_model=m.EscrowInfo, responses=ERROR_RESPONSES, tags=["escrow"],
            summary="The escrow's id and public key (what every signed request names); unsigned")
async def escrow_info(request: Request) -> m.EscrowInfo:
    from datastation.runtime import __version__

    escrow = request.app.state.escrow
    cfg = escrow.config
    return m.EscrowInfo(escrow_id=escrow.ctx.escrow_id, public_key=escrow.ctx.escrow_public_pem,
                        trust_mode=cfg.trust_mode, version=__version__,
                        max_request_bytes=cfg.server.max_request_bytes, max_upload_bytes=cfg.server.max_upload_bytes,
                        request_window_seconds=cfg.request_window_seconds)


def _signed_route(path: str, name: str, summary: str, params: str, model, tag: str,
                  handle: Callable[[Any, Any], Any], *, stages: bool = False, short: bool = False) -> None:
    """A POST route of one signed action or read; with `stages`, an execution that answers as it
    goes when asked for `application/x-ndjson` (`stages.py`). A `short` one (a few statements on
    one contract's rows, nothing else) runs on the event loop: handing it to a worker thread and
    back made the interpreter switch threads at every statement (SQLite) or round trip
    (PostgreSQL), 0.6-1 ms of CPU per request under load, more than the action itself
    (bench/RESULTS.md, sessions 7 and 15). The loop waits for those few statements (on
    PostgreSQL, a signed approval's 3 round trips) but not long for a lock: the action runs there
    only if the store is free (`Escrow.without_waiting`: no other thread of this process in it,
    the write lock granted at once on SQLite, within 20 ms on PostgreSQL, where the other worker's
    approvals hold it), else it waits in a thread as any other (a request, signed or not, that met
    a long transaction of another process held the loop for up to the lock's 30 s timeout: red
    team session 15, H54)."""
    async def route(request: Request):
        req = await signed_request(request)
        escrow = request.app.state.escrow
        if stages and wants_stages(request):
            return await execute_streamed(request, escrow, req)
        if short:
            try:
                with escrow.without_waiting():
                    return handle(escrow, req)
            except Busy:
                pass  # nothing was done: the lock is another request's or process's
        return await run_in_threadpool(handle, escrow, req)

    responses = ERROR_RESPONSES
    if stages:
        responses = {**ERROR_RESPONSES, 200: {"description": "the report; with `Accept: application/x-ndjson`, one "
                                                             "JSON object per line: {stage}, ..., then {report} or {error}",
                                              "content": {NDJSON: {"schema": {"type": "string"}}}}}
    route.__name__ = name
    router.add_api_route(path, route, methods=["POST"], name=name, summary=summary, response_model=model,
                         responses=responses, openapi_extra=m.signed_body(params), tags=[tag])


def _contracts(escrow, rows):
    return [convert.contract_out(escrow.ctx, r) for r in rows]


def _graph(found) -> m.GraphOut:
    row, dot = found
    return m.GraphOut(contract=row.id, name=row.name, dot=dot)


# --------------------------------------------------------------------------- actions
_signed_route("/agents/register", "register", "Register the signing key with an invitation (`dsc invite`)",
              "action agent.register, signed by the key it registers; {token, public_key (PEM), display}",
              m.AgentOut, "agents", lambda e, r: convert.agent_out(e.register_invited(r)))
_signed_route("/data/remove", "remove_data", "Remove one of your data elements",
              "action data.remove; {key}", m.DataOut, "data", lambda e, r: convert.own_data_out(e, e.remove_data(r)))
_signed_route("/contracts/propose", "propose", "Propose a contract (its bundle: the .dsc text and its modules)",
              "action contract.propose; {bundle: {file, source, modules}, contract, identity}", m.ProposalOut,
              "contracts", lambda e, r: convert.proposal_out(e.ctx, e.propose(r)))
_signed_route("/contracts/approve", "approve", "Approve a contract (your signature over the escrow id and its identity)",
              "action contract.approve; {contract, signature}", m.ContractOut, "contracts",
              lambda e, r: convert.contract_out(e.ctx, e.approve(r)), short=True)
_signed_route("/contracts/propose_many", "propose_many",
              "Propose several contracts of one bundle in one request (all or nothing)",
              "action contract.propose_many; {bundle: {file, source, modules}, contracts: [{contract, identity}] "
              "(1-1000)}", list[m.ProposalOut], "contracts",
              lambda e, r: [convert.proposal_out(e.ctx, p) for p in e.propose_many(r)])
_signed_route("/contracts/approve_many", "approve_many",
              "Approve several contracts in one request (each its own signature; all or nothing)",
              "action contract.approve_many; {approvals: [{contract, signature}] (1-1000)}", list[m.ContractOut],
              "contracts", lambda e, r: _contracts(e, e.approve_many(r)))
_signed_route("/contracts/reject", "reject", "Reject a contract (one rejection blocks it)",
              "action contract.reject; {contract, reason}", m.ContractOut, "contracts",
              lambda e, r: convert.contract_out(e.ctx, e.reject(r)), short=True)
_signed_route("/contracts/revoke", "revoke", "Withdraw a contract (proposer) or your approval (approver)",
              "action contract.revoke; {contract}", m.ContractOut, "contracts",
              lambda e, r: convert.contract_out(e.ctx, e.revoke(r)), short=True)
_signed_route("/contracts/execute", "execute", "Execute an approved contract (a recipient); release to the recipients",
              "action contract.execute; {contract}", m.ReportOut, "contracts",
              lambda e, r: convert.report_out(e.execute(r)), stages=True)
_signed_route("/policies/apply", "apply_policy", "Register your standing policy (your blocks of a .dsc file)",
              "action policy.apply; {file, source, modules}", m.PolicyAppliedOut, "policies",
              lambda e, r: convert.policy_applied_out(e.apply_policy(r)))

# --------------------------------------------------------------------------- reads
_signed_route("/contracts/list", "contracts", "The contracts you propose, contribute data to or receive",
              "action read.contracts; {status (optional), pending (optional: only those awaiting you), "
              "limit (1-1000, the default), after (the id of the last contract of the previous page)}",
              list[m.ContractOut], "reads", lambda e, r: _contracts(e, e.contracts_for(r)))
_signed_route("/contracts/status", "status", "Where one of your contracts stands",
              "action read.status; {contract: id or prefix}", m.StatusOut, "reads",
              lambda e, r: convert.status_out(e.status_for(r)), short=True)
_signed_route("/contracts/summary", "summary", "The owner's summary of one of your contracts (what `dsc show` prints)",
              "action read.summary; {contract: id or prefix}", dict[str, Any], "reads",
              lambda e, r: e.summary_for(r))
_signed_route("/contracts/graph", "graph", "The dataflow graph of one of your contracts (Graphviz DOT)",
              "action read.graph; {contract: id or prefix}", m.GraphOut, "reads", lambda e, r: _graph(e.graph_for(r)))
_signed_route("/data/list", "data_list", "Your data elements (and kept results derived from them)",
              "action read.data; {}", list[m.DataOut], "reads",
              lambda e, r: [convert.data_out(d) for d in e.data_for(r)])
_signed_route("/policies/mine", "policy", "Your registered standing policy (null: none)",
              "action read.policy; {}", m.PolicyOut | None, "reads", lambda e, r: convert.policy_out(e.policy_for(r)))
_signed_route("/audit/entries", "audit", "Audit entries about your contracts and about you",
              "action read.audit; {contract (optional), after (sequence number), limit (1-5000)}",
              list[m.AuditEntryOut], "reads", lambda e, r: convert.audit_out(e.audit_for(r)))
