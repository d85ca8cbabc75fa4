"""Request-size limits, enforced before a body is read: a declared Content-Length over the limit
is answered 413 at once (pure ASGI, nothing read), and every body reader counts what arrives
(chunked bodies declare no length) and stops at the limit."""

from __future__ import annotations

import json

from starlette.requests import Request

from .errors import ApiError

UPLOAD_PATHS = frozenset({"/v1/data/upload"})


class BodyLimit:
    """ASGI middleware: 413 for a Content-Length over the route's limit."""

    def __init__(self, app, max_request_bytes: int, max_upload_bytes: int):
        self.app = app
        self.max_request, self.max_upload = max_request_bytes, max_upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            limit = self.max_upload if scope.get("path") in UPLOAD_PATHS else self.max_request
            for name, value in scope.get("headers") or ():
                if name == b"content-length":
                    try:
                        declared = int(value)
                    except ValueError:
                        declared = -1
                    if declared < 0 or declared > limit:
                        await _send_json(send, 413 if declared > limit else 422, {
                            "code": "too_large" if declared > limit else "bad_request",
                            "message": f"request body of {declared} bytes is over the limit of {limit}"
                            if declared > limit else "invalid Content-Length"})
                        return
        await self.app(scope, receive, send)


async def _send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole (small, JSON) body, refused with 413 as soon as it passes `limit` bytes."""
    parts, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ApiError("too_large", f"request body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
