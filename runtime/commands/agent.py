"""`dsc agent create|keygen|register|list`: the parties, each with its own Ed25519 key pair.

A party's private key lives in its own keyring (`$DSC_KEYRING`, else the config's
`keyring_path`, else `~/.config/datastation/keys`), never in the escrow; the escrow registers
the public key. `create` makes the key pair and registers it with a local escrow; `keygen`
makes it on the party's own machine (its `NAME.pub` goes to the escrow's operator), and
`register` records a public key made elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import common as cs


def _key_flags(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="protect the key with the passphrase held in environment variable VAR "
                        "(default: $DSC_PASSPHRASE_<NAME>, $DSC_PASSPHRASE, or a prompt on a terminal)")
    g.add_argument("--no-passphrase", action="store_true",
                   help="leave the private key unprotected (throwaway and development keys only)")


def register(sub) -> None:
    p = sub.add_parser("agent", help="create and list agents (parties with signing keys)",
                       description="Manage agents: each has an Ed25519 key pair in its own keyring; "
                                   "the escrow knows the public key only.")
    asub = p.add_subparsers(dest="agent_command", metavar="ACTION", required=True)

    c = asub.add_parser("create", help="make a key pair in your keyring and register the agent with the escrow",
                        description="Make an Ed25519 key pair in your keyring (private key mode 0600, protected "
                                    "by a passphrase unless --no-passphrase) and register the public key with "
                                    "the escrow. A key your keyring already holds for NAME is registered instead.")
    c.add_argument("name", metavar="NAME", help="agent name (letters, digits, _)")
    c.add_argument("--display", default="", metavar="TEXT", help="human name, e.g. \"First Bank\"")
    c.add_argument("--invite", metavar="TOKEN", default=None,
                   help="with a served escrow (--escrow https://HOST:PORT): the one-time token of `dsc invite NAME` "
                        "on the escrow's machine; the key pair is made here and only its public key is sent")
    _key_flags(c)
    cs.add_config(c)
    c.set_defaults(func=_create)

    k = asub.add_parser("keygen", help="make a key pair in your keyring only (register its NAME.pub elsewhere)",
                        description="Make an Ed25519 key pair in your keyring, without any escrow: NAME.pem "
                                    "(private, mode 0600) and NAME.pub (public). Give NAME.pub to the escrow's "
                                    "operator, who runs `dsc agent register NAME NAME.pub`.")
    k.add_argument("name", metavar="NAME", help="agent name (letters, digits, _)")
    _key_flags(k)
    cs.add_config(k)
    k.set_defaults(func=_keygen)

    r = asub.add_parser("register", help="register an agent whose key pair was made elsewhere",
                        description="Register an Ed25519 public key (PEM) for an agent; only the public key is "
                                    "kept. Without PUBKEY, NAME.pub from your keyring.")
    r.add_argument("name", metavar="NAME")
    r.add_argument("public_key", metavar="PUBKEY.pem", nargs="?", default=None, help="public key file (PEM)")
    r.add_argument("--display", default="", metavar="TEXT")
    cs.add_config(r)
    r.set_defaults(func=_register)

    ls = asub.add_parser("list", help="list registered agents")
    ls.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_config(ls)
    ls.set_defaults(func=_list)


def _keyring(args, *, escrow: bool = True):
    from datastation.runtime.discovery import remote_url
    from datastation.runtime.keyring import Keyring, keyring_path

    if remote_url(getattr(args, "escrow", None), getattr(args, "config", None)):
        return Keyring(keyring_path())  # this machine's own keyring

    return Keyring((cs.load_config_from(args) if escrow else cs.settings_from(args)).keyring_path)


def _create(args) -> int:
    from datastation.runtime.keyring import new_passphrase, passphrase_for
    from datastation.runtime.keys import check_name, fingerprint

    try:
        check_name(args.name)
        ring = _keyring(args)
        existed = ring.has(args.name)
        # asked before the escrow is touched: a refusal here leaves nothing behind
        if not existed:
            passphrase = new_passphrase(args.name, args.passphrase_env, no_passphrase=args.no_passphrase)
        else:
            passphrase = passphrase_for(args.name, args.passphrase_env) if args.passphrase_env else None
        with cs.escrow_from(args) as escrow:
            extra = {"invite": args.invite} if cs.is_remote(escrow) else {}
            row = escrow.create_agent(args.name, args.display, passphrase=passphrase, **extra)
            path = escrow.keyring.path_of(row.name)
        protected = b"ENCRYPTED" in path.read_bytes()[:64]
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"created agent {row.name}" + (f" ({cs.safe_text(row.display)})" if row.display else ""))
    print(f"  private key: {path} (mode 0600, " + ("passphrase-protected" if protected else
          "NOT passphrase-protected: a development key") + (", already in your keyring)" if existed else ")"))
    print(f"  public key registered with the escrow, fingerprint {fingerprint(row.public_key)}")
    return 0


def _keygen(args) -> int:
    from datastation.runtime.keyring import new_passphrase
    from datastation.runtime.keys import check_name, fingerprint, public_pem

    try:
        check_name(args.name)
        ring = _keyring(args, escrow=False)
        if ring.has(args.name):
            return cs.fail(f"{ring.path_of(args.name)} already exists: the keyring holds a key of {args.name} "
                           f"(never overwritten)")
        passphrase = new_passphrase(args.name, args.passphrase_env, no_passphrase=args.no_passphrase)
        key = ring.create(args.name, passphrase)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    pub = ring.public_path_of(args.name)
    print(f"made the key pair of {args.name} in {ring.path}")
    print(f"  private key: {ring.path_of(args.name)} (mode 0600, "
          + ("passphrase-protected)" if passphrase else "NOT passphrase-protected: a development key)"))
    print(f"  public key:  {pub}  fingerprint {fingerprint(public_pem(key))}")
    print(f"give {pub.name} to the escrow's operator, who runs: dsc agent register {args.name} {pub.name}")
    return 0


def _register(args) -> int:
    from datastation.runtime.keys import fingerprint

    try:
        if args.public_key is None:
            pem = _keyring(args).public_pem(args.name)
        else:
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
        with cs.escrow_from(args) as escrow:
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
        print(f"{a.name:<20} {fingerprint(a.public_key)}  {cs.safe_text(a.display)}")
    return 0
