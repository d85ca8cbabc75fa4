"""Every error the server answers is a JSON body `{"code", "message"}`: the stable refusal code
(`EscrowRefusal`, `AuthError`) or a DSC code, with an HTTP status chosen by the code."""

from __future__ import annotations

import errno
import logging
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("datastation.server")


class ErrorOut(BaseModel):
    code: str
    message: str


class ApiError(Exception):
    """An error of the HTTP layer itself (unsigned, too large, bad input)."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status or status_for(code)


UNAUTHENTICATED = frozenset({
    "unsigned", "malformed", "bad_signature", "unknown_agent", "unbound_key", "stale", "wrong_escrow",
    "wrong_action", "bad_invite", "invite_used", "invite_expired",
})
FORBIDDEN = frozenset({"not_owner", "not_source_agent", "not_proposer", "not_recipient", "not_allowed"})
UNKNOWN = frozenset({"no_contract", "no_data", "not_released", "no_release_file", "not_found"})
CONFLICT = frozenset({
    "replay", "already_proposed", "already_approved", "already_rejected", "already_executed", "already_running", "closed",
    "data_exists", "data_in_use", "agent_exists", "name_confusable", "kept_taken", "awaiting_approval", "denied", "rejected",
    "revoked", "not_approved", "identity_mismatch", "record_tampered",
})


def status_for(code: str) -> int:
    if code in UNAUTHENTICATED:
        return 401
    if code in FORBIDDEN:
        return 403
    if code in UNKNOWN:
        return 404
    if code in CONFLICT:
        return 409
    if code == "too_large":
        return 413
    if code == "method_not_allowed":
        return 405
    if code == "unavailable":
        return 503
    return 422  # bad input of every other kind: bad_request, check_failed, content_mismatch, ...


def error_response(code: str, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status or status_for(code))


# Documented on every route (the OpenAPI schema lists them, schemathesis checks against it).
ERROR_RESPONSES = {s: {"model": ErrorOut, "description": d} for s, d in (
    (401, "not authenticated: unsigned, badly signed, replay-window or escrow mismatch, bad invitation"),
    (403, "authenticated, but not allowed"), (404, "unknown (or not yours)"), (405, "method not allowed"),
    (409, "conflict with the escrow's state, or a replayed request"), (413, "request too large"),
    (422, "bad input"), (500, "internal error (DSC099)"), (503, "the escrow's store is unavailable"))}


def install(app: FastAPI) -> None:
    """Exception handlers turning every error into its JSON body."""
    from datastation.runtime.escrow import EscrowRefusal
    from datastation.runtime.keys import AuthError, KeysError
    from datastation.runtime.store import StoreError

    async def _answer(_: Request, exc: Exception):
        return error_response(*error_of(exc))

    for kind in (ApiError, EscrowRefusal, AuthError, KeysError, StoreError):
        app.add_exception_handler(kind, _answer)
    # every other exception: `Answered` (the outermost middleware the app adds), not a handler of
    # `Exception`, which Starlette runs and then raises again for the server to log with its traceback

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        where = "; ".join(".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", ""))
                          for e in exc.errors()[:3])
        return error_response("bad_request", f"invalid request: {where}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "bad_request")
        return error_response(code, str(exc.detail), exc.status_code)


class Answered:
    """ASGI middleware: an exception nothing else answered becomes its JSON error (`error_of`: the
    log gets its kind, never its message or a traceback, unless `DSC_DEBUG` is set), and is not
    raised on to the server, whose log would print both (red team session 13: a full disk during an
    upload logged the whole traceback). After the answer has begun, the connection is just closed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            code, message, status = error_of(exc)
            if not started:
                await error_response(code, message, status)(scope, receive, send)


def _disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or the error it was raised from) is a file system without space left."""
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
    return False


def error_of(exc: BaseException) -> tuple[str, str, int]:
    """(code, message, HTTP status) of an error the escrow raised while answering a request."""
    from datastation.dsl.codes import INTERNAL_ERROR
    from datastation.runtime.escrow import EscrowRefusal
    from datastation.runtime.keys import AuthError, KeysError
    from datastation.runtime.store import StoreError, UnstorableText

    if isinstance(exc, ApiError):
        return exc.code, str(exc), exc.status
    if isinstance(exc, (EscrowRefusal, AuthError)):
        return exc.code, str(exc), status_for(exc.code)
    if isinstance(exc, KeysError):
        return "bad_request", str(exc), status_for("bad_request")
    if isinstance(exc, UnstorableText):  # the request's text, not the store: retrying cannot help
        return "bad_request", str(exc), status_for("bad_request")
    full = _disk_full(exc)  # also an upload or a content file on a full disk: the operator must free space
    if full or isinstance(exc, StoreError):
        log.warning("store error: %s%s", type(exc).__name__, " (no space left on the escrow's disk)" if full else "")
        return "unavailable", "the escrow's store cannot answer now; try again", 503
    # never the message (it may quote data) and never a traceback in the answer
    log.error("internal error: %s", type(exc).__name__, exc_info=bool(os.environ.get("DSC_DEBUG")))
    code = str(INTERNAL_ERROR)
    return code, f"internal error ({code}): {type(exc).__name__}", 500
