"""`dsc init [DIR]`: create an escrow, explicitly.

Every other command finds the escrow the way git finds a repository (walking up from the
current directory), or from `--escrow DIR` / `$DSC_ESCROW`; only `dsc init` creates one. In
DIR (default: the current directory) it creates the escrow that DIR's
`data_station_config.yaml` names (or `--config`'s), else `DIR/.dsc-escrow` with the defaults.
Under no_trust the key-encryption key is checked before anything is created.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("init", help="create an escrow in a directory (the other commands find it from there and below)",
                       description=__doc__.split("\n\n", 1)[1].strip(),
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("dir", nargs="?", metavar="DIR", help="the directory to share (default: the current directory)")
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.runtime.discovery import for_init
    from datastation.runtime.escrow import Escrow, open_escrow
    from datastation.runtime.storage import codec_for

    directory = args.dir
    given = getattr(args, "escrow", None)
    if given is not None:
        if directory is not None and Path(directory).absolute() != Path(given).absolute():
            return cs.fail(f"give the directory once: dsc init {directory} (--escrow {given} names another)",
                           cs.ExitCode.USAGE)
        directory = given
    if directory is not None and args.config is not None:
        return cs.fail("give DIR or --config PATH, not both", cs.ExitCode.USAGE)
    try:
        config = for_init(directory, args.config)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    existed = Path(config.store.path).exists()
    new_dir = not Path(config.escrow_dir).exists()
    try:
        if config.trust_mode == "no_trust":
            codec_for(config)  # no KEK, no escrow: checked before anything is created
        with Escrow(open_escrow(config, create=True)) as escrow:
            eid = escrow.ctx.escrow_id
    except cs.user_errors() as exc:
        if new_dir:  # no half-made escrow left behind
            shutil.rmtree(config.escrow_dir, ignore_errors=True)
        return cs.fail(exc)
    where = Path(config.escrow_dir)
    if args.format == "json":
        cs.print_json({"escrow_id": eid, "escrow_dir": str(where), "created": not existed,
                       "trust_mode": config.trust_mode, "executor": config.executor,
                       "config": str(config.source) if config.source else None})
        return 0
    if existed:
        print(f"an escrow already exists in {where} (id {eid}): nothing changed")
        return 0
    print(f"created an escrow in {where} ({config.trust_mode}, {config.executor} executor)"
          + (f", configured by {config.source}" if config.source else ""))
    print(f"  escrow id: {eid}  (parties pin it with DSC_ESCROW_ID; `dsc escrow id` prints it)")
    home = config.source.parent if config.source else where.parent
    here = Path.cwd().absolute()
    inside = home == here or home in here.parents
    print(f"commands run in {home} or below find it" + ("" if inside else
          f"; elsewhere name it: dsc --escrow {shlex.quote(str(home))} COMMAND (or export DSC_ESCROW)"))
    print("next steps:")
    print("  dsc agent create NAME                    make an agent's key pair (in your keyring) and register it")
    print("  dsc data add OWNER.NAME FILE --as OWNER  store a data element")
    print("  dsc policy apply FILE --as OWNER         register an owner's standing policy")
    print("  dsc propose FILE CONTRACT --as AGENT     propose a contract (then approve, execute, status)")
    return 0
