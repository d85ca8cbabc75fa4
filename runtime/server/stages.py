"""`POST /v1/contracts/execute` answering as the execution goes (`Accept: application/x-ndjson`).

The execution runs in the thread pool, inside the request, as without streaming. Asked for
`application/x-ndjson`, the answer is one JSON object per line: `{"stage": S}` as each stage of
`execution.STAGES` after "verifying" begins (the client shows "verifying" itself), then
`{"report": REPORT}` or, for an error once stages were sent, `{"error": {code, message}}`. An error
before any later stage (every refusal: they are decided while verifying) is an ordinary error
answer with its HTTP status; an answer with nothing to stream is the ordinary JSON report.
"""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from . import convert
from .errors import error_of, error_response

NDJSON = "application/x-ndjson"


def wants_stages(request: Request) -> bool:
    """Whether the client asks for the stages: `application/x-ndjson` named in its Accept header
    with a quality above 0 and at least that of `application/json` (wildcards stream nothing)."""
    q = _qualities(request.headers.get("accept", ""))
    return q.get(NDJSON, 0.0) > 0 and q.get(NDJSON, 0.0) >= q.get("application/json", 0.0)


def _qualities(accept: str) -> dict[str, float]:
    """The media types an Accept header names, lower-cased, with their quality (`q`, default 1)."""
    out: dict[str, float] = {}
    for part in accept.split(",")[:32]:
        media, *params = (x.strip() for x in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if media:
            out[media.lower()] = max(q, out.get(media.lower(), 0.0))
    return out


async def execute_streamed(request: Request, escrow, req) -> JSONResponse | StreamingResponse:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()

    def progress(stage: str) -> None:
        if stage != "verifying":
            loop.call_soon_threadsafe(events.put_nowait, ("stage", stage))

    def run() -> None:
        try:
            out = ("report", convert.report_out(escrow.execute(req, progress)).model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 - answered as an error line (or an error answer), as the handlers would
            out = ("error", exc)
        loop.call_soon_threadsafe(events.put_nowait, out)

    # the execution goes on to its end even if the client goes away: it is not tied to the answer,
    # and a graceful shutdown waits for it (`finish_executions`) before the escrow closes
    running = getattr(request.app.state, "executions", None)
    if running is None:  # the first streamed execution of this app
        running = request.app.state.executions = set()
    task = asyncio.ensure_future(run_in_threadpool(run))
    running.add(task)
    task.add_done_callback(running.discard)

    kind, value = await events.get()
    if kind == "error":
        return error_response(*error_of(value))
    if kind == "report":
        return JSONResponse(value)

    async def lines() -> AsyncIterator[bytes]:
        event = (kind, value)
        while True:
            k, v = event
            if k == "stage":
                yield _line({"stage": v})
            elif k == "report":
                yield _line({"report": v})
                return
            else:
                code, message, _status = error_of(v)
                yield _line({"error": {"code": code, "message": message}})
                return
            event = await events.get()

    return StreamingResponse(lines(), media_type=NDJSON)


def _line(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


async def finish_executions(app) -> None:
    """At shutdown: wait for the streamed executions still running (their clients may be gone)."""
    running = list(getattr(app.state, "executions", ()))
    if running:
        await asyncio.gather(*running, return_exceptions=True)
