"""The owner's summary of a stored contract, as the escrow stored it (what `dsc show ID`,
`dsc approve` and a served escrow's summary read show, and what an approval signs), and its
dataflow graph (what the review page draws)."""

from __future__ import annotations

import copy

from ..store import ContractRow, StoreError
from .context import EscrowContext


def stored_summary(ctx: EscrowContext, row: ContractRow) -> dict:
    """The proposal as the escrow stored it, bound to its identity (recomputed; a changed record is
    refused, not shown), every input's provenance as the escrow's signed records give it, the
    policies registered in the escrow."""
    from datastation.contracts.summary import Records, summarize

    from .facts import contract_facts
    from .lifecycle import rules_from_row

    facts = contract_facts(ctx, row, need_data=False)  # EscrowRefusal unless it is what was proposed
    records = Records(
        source_data=facts.source_data,
        kept={k: (o.contract_name, o.sources) for k, o in facts.kept.items()},
        displays={a.name: a.display or None for a in ctx.store.list_agents()},
    )
    extra = []
    for owner in facts.source_agents:
        extra += rules_from_row(ctx.store.get_policy(owner))
    scenario = copy.copy(facts.scenario)  # the parsed bundle is shared (bundle.py): not changed here
    scenario.policies = {}  # policies registered in the escrow decide, not the ones written in the file
    s = summarize(scenario, facts.contract, extra_policies=extra, records=records)
    if s["identity"] != row.id:  # contract_facts recomputed it: only a bug gets here
        raise StoreError(f"contract {row.name}: the summary's identity is not the contract's")
    s["file"] = row.meta.get("file", s["file"])
    s["id"] = row.id
    s["status"] = row.status
    return s


def stored_graph(ctx: EscrowContext, row: ContractRow) -> str:
    """The dataflow graph (DOT) of the contract as the escrow stored it: its inputs and the data its
    conditions read, their owners, what it keeps and its recipients (the stored bundle's graph,
    cut to this contract; a changed record is refused, not drawn)."""
    from datastation.contracts.dataflow import build, neighbourhood, to_dot

    from .facts import contract_facts

    facts = contract_facts(ctx, row, need_data=False)
    g = neighbourhood(build(facts.scenario), row.name)
    displays = {a.name: a.display for a in ctx.store.list_agents()}
    for kind, name in g.nodes:
        if kind == "agent":  # the names the agents registered, not the ones the proposer wrote
            g.nodes[(kind, name)]["label"] = displays.get(name) or name
    return to_dot(g, row.name)
