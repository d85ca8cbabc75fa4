"""Reading a signed request off an HTTP request: the JSON body (`{envelope, signature}`), or, for
a streamed upload, the `X-DSC-Request` header (base64url of the same JSON)."""

from __future__ import annotations

import base64
import binascii
import json

from fastapi import Request

from datastation.runtime.keys import SignedRequest

from .errors import ApiError
from .limits import read_limited

HEADER = "X-DSC-Request"


def parse_signed(raw: bytes | str) -> SignedRequest:
    """A `SignedRequest` from its JSON; `unsigned` when there is none, `malformed` when it is not one."""
    if not (raw.strip() if raw else raw):
        raise ApiError("unsigned", "the request carries no signed envelope: every request is signed by its agent")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("unsigned", "the body is not a signed request (JSON with envelope and signature)") from None
    except RecursionError:  # arrays or objects nested thousands deep: nothing a client sends
        raise ApiError("malformed", "the body's JSON is nested too deeply") from None
    if not isinstance(obj, dict) or "signature" not in obj or "envelope" not in obj:
        raise ApiError("unsigned", "the request carries no signature: every request is signed by its agent")
    env, sig = obj["envelope"], obj["signature"]
    if not isinstance(env, dict) or not isinstance(sig, str) or set(obj) != {"envelope", "signature"}:
        raise ApiError("malformed", "malformed signed request (an envelope object and a signature string)")
    return SignedRequest(env, sig)


async def signed_request(request: Request) -> SignedRequest:
    """The signed request in the body (at most `server.max_request_bytes`)."""
    return parse_signed(await read_limited(request, request.app.state.config.server.max_request_bytes))


def signed_header(value: str | None) -> SignedRequest:
    """The signed request of an upload, from its header."""
    if not value:
        raise ApiError("unsigned", f"an upload carries its signed request in the {HEADER} header")
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii") + b"=" * (-len(value) % 4))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise ApiError("malformed", f"the {HEADER} header is not base64url") from None
    return parse_signed(raw)
