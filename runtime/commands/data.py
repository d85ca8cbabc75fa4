"""`dsc data add OWNER.NAME FILE --as OWNER`, `dsc data list`, `dsc data remove KEY --as OWNER`."""

from __future__ import annotations

import json
from pathlib import Path


from . import common as cs
from datastation.runtime.data_schema import SchemaError, format_from_path


def register(sub) -> None:
    p = sub.add_parser("data", help="add, list and remove data elements",
                       description="Data elements are datasets held by the escrow, each owned by one agent.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    a = dsub.add_parser("add", help="register and store a data element (csv, parquet, json)",
                        description="Store FILE as data element OWNER.NAME; its schema is inferred and recorded. "
                                    "The request is signed with OWNER's key.")
    a.add_argument("key", metavar="OWNER.NAME")
    a.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help="the data file (default with --dsc: the path its declaration gives)")
    _as(a)
    a.add_argument("--dsc", metavar="FILE.dsc", default=None,
                   help="the owner's .dsc file declaring OWNER.NAME: the contents are checked against its declared "
                        "schema (DSC080) before anything is sent, and the schema is recorded as declared")
    a.add_argument("--format", choices=("csv", "parquet", "json"), default=None,
                   help="file format (default: from the extension)")
    a.add_argument("--declared-schema", metavar="JSON|@FILE", default=None,
                   help='expected columns, e.g. \'{"amount": "float", "is_fraud": "bool"}\'; a mismatch refuses')
    a.add_argument("--replace", action="store_true", help="replace an existing data element of yours")
    cs.add_config(a)
    a.set_defaults(func=_add)

    ls = dsub.add_parser("list", help="list data elements")
    ls.add_argument("--owner", default=None, metavar="AGENT", help="only this owner's data")
    ls.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_as(ls, required=False)
    cs.add_config(ls)
    ls.set_defaults(func=_list)

    r = dsub.add_parser("remove", help="remove a data element (owner only; refused while a pending contract uses it)")
    r.add_argument("key", metavar="OWNER.NAME")
    _as(r)
    cs.add_config(r)
    r.set_defaults(func=_remove)


def _as(p) -> None:
    p.add_argument("--as", dest="agent", required=True, metavar="AGENT", help="the agent making the request")
    p.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="environment variable holding the agent's key passphrase")



def _declared(text: str | None):
    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot read the declared schema {text[1:]}: {getattr(exc, 'strerror', None) or exc}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"--declared-schema is not valid JSON: {exc}") from None
    return value


def _add(args) -> int:
    from datastation.runtime.escrow import DATA_ADD
    from datastation.runtime.escrow.data import data_add_params

    from datastation.runtime.data_declared import contents_diagnostics, find_declaration

    try:
        declaration = find_declaration(args.dsc, args.key) if args.dsc else None
        if args.file is None and declaration is None:
            return cs.fail("give the data FILE, or --dsc FILE.dsc declaring it", cs.ExitCode.USAGE)
        file = args.file or str(declaration.path)
        fmt = format_from_path(file, args.format or (declaration.decl.format.name if declaration else None))
        declared = _declared(args.declared_schema)
        if declared is None and declaration is not None:
            declared = declaration.schema
        try:
            contents = Path(file).read_bytes()
        except OSError as exc:
            return cs.fail(f"cannot read {file}: {exc.strerror or exc}")
        diags, sources = contents_diagnostics(contents, fmt, file, declaration)
        if diags:
            _print_refused(diags, sources, args.key)
            return cs.ExitCode.ERRORS
        with cs.escrow_from(args) as escrow:
            if cs.is_remote(escrow):  # streamed from the file, with a progress bar on a terminal
                row = escrow.upload(args.agent, args.key, file, fmt, declared, args.replace, args.passphrase_env)
                return _stored(row)
            req = escrow.sign_as(args.agent, DATA_ADD, data_add_params(args.key, fmt, contents, declared, args.replace),
                                 args.passphrase_env)
            row = escrow.add_data(req, contents)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    return _stored(row)


def _stored(row) -> int:
    cols = cs.safe_text(", ".join(f"{c}: {t}" for c, t in (row.inferred_schema or {}).items()))
    print(f"stored {row.key} ({row.format}, {row.size} bytes, sha256 {row.content_hash[:12]})")
    print(f"  schema: {cols}")
    if row.declared_schema is not None:
        print("  matches the declared schema")
    return 0


def _print_refused(diags, sources, key: str) -> None:
    import sys

    from datastation.dsl.render import render, use_color

    sys.stderr.write(render(diags, sources, "human", color=use_color(sys.stderr)))
    n = len(diags)
    print(f"{n} error{'s' if n != 1 else ''}: {key} was not stored", file=sys.stderr)


def _list(args) -> int:
    """Every data element, by digest; with `--as AGENT` (a read signed with that agent's own key)
    also the sha256 and size of the agent's own files (`reads.data_view`)."""
    try:
        with cs.escrow_from(args) as escrow:
            views = escrow.data_views(getattr(args, "agent", None), getattr(args, "passphrase_env", None))
    except cs.user_errors() as exc:
        return cs.fail(exc)
    views = [v for v in views if args.owner is None or v["owner"] == args.owner]
    if args.format == "json":
        print(json.dumps([{**{k: v for k, v in d.items() if k != "inferred_schema"}, "schema": d["inferred_schema"]}
                          for d in views], indent=2))
        return 0
    if not views:
        print("no data elements" + (f" owned by {args.owner}" if args.owner else ""))
    for d in views:
        kind = "derived from " + ", ".join(d["provenance"]) if d["derived"] else d["format"]
        cols = ", ".join(f"{c}: {t}" for c, t in (d["inferred_schema"] or {}).items())
        size = "" if d["size"] is None else f"{d['size']} B"
        shown = f"sha256 {d['content_hash'][:12]}" if d["content_hash"] else f"digest {(d['digest'] or '')[:12]}"
        print(cs.safe_text(f"{d['key']:<28} {size:>12}  {shown:<19}  {kind}  [{cols}]"))
    return 0


def _remove(args) -> int:
    from datastation.runtime.escrow import DATA_REMOVE

    try:
        with cs.escrow_from(args) as escrow:
            req = escrow.sign_as(args.agent, DATA_REMOVE, {"key": args.key}, args.passphrase_env)
            row = escrow.remove_data(req)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"removed {row.key}")
    return 0
