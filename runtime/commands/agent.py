"""`dsc agent create NAME` / `dsc agent register NAME PUBKEY` / `dsc agent list`."""

from __future__ import annotations

import json
from pathlib import Path


from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("agent", help="create and list agents (parties with signing keys)",
                       description="Manage agents: each has an Ed25519 key pair; the escrow knows the public key.")
    asub = p.add_subparsers(dest="agent_command", metavar="ACTION", required=True)

    c = asub.add_parser("create", help="make a key pair and register the agent with the escrow",
                        description="Make an Ed25519 key pair: the private key goes to the keyring (mode 0600), "
                                    "the public key is registered with the escrow.")
    c.add_argument("name", metavar="NAME", help="agent name (letters, digits, _)")
    c.add_argument("--display", default="", metavar="TEXT", help="human name, e.g. \"First Bank\"")
    c.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="encrypt the private key with the passphrase held in environment variable VAR")
    cs.add_config(c)
    c.set_defaults(func=_create)

    r = asub.add_parser("register", help="register an agent whose key pair was made elsewhere",
                        description="Register an existing Ed25519 public key (PEM) for an agent.")
    r.add_argument("name", metavar="NAME")
    r.add_argument("public_key", metavar="PUBKEY.pem", help="public key file (PEM)")
    r.add_argument("--display", default="", metavar="TEXT")
    cs.add_config(r)
    r.set_defaults(func=_register)

    ls = asub.add_parser("list", help="list registered agents")
    ls.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_config(ls)
    ls.set_defaults(func=_list)



def _create(args) -> int:
    from datastation.runtime.keys import agent_key_path, fingerprint, passphrase_from_env

    try:
        passphrase = passphrase_from_env(args.passphrase_env) if args.passphrase_env else None
        with cs.escrow_from(args) as escrow:
            config = escrow.config
            row = escrow.create_agent(args.name, args.display, passphrase)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"created agent {row.name}" + (f" ({row.display})" if row.display else ""))
    print(f"  private key: {agent_key_path(config.keyring_path, row.name)} (mode 0600"
          + (", passphrase-protected)" if args.passphrase_env else ")"))
    print(f"  public key registered with the escrow, fingerprint {fingerprint(row.public_key)}")
    return 0


def _register(args) -> int:
    from datastation.runtime.keys import fingerprint

    try:
        try:
            pem = Path(args.public_key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return cs.fail(f"cannot read {args.public_key}: {getattr(exc, 'strerror', None) or exc}")
        with cs.escrow_from(args) as escrow:
            row = escrow.register_agent(args.name, pem, args.display)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"registered agent {row.name}, key fingerprint {fingerprint(row.public_key)}")
    return 0


def _list(args) -> int:
    from datastation.runtime.keys import fingerprint

    try:
        with cs.escrow_from(args, create=False) as escrow:
            agents = escrow.store.list_agents()
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "json":
        print(json.dumps([{"name": a.name, "display": a.display, "fingerprint": fingerprint(a.public_key),
                           "created": a.created} for a in agents], indent=2))
        return 0
    if not agents:
        print("no agents registered (create one with: dsc agent create NAME)")
    for a in agents:
        print(f"{a.name:<20} {fingerprint(a.public_key)}  {a.display}")
    return 0
