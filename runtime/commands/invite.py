"""`dsc invite AGENT`: on the escrow's machine, a one-time token with which AGENT registers its
own public key over HTTP (`Client.register(token)`); only its hash is kept."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("invite", help="invite an agent to register its key with a served escrow (one-time token)",
                       description="Issue a one-time token with which AGENT registers its public key with this "
                                   "escrow over HTTP. Give it to AGENT over a channel you trust; it expires "
                                   "(--ttl, default server.invite_ttl_seconds). The escrow keeps only its hash.")
    p.add_argument("agent", metavar="AGENT")
    p.add_argument("--ttl", type=float, default=None, metavar="SECONDS", help="how long the token stays valid")
    cs.add_format(p, ("human", "json", "token"))  # token: the token alone (for a script)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    try:
        config = cs.load_config_from(args)
        ttl = config.server.invite_ttl_seconds if args.ttl is None else args.ttl
        with cs.escrow_from(args) as escrow:
            token, expires = escrow.invite(args.agent, ttl)
            escrow_id = escrow.ctx.escrow_id
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "token":
        print(token)
        return 0
    if args.format == "json":
        cs.print_json({"agent": args.agent, "token": token, "expires": expires, "escrow_id": escrow_id})
        return 0
    print(f"invitation for {args.agent} (one-time, expires {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(expires))}):")
    print(f"  token:  {token}")
    print(f"  escrow: {escrow_id}")
    print(f"{args.agent} registers with: dsc agent create {args.agent} --invite TOKEN --escrow URL "
          f"(or Client(URL, {args.agent!r}).register(TOKEN))")
    return 0
