"""The review page's HTML, rendered on the server from what signed reads answered.

Every value is escaped (`h`): the proposer wrote the contract's text, each agent its display
name, a rejecting agent its reason. The page itself (`index_page`) holds no contract data; the
views (`contracts_view`, `contract_view`) are fragments the page's script asks for with signed
requests and places into the page. No inline script or style anywhere (the Content-Security-
Policy of `review.py` forbids both).
"""

from __future__ import annotations

import base64
import html
import json
import time
from typing import Any, Iterable

from datastation.contracts.status import ENDED_WITHOUT_RELEASE

DECIDABLE = ("pending", "approved")
# an attempt that ran and released nothing: its approvers may still withdraw their consent
RAN_WITHOUT_RELEASE = tuple(str(s.value) for s in ENDED_WITHOUT_RELEASE)


def h(value: Any) -> str:
    """`value` as escaped text (None: empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))
    except (TypeError, ValueError, OverflowError):
        return ""


def _who(agent: str, display: str | None) -> str:
    return f"{h(agent)} ({h(display)})" if display else h(agent)


def _list(items: Iterable[str], empty: str) -> str:
    items = list(items)
    if not items:
        return f"<p>{h(empty)}</p>"
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def index_page(version: str) -> str:
    """The page at `/`: loading a key, and where the views go. No contract data."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>DataStation review</title>
<link rel="stylesheet" href="/review/static/review.css">
<script src="/review/static/review.js" defer></script>
</head>
<body>
<header><h1>DataStation: review contracts</h1>
<p>Escrow <code id="escrow-id">(not read yet)</code> · dsc {h(version)}</p></header>
<main>
<noscript>
<section class="notice" aria-labelledby="nojs-title">
<h2 id="nojs-title">JavaScript is needed to sign</h2>
<p>Every read and every decision at this escrow is a request signed with your own private key.
This page signs in your browser, with your key file, which it never sends anywhere; signing
needs JavaScript. Once signed, every view is plain HTML rendered by the escrow.</p>
<p>Without JavaScript, review from your own machine with the Python client
(<code>datastation.client.Client(URL, AGENT).pending()</code>, <code>.summary(ID)</code>,
<code>.approve(ID)</code>) or, at the escrow's machine, <code>dsc show ID</code> and
<code>dsc approve ID --as AGENT</code>. See docs/server.md.</p>
</section>
</noscript>
<section id="key-section" aria-labelledby="key-title">
<h2 id="key-title">Your key</h2>
<p>Your key file stays in this browser tab: it is read here, never uploaded, and forgotten when
you close the tab or press “Forget key”. Requests are signed here (Ed25519, WebCrypto).</p>
<form id="key-form">
<p><label for="key-file">Key file (PEM, e.g. <code>bank2.pem</code> from your keyring)</label><br>
<input type="file" id="key-file" name="key-file" accept=".pem,application/x-pem-file,text/plain" required></p>
<p><label for="agent-name">Agent name (default: the file's name)</label><br>
<input type="text" id="agent-name" name="agent-name" autocomplete="off" spellcheck="false"
 pattern="[A-Za-z_][A-Za-z0-9_]{{0,63}}"></p>
<p><label for="passphrase">Passphrase (only for a protected key)</label><br>
<input type="password" id="passphrase" name="passphrase" autocomplete="off"></p>
<p><button type="submit" id="load-key">Load key</button>
<button type="button" id="forget-key" disabled>Forget key</button></p>
</form>
<p id="key-status" role="status" aria-live="polite"></p>
</section>
<section id="contracts" aria-labelledby="contracts-title" aria-live="polite">
<h2 id="contracts-title">Contracts</h2>
<p>Load your key to see the contracts that wait for your decision.</p>
</section>
<section id="contract" aria-live="polite"></section>
</main>
</body>
</html>
"""


def _contract_item(c: dict) -> str:
    waiting = ", ".join(c["waiting_for"]) or "nobody"
    return (f'<li><form class="open-contract" data-contract="{h(c["id"])}">'
            f'<strong>{h(c["name"])}</strong> <code>{h(c["id"][:16])}…</code> '
            f'status <span class="status status-{h(c["status"])}">{h(c["status"])}</span>, '
            f'proposed by {h(c["proposer"])}, waiting for {h(waiting)} '
            f'<button type="submit" aria-label="Review contract {h(c["name"])} ({h(c["id"][:12])})">Review</button>'
            f'</form></li>')


def contracts_view(agent: str, waiting: list[dict], contracts: list[dict], more_waiting: str | None = None,
                   more_other: str | None = None) -> str:
    """The agent's contracts: the first page of those waiting for its decision, then the others
    of the first page of all its contracts. `more_waiting` / `more_other`: the id after which
    the next page of that list starts (None: no more)."""
    mine = [c for c in waiting if waits_for(c, agent)]
    others = [c for c in contracts if not waits_for(c, agent)]
    out = [f'<h2 id="contracts-title">Contracts of {h(agent)}</h2>',
           '<section id="waiting-section" aria-labelledby="waiting-title">',
           contracts_page(agent, "waiting", mine, more_waiting, first=True), "</section>",
           '<section id="other-section" aria-labelledby="other-title">',
           contracts_page(agent, "other", others, more_other, first=True), "</section>",
           '<p><button type="button" id="refresh">Refresh</button></p>']
    return "\n".join(out)


def waits_for(c: dict, agent: str) -> bool:
    return c["status"] == "pending" and agent in c["waiting_for"]


LISTS = {"waiting": ("Waiting for your decision", "pending-list", "No contract waits for your decision.",
                     "contracts waiting for your decision"),
         "other": ("Your other contracts", "other-list", "None.", "your other contracts")}


def contracts_page(agent: str, which: str, contracts: list[dict], more: str | None, *, first: bool) -> str:
    """One page of one list of `contracts_view` (`which`: waiting, other): what goes in its
    section; a button for the next page when `more` (the id it starts after), and after the
    first page one back to it. A later page is asked for with a signed `read.contracts` of
    `after` (and `pending` for the waiting list)."""
    title, list_id, empty, what = LISTS[which]
    contracts = [c for c in contracts if waits_for(c, agent) == (which == "waiting")]
    out = [f'<h3 id="{which}-title" tabindex="-1">{h(title)}{"" if first else " (a later page)"}</h3>']
    if contracts:
        out.append(f'<ul id="{list_id}">' + "".join(_contract_item(c) for c in contracts) + "</ul>")
    elif more:  # this page of the agent's contracts held none of this list: the next may
        out.append("<p>None on this page.</p>")
    elif first:
        out.append(f'<p id="{"pending-none" if which == "waiting" else "other-none"}">{h(empty)}</p>')
    else:
        out.append("<p>No more.</p>")
    buttons = []
    if not first:
        buttons.append(f'<button type="button" class="first-page" data-list="{which}" '
                       f'aria-label="First page of {what}">First page</button>')
    if more:
        buttons.append(f'<button type="button" class="next-page" data-list="{which}" data-after="{h(more)}" '
                       f'aria-label="Next page of {what}">Next page</button>')
    if buttons:
        out.append("<p>" + " ".join(buttons) + "</p>")
    return "\n".join(out)


def _summary(s: dict, agent: str) -> str:
    parts = ['<section aria-labelledby="who-title"><h3 id="who-title">Who contributes which data</h3>']
    items = [f'{_who(c["agent"], c.get("display"))}: ' + ", ".join(f'<code>{h(d["key"])}</code>' for d in c["data"])
             for c in s.get("contributors") or []]
    items += [f'kept result <code>{h(k["name"])}</code> (kept by contract {h(k["kept_by"])}) comes from '
              + (", ".join(f"<code>{h(x)}</code>" for x in k["sources"]) or "nothing")
              for k in s.get("kept_inputs") or []]
    parts.append(_list(items, "(no data)"))
    parts.append(f'<p>Must approve: {h(", ".join(s.get("source_agents") or []) or "nobody")}</p></section>')

    parts.append('<section aria-labelledby="runs-title"><h3 id="runs-title">What runs</h3>')
    r = s.get("runs")
    if r:
        where = f'{r["module"]}:{r["line"]}' if r.get("module") else "not found"
        parts.append(f'<p><code>{h(r["function"])}</code> ({h(r.get("origin") or "?")} function, {h(where)})</p>')
        parts.append(_list([f'<code>{h((a["name"] + " = ") if a.get("name") else "")}{h(a["value"])}</code>'
                            for a in r.get("arguments") or []], "(no arguments)"))
    else:
        parts.append("<p>(nothing)</p>")
    funcs = [f'<code>{h(n)}</code>: {h(f["origin"])} <code>{h(f["module"])}</code>:{h(f["line"])} '
             f'sha256 <code>{h(f["sha256"])}</code>' for n, f in (s.get("functions") or {}).items()]
    parts.append("<p>Function identities:</p>" + _list(funcs, "(none)") + "</section>")

    parts.append('<section aria-labelledby="to-title"><h3 id="to-title">Who receives what</h3>')
    items = [f'{_who(t["agent"], t.get("display"))} receives the result' for t in s.get("recipients") or []]
    if s.get("kept_as"):
        also = "a copy also goes to the recipients above" if s.get("recipients") else "released to nobody"
        items.append(f'kept in the escrow as <code>{h(s["kept_as"])}</code> ({h(also)})')
    parts.append(_list(items, "nobody") + "</section>")

    parts.append('<section aria-labelledby="cond-title"><h3 id="cond-title">Conditions</h3>')
    items = [f'line {h(c["line"])}: {"require (before running)" if c["kind"] == "require" else "ensure (on the result)"}'
             f'<pre>{h(c["condition"])}</pre>' for c in s.get("conditions") or []]
    parts.append(_list(items, "(none)") + "</section>")

    parts.append('<section aria-labelledby="pol-title"><h3 id="pol-title">Standing policies</h3>'
                 '<table><thead><tr><th scope="col">owner</th><th scope="col">decision</th><th scope="col">rule</th>'
                 '</tr></thead><tbody>')
    for p in s.get("policies") or []:
        effect = {"allow": "approves", "deny": "denies"}.get(p.get("effect"), "decides by hand")
        rule = p.get("rule")
        text = f'{h(rule["rule"])} ({h(rule["file"])}:{h(rule["line"])})' if rule else ""
        yours = ' class="yours"' if p.get("owner") == agent else ""
        parts.append(f'<tr{yours}><td>{h(p["owner"])}{" (you)" if yours else ""}</td><td>{h(effect)}</td>'
                     f'<td>{text}</td></tr>')
    parts.append("</tbody></table></section>")

    parts.append('<section aria-labelledby="id-title"><h3 id="id-title">Identity</h3>')
    if s.get("identity"):
        parts.append(f'<p>sha256 <code id="identity">{h(s["identity"])}</code></p>')
    else:
        parts.append(f'<p>no identity: {h(s.get("identity_error"))}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _status(st: dict) -> str:
    items = [f'{h(a["agent"])} approved {("through policy " + h(a["via_policy"])) if a.get("via_policy") else "by hand"}'
             f' at {h(_when(a.get("ts")))}' for a in st.get("approvals") or []]
    items += [f'waiting for {h(a)}' for a in st.get("missing_approvals") or []]
    items += [f'{h(x["agent"])} rejected it: {h(x.get("reason") or "(no reason)")}'
              + (f' (policy {h(x["via_policy"])})' if x.get("via_policy") else "") for x in st.get("rejections") or []]
    items += [f'execution {h(e["id"])}: {h(e["status"])} (by {h(e["actor"])})' for e in st.get("executions") or []]
    items += [f'released to {h(x["recipient"])} (digest <code>{h(x["content_mac"])}</code>)'
              for x in st.get("releases") or []]
    return (f'<section aria-labelledby="status-title"><h3 id="status-title">Status: '
            f'<span id="contract-status" class="status status-{h(st["status"])}">{h(st["status"])}</span></h3>'
            + _list(items, "No decision yet.") + "</section>")


def _payload(payload: Any) -> str:
    if not isinstance(payload, dict):
        return h(payload)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return h(text if len(text) <= 600 else text[:600] + "…")


def _audit(entries: list[dict]) -> str:
    rows = "".join(f'<tr><td>{h(e.get("seq"))}</td><td>{h(_when(e.get("ts")))}</td><td>{h(e.get("kind"))}</td>'
                   f'<td>{h(e.get("actor"))}</td><td><code>{_payload(e.get("payload"))}</code></td></tr>'
                   for e in entries)
    return ('<section aria-labelledby="audit-title"><h3 id="audit-title">History and audit entries</h3>'
            '<table id="audit"><thead><tr><th scope="col">#</th><th scope="col">when</th><th scope="col">what</th>'
            '<th scope="col">by</th><th scope="col">details</th></tr></thead><tbody>' + rows + "</tbody></table>"
            "</section>")


def _graph(name: str, dot: str, svg: bytes | None, problem: str | None) -> str:
    out = ['<section aria-labelledby="graph-title"><h3 id="graph-title">Dataflow graph</h3>']
    if svg is not None:
        # an image, never inline markup: nothing in it can run or style the page
        data = base64.b64encode(svg).decode("ascii")
        out.append(f'<img id="graph" src="data:image/svg+xml;base64,{data}" '
                   f'alt="Dataflow graph of contract {h(name)}: the data it reads and their owners, what it keeps and '
                   f'who receives the result (the same as the summary above)">')
    else:
        out.append(f"<p>The graph cannot be drawn here ({h(problem)}); its Graphviz source follows.</p>")
    out.append(f'<details><summary>Graphviz source</summary><pre>{h(dot)}</pre></details></section>')
    return "\n".join(out)


def _decision(agent: str, summary: dict, status: dict) -> str:
    cid = summary.get("identity") or status["id"]
    out = ['<section aria-labelledby="decide-title"><h3 id="decide-title">Your decision</h3>']
    approved = {a["agent"] for a in status.get("approvals") or []}
    if agent not in (summary.get("source_agents") or []):
        out.append("<p>You own none of this contract's data: it does not wait for your decision.</p>")
    elif status["status"] not in DECIDABLE:
        out.append(f'<p>This contract is {h(status["status"])}: it no longer waits for a decision.</p>')
    elif agent in approved:
        out.append('<p id="your-approval">You approved this contract.</p>')
    else:
        out.append(
            f'<p>Approving signs, with your key, this escrow\'s id and the identity <code>{h(cid[:16])}…</code> '
            f'shown above: any change to the contract or its code makes it another contract.</p>'
            f'<form id="approve-form" class="decide" data-decision="approve" data-contract="{h(cid)}">'
            f'<button type="submit" id="approve">Approve {h(summary.get("contract"))}</button></form>'
            f'<form id="reject-form" class="decide" data-decision="reject" data-contract="{h(cid)}">'
            f'<p><label for="reject-reason">Reason for rejecting (seen by the parties)</label><br>'
            f'<textarea id="reject-reason" name="reason" rows="2" cols="60" maxlength="2000"></textarea></p>'
            f'<button type="submit" id="reject">Reject {h(summary.get("contract"))}</button></form>')
    out.append(_withdraw(agent, summary, status, cid, approved))
    out.append('<p id="decision-status" role="status" aria-live="polite"></p></section>')
    return "\n".join(out)


def _withdraw(agent: str, summary: dict, status: dict, cid: str, approved: set) -> str:
    """The form that withdraws what `agent` gave (`contract.revoke`): its proposal, while the
    contract is open; else its approval, until the contract releases its result."""
    name, state = h(summary.get("contract")), status["status"]
    if agent == status.get("proposer") and state in DECIDABLE:
        text = ("As its proposer you may withdraw this contract: it then can no longer run "
                "(proposing it again starts a new attempt that every owner decides afresh).")
        label = f"Withdraw contract {name}"
    elif agent in approved and state in DECIDABLE + RAN_WITHOUT_RELEASE:
        text = ("You may withdraw your approval until the contract releases its result; "
                "it then waits for your decision again.")
        label = f"Withdraw your approval of {name}"
    else:
        return ""
    return (f'<p>{text}</p><form id="revoke-form" class="decide" data-decision="revoke" data-contract="{h(cid)}">'
            f'<button type="submit" id="revoke">{label}</button></form>')


def contract_view(agent: str, summary: dict, status: dict, audit: list[dict], dot: str, svg: bytes | None,
                  problem: str | None) -> str:
    """One contract: the owner's summary (what `dsc show ID` prints), its status, the decision
    forms, the dataflow graph, the history and audit entries."""
    head = (f'<h2 id="contract-title" tabindex="-1">Contract {h(summary.get("contract"))}</h2>'
            f'<p>proposed by {h(summary.get("proposed_by"))} · {h(summary.get("file"))}:{h(summary.get("line"))} · '
            f'id <code id="contract-id">{h(status["id"])}</code></p>'
            '<p><button type="button" id="back">Back to the list</button></p>')
    return "\n".join([head, _status(status), _decision(agent, summary, status), _summary(summary, agent),
                      _graph(summary.get("contract") or "", dot, svg, problem), _audit(audit)])
