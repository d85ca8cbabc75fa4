"""`dsc escrow id`: the escrow's id, which every signed request and approval names.

The id is derived from the escrow's public signing key (`escrow.pub` in the escrow directory,
readable by anyone). A party learns it from the escrow's operator (out of band, or by reading
`escrow.pub` and checking it), and pins it with `DSC_ESCROW_ID`: its client then refuses to sign
anything for another escrow.
"""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("escrow", help="show the escrow's id (what every signed message names)",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    esub = p.add_subparsers(dest="escrow_command", metavar="ACTION", required=True)
    i = esub.add_parser("id", help="print the escrow's id (and with --public-key, its public key)")
    i.add_argument("--public-key", action="store_true", help="also print the public key it is derived from (PEM)")
    cs.add_format(i)
    cs.add_config(i)
    i.set_defaults(func=_id)


def _id(args) -> int:
    try:
        with cs.escrow_from(args) as escrow:
            ctx = escrow.ctx
            eid, pem, where = ctx.escrow_id, ctx.escrow_public_pem, ctx.config.escrow_pub_path
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "json":
        cs.print_json({"escrow_id": eid, "public_key": pem, "public_key_file": str(where)})
        return 0
    print(eid)
    if args.public_key:
        print(pem, end="")
    return 0
