"""`dsc policy apply FILE --as OWNER` / `dsc policy show [OWNER]`: standing policies.

A policy names functions by identity: `apply` sends the file with the modules it `use`s, the
escrow resolves every function a rule names in it, and both commands show what each name was
resolved to (origin, module, sha256 prefix)."""

from __future__ import annotations

from . import common as cs


def identity_lines(rule) -> list[str]:
    """One line per function a `contracts.policy.PolicyRule` names: the identity it matches."""
    out = []
    if rule.function is not None:
        out.append(f"{rule.function.name}: {_identity(rule.function)}")
    elif not rule.rule.function.is_wildcard:
        out.append(f"{rule.rule.function.value}: not resolved (matches nothing; apply the policy again)")
    out += [f"except {f.name}: {_identity(f)}" for f in rule.excepted]
    return out


def _identity(f) -> str:
    where = f" {f.module}" if f.module else ""
    return f"{f.origin}{where} sha256 {f.sha256[:16]}…"


def register(sub) -> None:
    p = sub.add_parser("policy", help="register standing policies that approve or block contracts automatically")
    psub = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    a = psub.add_parser("apply", help="register --as's policy blocks from FILE and apply them to open contracts",
                        description="Register the `policy` blocks of --as found in FILE (replacing their earlier "
                                    "policy), then apply them to every pending contract that uses their data. FILE "
                                    "travels with the modules it `use`s: every function a rule names is resolved in "
                                    "FILE (a built-in, or a function of one of those modules) and recorded with its "
                                    "identity, so that the rule matches only that function.")
    a.add_argument("file", metavar="FILE")
    cs.add_as(a)
    cs.add_config(a)
    a.set_defaults(func=_apply)
    s = psub.add_parser("show", help="show registered policies")
    s.add_argument("owner", nargs="?", metavar="OWNER")
    cs.add_format(s)
    cs.add_as(s, required=False)
    cs.add_config(s)
    s.set_defaults(func=_show)


def _apply(args) -> int:
    from datastation.contracts.loading import load_checked, policy_file
    from datastation.runtime.escrow import POLICY_APPLY, policy_params

    loaded = load_checked(args.file)
    _, errors = policy_file(loaded)
    if errors:  # an unreadable file (DSC005) or one the escrow would refuse: shown like `dsc check` does
        cs.print_diagnostics(loaded, errors=errors)
        return cs.ExitCode.ERRORS
    try:
        with cs.escrow_from(args) as escrow:
            res = escrow.apply_policy(escrow.sign_as(args.agent, POLICY_APPLY, policy_params(args.file),
                                                     args.passphrase_env))
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"registered the policy of {res.owner} ({len(res.rules)} rule{'s' if len(res.rules) != 1 else ''}):")
    for r in res.rules:
        if isinstance(r, str):  # a served escrow's answer: each rule as its line and text
            print(f"  {cs.safe_text(r)}")
            continue
        print(f"  {r.where()}: {r.text()}")
        for line in identity_lines(r):
            print(f"      {line}")
    for cid, name, d in res.decisions:
        print(f"  contract {name} ({cid[:12]}): {cs.describe_decision(d)}")
    if res.superseded:
        print(f"  a newer policy of {res.owner} was applied meanwhile: it decided the contracts not listed here")
    return 0


def _show(args) -> int:
    from datastation.runtime.escrow.lifecycle import rules_from_row

    try:
        with cs.escrow_from(args) as escrow:
            if cs.is_remote(escrow):
                return _show_remote(args, escrow.policies(args.owner))
            rows = [escrow.store.get_policy(args.owner)] if args.owner else escrow.store.list_policies()
    except cs.user_errors() as exc:
        return cs.fail(exc)
    rows = [r for r in rows if r is not None]
    if args.format == "json":
        cs.print_json([{"owner": r.owner, "rules": [x.to_json() for x in rules_from_row(r)]} for r in rows])
        return 0
    if not rows:
        print("no policies")
    for r in rows:
        print(f"policy {r.owner}:")
        for x in rules_from_row(r):
            print(f"  {x.where()}: {x.text()}")
            for line in identity_lines(x):
                print(f"      {line}")
    return 0


def _show_remote(args, rows) -> int:
    """A served escrow's answer: the agent's own policy, each rule as its line and text."""
    if args.format == "json":
        cs.print_json(rows)
        return 0
    if not rows:
        print("no policies")
    for r in rows:
        print(cs.safe_text(f"policy {r['owner']}:"))
        for line in r["rules"]:
            print(f"  {cs.safe_text(line)}")
    return 0
