"""`dsc propose FILE CONTRACT --as AGENT`: check the file, then propose one contract to the escrow."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("propose", help="propose a contract to the escrow (checks the file first)",
                       description="Check FILE; if it has no errors, propose CONTRACT to the escrow, signed by "
                                   "--as (the contract's `by` agent). Standing policies are applied at once.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("contract", metavar="CONTRACT")
    cs.add_as(p)
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.contracts.identity import identity
    from datastation.contracts.loading import load_checked
    from datastation.runtime.escrow import PROPOSE, make_bundle, propose_params

    loaded = load_checked(args.file)
    if loaded.result.errors:  # every error `dsc check` reports refuses, a denied contract (DSC060) too
        cs.print_check_refusal(loaded.result, "nothing was proposed")
        return cs.ExitCode.ERRORS
    if args.contract not in loaded.scenario.contracts:
        return cs.fail(f"no contract '{args.contract}' in {args.file} "
                       f"(contracts: {', '.join(sorted(loaded.scenario.contracts)) or 'none'})")
    try:
        ident = identity(loaded.scenario, args.contract)
        with cs.escrow_from(args) as escrow:
            req = escrow.sign_as(args.agent, PROPOSE, propose_params(make_bundle(args.file), args.contract, ident.sha256),
                                 args.passphrase_env)
            proposal = escrow.propose(req)
            row = escrow.store.get_contract(proposal.row.id)  # as the standing policies left it
    except cs.user_errors() as exc:
        return cs.fail(exc)
    code = cs.ExitCode.DENIED if row.status == "denied" else cs.ExitCode.OK
    if args.format == "json":
        cs.print_json({"id": row.id, "name": row.name, "status": row.status, "source_agents": list(row.source_agents),
                       "decisions": [d.__dict__ for d in proposal.decisions]})
        return code
    print(f"proposed contract {row.name}: id {row.id}")
    print(f"  must be approved by: {', '.join(row.source_agents) or 'nobody'}")
    for d in proposal.decisions:
        print(f"  {cs.describe_decision(d)}")
    print(f"  status: {row.status}")
    if code == cs.ExitCode.DENIED:
        return cs.fail(f"contract {row.name} is denied by a standing policy: it can never run as it is "
                       f"(change it or the policy, and propose again)", code)
    return code
