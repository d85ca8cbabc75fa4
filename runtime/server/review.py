"""The review page at `/`: an agent loads its key file into the page (it never leaves the
browser), and the page's script signs each read and each decision with WebCrypto.

    GET  /                        the page: loading a key; no contract data (deny by default)
    GET  /review/static/NAME      its script and style sheet (no inline script: see CSP)
    POST /review/contracts        {"contracts": <signed read.contracts>}        -> HTML fragment
    POST /review/contract         {"summary", "status", "audit", "graph": <signed reads of one
                                   contract, by one agent>}                      -> HTML fragment

The views are rendered here from what the escrow's facade answered to those signed reads:
every one is verified (signature, escrow id, timestamp window, one-time nonce) and answers only
what the agent is party to, exactly as the JSON API does. Decisions go to the JSON API
(`/v1/contracts/approve`, `/reject`). Nothing here is authorised by a cookie or any other
ambient credential, so a forged cross-site request carries no authority (no CSRF); answers carry
no CORS header, so another origin cannot read them.
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from . import convert
from . import review_html as view
from .errors import ApiError
from .limits import read_limited
from .signed import parse_signed

router = APIRouter(include_in_schema=False)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin"}
STATIC = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}
CONTRACT_READS = ("summary", "status", "audit", "graph")
GRAPH_TIMEOUT = 20


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=HEADERS)


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    from datastation.runtime import __version__

    return _html(view.index_page(__version__))


@router.get("/review/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        raise ApiError("not_found", "no such file", 404)
    data = resources.files("datastation.runtime.server").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name], headers=HEADERS | {"Cache-Control": "no-cache"})


def _limit(escrow, req) -> int:
    """The page size the signed `read.contracts` asked for (a page this long may have a next)."""
    limit = req.params.get("limit")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else escrow.page_size


async def _signed_set(request: Request, names: tuple[str, ...]) -> dict:
    """The signed requests named `names` in the JSON body (`unsigned` when one is missing)."""
    raw = await read_limited(request, request.app.state.config.server.max_request_bytes)
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or set(body) != set(names):
        raise ApiError("unsigned", f"a view takes the signed requests {', '.join(names)} (JSON object)")
    return {n: parse_signed(json.dumps(body[n])) for n in names}


@router.post("/review/contracts", response_class=HTMLResponse)
async def contracts(request: Request) -> HTMLResponse:
    req = (await _signed_set(request, ("contracts",)))["contracts"]
    escrow = request.app.state.escrow

    def answer() -> str:
        rows = escrow.contracts_for(req)  # verified: the agent is the signer (the page it signed)
        out = [convert.contract_out(escrow.ctx, r).model_dump() for r in rows]
        more = rows[-1].id if rows and len(rows) == _limit(escrow, req) else None
        if req.params.get("after") is not None or req.params.get("pending"):  # a later page of one list
            which = "waiting" if req.params.get("pending") else "other"
            return view.contracts_page(req.agent, which, out, more, first=False)
        # the first view: then the first page of those waiting for its decision, wherever they are
        # in its listing (a subset of what the signed request may read: an owner of more than a
        # page of contracts saw none of its newer ones, red team session 10)
        waiting = escrow.pending_page(req.agent)
        more_waiting = waiting[-1].id if len(waiting) == escrow.page_size else None
        shown = {c["id"]: c for c in out}  # a contract on both pages is converted once
        return view.contracts_view(req.agent, [shown.get(r.id) or convert.contract_out(escrow.ctx, r).model_dump()
                                               for r in waiting], out, more_waiting, more)

    return _html(await run_in_threadpool(answer))


@router.post("/review/contract", response_class=HTMLResponse)
async def contract(request: Request) -> HTMLResponse:
    reqs = await _signed_set(request, CONTRACT_READS)
    agents = {r.agent for r in reqs.values()}
    named = {json.dumps(r.params.get("contract")) for r in reqs.values()}
    if len(agents) != 1 or len(named) != 1:
        raise ApiError("bad_request", "the reads of one view name one contract and are signed by one agent")
    escrow = request.app.state.escrow

    def answer() -> str:
        from datastation.runtime.graphviz import GraphvizMissing, render

        summary = escrow.summary_for(reqs["summary"])  # each read verified on its own
        status = convert.status_out(escrow.status_for(reqs["status"])).model_dump()
        entries = [e.model_dump() for e in convert.audit_out(escrow.audit_for(reqs["audit"]))]
        row, dot = escrow.graph_for(reqs["graph"])
        if not summary.get("identity") == status["id"] == row.id:
            raise ApiError("bad_request", "the reads of one view name one contract")
        svg, problem = None, None
        try:
            svg = render(dot, "svg", timeout=GRAPH_TIMEOUT)
        except GraphvizMissing:
            problem = "Graphviz is not installed at the escrow"
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:  # a picture: the text view stands
            problem = f"Graphviz failed: {type(exc).__name__}"
        return view.contract_view(next(iter(agents)), summary, status, entries, dot, svg, problem)

    return _html(await run_in_threadpool(answer))
