"""`dsc status [CONTRACT]`: where a contract stands (approvals, rejections, executions, releases)."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("status", help="show a contract's approvals, executions and releases (or all contracts)")
    p.add_argument("id", nargs="?", metavar="CONTRACT",
                   help="the contract: its name (the latest proposal of that name), its id, or an id prefix of at "
                        "least 4 characters (default: every contract)")
    cs.add_format(p)
    cs.add_as(p, required=False)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        with cs.escrow_from(args) as escrow:
            if args.id is None:
                from . import contracts as listing

                return listing.show(escrow, escrow.contracts(), args.format)
            st = escrow.status(args.id)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "json":
        cs.print_json(st.to_json())
        return 0
    j = st.to_json()
    t = cs.safe_text  # names and reasons come from data and from other parties
    print(t(f"contract {j['name']}  {j['id']}"))
    attempt = f"attempt {j['attempt']}, " if j.get("attempt", 1) > 1 else ""
    print(t(f"  status: {j['status']}  ({attempt}proposed by {j['proposer']})"))
    print(t(f"  recipients: {', '.join(j['recipients']) or 'none'}" + (f"; kept as {j['kept_as']}" if j["kept_as"] else "")))
    for a in j["approvals"]:
        how = f"by policy {a['via_policy']}" if a["via_policy"] else "by hand (signed)"
        print(t(f"  approved by {a['agent']} {how}"))
    if j["missing_approvals"] and j["status"] == "pending":  # a closed contract waits for nobody
        print(t(f"  waiting for: {', '.join(j['missing_approvals'])}"))
    elif j["missing_approvals"] and j["status"] in ("rejected", "denied", "revoked"):
        print(t(f"  not approved by: {', '.join(j['missing_approvals'])} (no approval can be given any more)"))
    for r in j["rejections"]:
        how = f" (policy {r['via_policy']})" if r["via_policy"] else ""
        print(t(f"  rejected by {r['agent']}: {r['reason']}{how}"))
    attempts = j.get("attempts") or [{"attempt": j.get("attempt", 1), "proposer": j["proposer"]}]
    several = len(attempts) > 1
    for a in attempts:
        if several:
            print(t(f"  attempt {a['attempt']} (proposed by {a['proposer']}): {a.get('outcome', '')}"))
        for e in j["executions"]:
            if e.get("attempt", a["attempt"]) == a["attempt"]:
                err = (e["detail"] or {}).get("error")
                print(t(f"  {'  ' if several else ''}execution #{e.get('number') or e.get('id')} by {e['actor']}: {e['status']}"
                        + (f" ({err})" if err else "")))
    for r in j["releases"]:
        print(t(f"  released to {r['recipient']}: {r.get('path') or 'digest ' + str(r.get('content_mac', ''))[:16]}"))
    return 0
