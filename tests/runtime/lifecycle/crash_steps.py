"""Crash-harness plugin: lifecycle steps (propose, approve, policy apply, execute) and checks.

Loaded by crash_lifecycle.yaml through the STORE helper's harness (tests/runtime/crash).
Every step is idempotent: after a crash the scenario runs again from the interrupted step.
"""

import shutil
from collections import Counter
from pathlib import Path

from datastation.runtime.escrow import (
    APPROVE,
    EXECUTE,
    POLICY_APPLY,
    PROPOSE,
    Escrow,
    make_bundle,
    policy_params,
    propose_params,
)
from datastation.runtime.storage import sha256_hex
from datastation.runtime.escrow.data import add_data, data_add_params

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


def _dsc(work: Path) -> Path:
    dst = work / "bank"
    if not (dst / "bank.dsc").exists():
        tmp = work / "bank.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(FIXTURES, tmp)
        tmp.rename(dst)
    return dst / "bank.dsc"


def _by_name(ctx, name):
    rows = [c for c in ctx.store.list_contracts() if c.name == name]
    return rows[0] if rows else None


def _escrow(ctx):
    e = Escrow(ctx)
    return e


def register(h):
    @h.step("bank_data")
    def bank_data(ctx, args, work):
        dsc = _dsc(work)
        for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
            owner, name = key.split(".")
            contents = (dsc.parent / f"{owner}_{name}.csv").read_bytes()
            row = ctx.store.get_data(key)
            if row is not None and row.content_hash == sha256_hex(contents):
                continue
            add_data(ctx, Escrow(ctx).sign_as(owner, "data.add", data_add_params(key, "csv", contents)), contents)

    @h.step("propose")
    def propose(ctx, args, work):
        if _by_name(ctx, args["contract"]) is not None:
            return
        e = _escrow(ctx)
        e.propose(e.sign_as(args["as"], PROPOSE, propose_params(make_bundle(_dsc(work)), args["contract"])))

    @h.expect("propose")
    def propose_expect(ctx, args, work):
        row = _by_name(ctx, args["contract"])
        if row is None:
            return [f"proposal of {args['contract']} lost"]
        n = sum(1 for x in ctx.store.audit_entries(contract=row.id) if x.kind == "proposal")
        return [] if n == 1 else [f"{n} proposal entries for {args['contract']}"]

    @h.step("approve")
    def approve(ctx, args, work):
        row = _by_name(ctx, args["contract"])
        if any(a.agent == args["as"] for a in ctx.store.approvals(row.id)):
            return
        e = _escrow(ctx)
        e.approve(e.sign_as(args["as"], APPROVE, e.approval_params(args["as"], row.id)))

    @h.expect("approve", resource=lambda a: ("approval", a["contract"], a["as"]))
    def approve_expect(ctx, args, work):
        row = _by_name(ctx, args["contract"])
        if row is None or not any(a.agent == args["as"] for a in ctx.store.approvals(row.id)):
            return [f"approval of {args['contract']} by {args['as']} lost"]
        return []

    @h.step("policy_apply")
    def policy_apply(ctx, args, work):
        path = work / f"policy_{args['as']}.dsc"
        if not path.exists():
            path.write_text(args["text"])
        current = ctx.store.get_policy(args["as"])
        if current is not None and current.source == args["text"]:
            return
        e = _escrow(ctx)
        e.apply_policy(e.sign_as(args["as"], POLICY_APPLY, policy_params(path)))

    @h.expect("policy_apply", resource=lambda a: ("policy", a["as"]))
    def policy_expect(ctx, args, work):
        current = ctx.store.get_policy(args["as"])
        return [] if current is not None and current.source == args["text"] else [f"policy of {args['as']} lost"]

    @h.step("execute")
    def execute(ctx, args, work):
        row = _by_name(ctx, args["contract"])
        if row.status != "approved":
            return
        e = _escrow(ctx)
        e.execute(e.sign_as(args["as"], EXECUTE, {"contract": row.id}))

    @h.expect("execute")
    def execute_expect(ctx, args, work):
        row = _by_name(ctx, args["contract"])
        if row is None or row.status != "executed":
            return [f"execution of {args['contract']} lost ({row.status if row else 'no contract'})"]
        got = sorted(r.recipient for r in ctx.store.releases(contract_id=row.id))
        if got != sorted(row.recipients):
            return [f"{args['contract']} released to {got}, expected {sorted(row.recipients)}"]
        if row.meta.get("kept_as") and ctx.store.get_data(row.meta["kept_as"]) is None:
            return [f"kept result {row.meta['kept_as']} lost"]
        return []

    @h.check
    def releases_once(ctx):
        problems = []
        audited = Counter((x.contract, x.payload.get("recipient")) for x in ctx.store.audit_entries() if x.kind == "release")
        rows = Counter((r.contract_id, r.recipient) for r in ctx.store.releases())
        for k, n in audited.items():
            if n > 1:
                problems.append(f"released {n} times: {k}")
            if rows[k] != 1:
                problems.append(f"release audited but not recorded: {k}")
        for k in rows:
            if audited[k] != 1:
                problems.append(f"release recorded but audited {audited[k]} times: {k}")
        return problems

    @h.check
    def outbox_matches_releases(ctx):
        """Both or neither: a file in a recipient's outbox only with its recorded release, nothing
        staged or running left once the escrow was opened again (recovery ran)."""
        root = Path(ctx.config.outbox_path)
        files = {(p.parent.name, p.name) for p in root.glob("*/*") if p.is_file() and not p.parent.name.startswith(".")}
        recorded = {(Path(r.path).parent.name, Path(r.path).name) for r in ctx.store.releases()}
        problems = [f"{n} in {a}'s outbox without a recorded release" for a, n in sorted(files - recorded)]
        staged = root / ".pending"
        if staged.is_dir() and any(staged.iterdir()):
            problems.append(f"staged results left behind: {sorted(p.name for p in staged.iterdir())}")
        problems += [f"execution {e.id} still running after recovery" for e in ctx.store.executions(status="running")]
        return problems

    @h.check
    def approvals_match_audit(ctx):
        problems = []
        for c in ctx.store.list_contracts():
            hand = {x.payload.get("agent") for x in ctx.store.audit_entries(contract=c.id) if x.kind == "approval"}
            auto = {x.payload.get("agent") for x in ctx.store.audit_entries(contract=c.id)
                    if x.kind == "policy_decision" and x.payload.get("effect") == "allow"}
            for a in ctx.store.approvals(c.id):
                if a.agent not in (auto if a.via_policy else hand):
                    problems.append(f"approval of {c.name} by {a.agent} has no audit entry")
            rows = {a.agent for a in ctx.store.approvals(c.id) if not a.via_policy}
            for agent in hand - rows:
                problems.append(f"approval of {c.name} by {agent} audited but lost")
        return problems

    @h.check
    def statuses_consistent(ctx):
        problems = []
        for c in ctx.store.list_contracts():
            approved = {a.agent for a in ctx.store.approvals(c.id)}
            if c.status in ("approved", "executed") and not set(c.source_agents) <= approved:
                problems.append(f"{c.name} is {c.status} without every approval")
            if c.status == "pending" and c.source_agents and set(c.source_agents) <= approved:
                problems.append(f"{c.name} is pending with every approval")
            released = {r.recipient for r in ctx.store.releases(contract_id=c.id)}
            if c.status == "executed" and released != set(c.recipients):
                problems.append(f"{c.name} executed but released to {sorted(released)}")
            if c.status != "executed" and released:
                problems.append(f"{c.name} is {c.status} but released to {sorted(released)}")
        return problems
