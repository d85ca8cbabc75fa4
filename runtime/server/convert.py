"""Escrow objects as the API's bodies (`models.py`)."""

from __future__ import annotations

from datastation.runtime.audit import entries_json
from datastation.runtime.keys import fingerprint

from . import models as m


def agent_out(row) -> m.AgentOut:
    return m.AgentOut(name=row.name, display=row.display or "", key_fingerprint=fingerprint(row.public_key))


def data_out(view: dict) -> m.DataOut:
    """A `reads.data_view` as the API's body."""
    return m.DataOut(**view)


def own_data_out(escrow, row) -> m.DataOut:
    """A data element its owner just added or removed, as the owner sees it."""
    from datastation.runtime.escrow.reads import data_view

    return data_out(data_view(escrow.ctx, row, row.owner))


def contract_out(ctx, row) -> m.ContractOut:
    from datastation.runtime.escrow.reads import waiting_for

    return m.ContractOut(id=row.id, name=row.name, status=row.status, proposer=row.proposer,
                         source_agents=list(row.source_agents), recipients=list(row.recipients),
                         waiting_for=waiting_for(ctx, row), kept_as=(row.meta or {}).get("kept_as"))


def proposal_out(ctx, proposal) -> m.ProposalOut:
    return m.ProposalOut(contract=contract_out(ctx, proposal.row),
                         decisions=[m.DecisionOut(owner=d.owner, effect=d.effect, rule=d.rule)
                                    for d in proposal.decisions])


def status_out(st) -> m.StatusOut:
    return m.StatusOut.model_validate(st.to_json())


def report_out(rep) -> m.ReportOut:
    return m.ReportOut.model_validate(rep.to_json(values=False))  # compared values may describe others' data


def policy_applied_out(res) -> m.PolicyAppliedOut:
    return m.PolicyAppliedOut(
        owner=res.owner, rules=[f"{r.where()}: {r.text()}" for r in res.rules],
        decisions=[m.PolicyDecisionOut(contract=cid, name=name, owner=d.owner, effect=d.effect, rule=d.rule)
                   for cid, name, d in res.decisions], superseded=res.superseded)


def policy_out(row) -> m.PolicyOut | None:
    from datastation.runtime.escrow.lifecycle import rules_from_row

    if row is None:
        return None
    return m.PolicyOut(owner=row.owner, rules=[f"{r.where()}: {r.text()}" for r in rules_from_row(row)],
                       updated=row.updated)


def audit_out(entries) -> list[m.AuditEntryOut]:
    out = []
    for e in entries_json(entries):
        if not isinstance(e["payload"], dict):  # a tampered entry: shown as it is, `dsc audit verify` flags it
            e["payload"] = {"unreadable": repr(e["payload"])[:200]}
        out.append(m.AuditEntryOut.model_validate(e))
    return out
