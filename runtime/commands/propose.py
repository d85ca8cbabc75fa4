"""`dsc propose FILE CONTRACT... --as AGENT`: check the file, then propose contracts to the escrow.

One contract is one `contract.propose` request; several (or `--all`: every contract of the file
that --as proposes) go in one `contract.propose_many` request, all or nothing."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("propose", help="propose contracts to the escrow (checks the file first)",
                       description="Check FILE; if it has no errors, propose CONTRACT (several: in one request, all "
                                   "or nothing; --all: every contract of FILE whose `by` is --as) to the escrow, "
                                   "signed by --as (the contracts' `by` agent). Standing policies are applied at once.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("contract", metavar="CONTRACT", nargs="*", help="the contracts to propose (or --all)")
    p.add_argument("--all", action="store_true", help="propose every contract of FILE that --as proposes")
    cs.add_as(p)
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.contracts.identity import identity
    from datastation.contracts.loading import load_checked
    from datastation.runtime.escrow import PROPOSE, PROPOSE_MANY, make_bundle, propose_many_params, propose_params
    from datastation.runtime.escrow.lifecycle import MAX_BATCH

    if bool(args.contract) == bool(args.all):
        return cs.fail("name the contracts to propose, or pass --all (not both)", cs.ExitCode.USAGE)
    loaded = load_checked(args.file)
    if loaded.result.errors:  # every error `dsc check` reports refuses, a denied contract (DSC060) too
        cs.print_check_refusal(loaded.result, "nothing was proposed")
        return cs.ExitCode.ERRORS
    contracts = loaded.scenario.contracts
    names = list(dict.fromkeys(args.contract)) if args.contract else \
        [n for n, c in contracts.items() if c.by is not None and c.by.name == args.agent]
    unknown = [n for n in names if n not in contracts]
    if unknown or not names:
        what = f"no contract '{unknown[0]}' in {args.file}" if unknown else \
            f"no contract in {args.file} is proposed by {args.agent}"
        return cs.fail(f"{what} (contracts: {', '.join(sorted(contracts)) or 'none'})")
    if len(names) > MAX_BATCH:
        return cs.fail(f"{len(names)} contracts: at most {MAX_BATCH} in one proposal (all or nothing)",
                       cs.ExitCode.USAGE)
    try:
        idents = {n: identity(loaded.scenario, n).sha256 for n in names}
        with cs.escrow_from(args) as escrow:
            bundle = make_bundle(args.file)
            if len(names) == 1:
                req = escrow.sign_as(args.agent, PROPOSE, propose_params(bundle, names[0], idents[names[0]]),
                                     args.passphrase_env)
                proposals = [escrow.propose(req)]
            else:
                req = escrow.sign_as(args.agent, PROPOSE_MANY, propose_many_params(bundle, names, idents),
                                     args.passphrase_env)
                proposals = escrow.propose_many(req)
            rows = [p.row for p in proposals]  # as the standing policies left them
    except cs.user_errors() as exc:
        return cs.fail(exc)
    denied = [r for r in rows if r.status == "denied"]
    code = cs.ExitCode.DENIED if denied else cs.ExitCode.OK
    if args.format == "json":
        out = [{"id": r.id, "name": r.name, "status": r.status, "source_agents": list(r.source_agents),
                "decisions": [d.__dict__ for d in p.decisions]} for r, p in zip(rows, proposals)]
        cs.print_json(out[0] if len(names) == 1 and args.contract else out)
        return code
    for row, proposal in zip(rows, proposals):
        print(f"proposed contract {row.name}: id {row.id}")
        print(f"  must be approved by: {', '.join(row.source_agents) or 'nobody'}")
        for d in proposal.decisions:
            print(f"  {cs.describe_decision(d)}")
        print(f"  status: {row.status}")
    if denied:
        return cs.fail(f"denied by a standing policy: {', '.join(r.name for r in denied)} can never run as proposed "
                       f"(change the contract or the policy, and propose again)", code)
    return code
