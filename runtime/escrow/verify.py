"""The store half of `dsc audit verify`: every row has its signed audit entry, and vice versa.

`audit.verify_log` proves the log is whole and the escrow's own; this module replays it and
compares what it says with the database, so that an edit of a row (not only of the log) is
detected: agents and their keys, data elements (originals and kept results), contracts (each
row against its signed proposal entry, its status against the events that moved it, and
every contract that may still run re-derived as execution would, `facts.py`), approvals,
releases, and every released file in an outbox against its recorded hash.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from datastation.contracts.status import MAY_RUN, OPEN, ContractStatus

from ..audit import public_key_sha256
from ..keys import KeysError, fingerprint
from .context import EscrowRefusal, data_about, release_about
from .facts import DATA_KINDS, DERIVED_OWNER, bound_policy, contract_facts
from .lifecycle import attempt_of, bundle_sha256
from .recovery import INTERRUPTED

S = ContractStatus


@dataclass
class StoreReport:
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            what = ", ".join(f"{n} {k}" for k, n in self.counts.items())
            return f"store OK: every row matches the log ({what}), every released file its hash"
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        return "store does NOT match the audit log:\n" + "\n".join(f"  - {p}" for p in self.problems[:20]) + more


def verify_store(ctx) -> StoreReport:
    """Compare the store with the (already verified) audit log, both read as one state (a live
    escrow commits meanwhile)."""
    with ctx.store.snapshot():
        entries = [e for e in ctx.store.audit_entries() if isinstance(e.payload, dict)]
        by_kind = defaultdict(list)
        for e in entries:
            by_kind[e.kind].append(e)
        report = StoreReport()
        _agents(ctx, by_kind, report)
        _data(ctx, by_kind, report)
        _policies(ctx, by_kind, report)
        _contracts(ctx, entries, by_kind, report)
        _releases(ctx, by_kind, report)
    return report


# ------------------------------------------------------------------ agents and data


def _agents(ctx, by_kind, report: StoreReport) -> None:
    logged = {}
    for e in by_kind["agent_created"]:
        name = e.payload.get("agent")
        if name in logged:
            report.problems.append(f"agent {name} was created twice in the log")
        logged[name] = e.payload
    rows = {a.name: a for a in ctx.store.list_agents()}
    report.counts["agents"] = len(rows)
    for name, a in rows.items():
        p = logged.get(name)
        if p is None:
            report.problems.append(f"agent {name} has no agent_created entry")
            continue
        try:
            same = p.get("key") == fingerprint(a.public_key)
        except KeysError:
            same = False
        if not same or ("public_key_sha256" in p and p["public_key_sha256"] != public_key_sha256(a.public_key)):
            report.problems.append(f"agent {name}'s registered key is not the one the log records")
    for name in sorted(set(logged) - set(rows)):
        report.problems.append(f"agent {name} was created (log) but is not registered")


def _data(ctx, by_kind, report: StoreReport) -> None:
    last = {}
    for kind in DATA_KINDS:
        for e in by_kind[kind]:
            last.setdefault(e.payload.get("key"), []).append(e)
    last = {k: max(v, key=lambda e: e.seq) for k, v in last.items()}
    kept = {e.payload.get("name"): e for e in by_kind["kept"]}
    rows = {d.key: d for d in ctx.store.list_data()}
    report.counts["data elements"] = len(rows)
    for key, d in rows.items():
        if d.derived:
            e = kept.get(key)
            if e is None or d.owner != DERIVED_OWNER:
                report.problems.append(f"kept result {key} has no kept entry")
            elif (not ctx.mac_matches(e.payload, "content", d.content_hash, about=data_about(key))
                  or sorted(e.payload.get("provenance") or []) != sorted(d.provenance)):
                report.problems.append(f"kept result {key} differs from its kept entry (contents or provenance)")
            continue
        e = last.get(key)
        if e is None or e.kind == "data_remove":
            report.problems.append(f"data element {key} is stored but its last entry is {e.kind if e else 'missing'}")
        elif (e.payload.get("owner"), e.payload.get("format")) != (d.owner, d.format) or not ctx.mac_matches(
                e.payload, "content", d.content_hash, about=data_about(key)):
            report.problems.append(f"data element {key} differs from its {e.kind} entry (owner, contents or format)")
    for key, e in last.items():
        if e.kind != "data_remove" and key not in rows:
            report.problems.append(f"data element {key} was added (log) but is not stored")
    for name, e in kept.items():
        k = ctx.store.get_kept(name)
        if name not in rows or k is None or k.contract_id != e.contract:
            report.problems.append(f"kept result {name} was kept by contract {str(e.contract)[:12]} (log) but its "
                                   f"records are missing or name another contract")


def _policies(ctx, by_kind, report: StoreReport) -> None:
    owners = {p.owner for p in ctx.store.list_policies()} | {e.payload.get("owner") for e in by_kind["policy_apply"]}
    report.counts["policies"] = len(ctx.store.list_policies())
    for owner in sorted(o for o in owners if isinstance(o, str)):
        if bound_policy(ctx, owner) is None:
            report.problems.append(f"the standing policy of {owner} is not the one its last policy_apply entry records")


# ------------------------------------------------------------------ contracts and approvals


def _canonical_problems(row) -> list[str]:
    if hashlib.sha256(str(row.canonical).encode("utf-8")).hexdigest() != row.id:
        return ["its canonical form does not hash to its id"]
    try:
        form = json.loads(row.canonical)["contract"]
        named = (form["name"], form["by"], sorted(form["to"]))
    except (ValueError, KeyError, TypeError):
        return ["its canonical form is unreadable"]
    if named != (row.name, row.proposer, sorted(row.recipients)):
        return ["its name, proposer or recipients differ from its canonical form"]
    return []


def _record_problems(row, p: dict) -> list[str]:
    """Differences between a contract row and its signed proposal entry."""
    meta = row.meta if isinstance(row.meta, dict) else {}
    want = {"name": row.name, "proposer": row.proposer, "source_agents": list(row.source_agents),
            "recipients": list(row.recipients), "inputs": list(row.inputs), "functions": dict(row.function_hashes),
            "source_data": list(meta.get("source_data") or []), "call_inputs": list(meta.get("call_inputs") or []),
            "kept_as": meta.get("kept_as"), "function": meta.get("function") or "",
            "bundle_sha256": bundle_sha256(row)}
    problems = [f"its {k} differs from its proposal entry" for k, v in want.items() if k in p and p[k] != v]
    # what execution loads each function by must name the closures the entry records
    recorded = meta.get("functions") if isinstance(meta.get("functions"), dict) else {}
    loaded = {n: e.get("sha256") if isinstance(e, dict) else None for n, e in recorded.items()}
    if "functions" in p and loaded != p["functions"]:
        problems.append("its recorded functions (meta.functions) differ from its proposal entry")
    return problems


class _Replay:
    """A contract's status and approvals as the log tells them."""

    def __init__(self, proposal):
        self.required = set(proposal.payload.get("source_agents") or [])
        self.status = S.PENDING if self.required else S.APPROVED
        self.approvals: dict[str, str | None] = {}  # agent -> hand signature (None: by policy)
        self.attempt = 1

    def refresh(self) -> None:
        if self.status in OPEN:
            self.status = S.APPROVED if self.required <= set(self.approvals) else S.PENDING

    def apply(self, e) -> None:
        p, kind = e.payload, e.kind
        if kind == "approval":
            self.approvals[p.get("agent")] = p.get("signature")
        elif kind == "policy_decision":
            if p.get("effect") == "allow":
                self.approvals[p.get("agent")] = None
            elif p.get("effect") == "deny":
                self.status = S.DENIED
            elif p.get("effect") == "withdrawn":
                self.approvals.pop(p.get("agent"), None)
        elif kind == "rejection":
            self.status = S.REJECTED
        elif kind == "revocation":
            if p.get("what") == "contract":
                self.status = S.REVOKED
            else:
                self.approvals.pop(p.get("agent"), None)
        elif kind == "execution":
            self.status = S.RUNNING if p.get("phase") == "start" else p.get("status")
            if self.status == INTERRUPTED:  # stopped by the escrow's operator: the claim is released
                self.status = S.APPROVED
        elif kind == "recovery" and self.status == S.RUNNING:
            self.status = S.APPROVED
        elif kind == "reproposal":  # a new attempt (lifecycle._new_attempt)
            self.attempt += 1
            self.status = S.PENDING
            for agent in p.get("dropped") or []:
                self.approvals.pop(agent, None)
        self.refresh()


def _contracts(ctx, entries, by_kind, report: StoreReport) -> None:
    proposals = defaultdict(list)
    for e in by_kind["proposal"]:
        proposals[e.contract].append(e)
    replays = {cid: _Replay(es[0]) for cid, es in proposals.items()}
    for e in entries:
        if e.contract in replays and e.kind != "proposal":
            replays[e.contract].apply(e)
    rows = {c.id: c for c in ctx.store.list_contracts()}
    report.counts["contracts"] = len(rows)
    for cid, row in rows.items():
        problems = _canonical_problems(row)
        found = proposals.get(cid, [])
        if len(found) != 1:
            problems.append(f"it has {len(found)} proposal entries")
        else:
            problems += _record_problems(row, found[0].payload)
            problems += _approval_problems(ctx, row, replays[cid])
        if not problems and row.status in MAY_RUN:
            try:  # what execution will derive: the stored proposal, its inputs bound to the log
                contract_facts(ctx, row, need_data=False)
            except EscrowRefusal as exc:
                problems.append(str(exc))
        report.problems += [f"contract {row.name} ({cid[:12]}): {p}" for p in problems]
    for cid in sorted(set(proposals) - set(rows)):
        report.problems.append(f"contract {cid[:12]} was proposed (log) but is not stored")


def _approval_problems(ctx, row, replay: _Replay) -> list[str]:
    problems = []
    if row.status != replay.status:
        problems.append(f"its status is {row.status} but the log says {replay.status}")
    if attempt_of(row) != replay.attempt:
        problems.append(f"it is at attempt {attempt_of(row)} but the log says {replay.attempt}")
    rows = {a.agent: a for a in ctx.store.approvals(row.id)}
    for agent, a in rows.items():
        if agent not in replay.approvals:
            problems.append(f"the approval of {agent} has no audit entry")
        elif (a.via_policy is None) != (replay.approvals[agent] is not None) or (
                a.via_policy is None and a.signature != replay.approvals[agent]):
            problems.append(f"the approval of {agent} differs from its audit entry")
    for agent in sorted(set(replay.approvals) - set(rows)):
        problems.append(f"the approval of {agent} (log) is missing")
    return problems


# ------------------------------------------------------------------ releases


def _releases(ctx, by_kind, report: StoreReport) -> None:
    logged = {(e.contract, e.payload.get("recipient")): e for e in by_kind["release"]}
    rows = {(r.contract_id, r.recipient): r for r in ctx.store.releases()}
    report.counts["releases"] = len(rows)
    for key, r in rows.items():
        e = logged.get(key)
        where = f"release of {r.contract_id[:12]} to {r.recipient}"
        if e is None:
            report.problems.append(f"{where} has no release entry")
            continue
        p = e.payload
        about = release_about(r.contract_id, r.recipient)
        if p.get("path") != r.path or not ctx.mac_matches(p, "content", r.content_hash, about=about) or (
                "file_hash" in p and p["file_hash"] != r.file_hash) or (
                "file_mac" in p and not ctx.mac_equal(p["file_mac"], r.file_hash, about=about)):
            report.problems.append(f"{where} differs from its release entry")
        path, want = Path(r.path), r.file_hash or r.content_hash
        if not path.is_file():
            report.problems.append(f"{where}: the released file {path} is missing")
        elif _file_sha256(path) != want:
            report.problems.append(f"{where}: the released file {path} is not what was released (hash differs)")
    for key in sorted(set(logged) - set(rows), key=str):
        report.problems.append(f"release of {str(key[0])[:12]} to {key[1]} (log) is not recorded")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
