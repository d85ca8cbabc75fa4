"""Streamed bodies: a data upload goes to a temporary file chunk by chunk (then into storage,
encrypted under no_trust, without ever being whole in memory); a result download streams the
released file. The upload's signed request (in the `X-DSC-Request` header) binds the content's
sha256 and size; it is checked before the body is read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from datastation.runtime.escrow import DATA_ADD

from . import convert
from . import models as m
from .errors import ERROR_RESPONSES, ApiError
from .signed import HEADER, signed_header

router = APIRouter(prefix="/v1")

_UPLOAD_BODY = {"requestBody": {"required": True, "description": "the file's bytes (streamed)",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}}


@router.post("/data/upload", response_model=m.DataOut, responses=ERROR_RESPONSES, openapi_extra=_UPLOAD_BODY,
             tags=["data"], summary="Add (or replace) one of your data elements, streamed")
async def upload(request: Request, x_dsc_request: str | None = Header(
        default=None, alias=HEADER,
        description="base64url of the signed request: action data.add; {key, format, content_hash, size, "
                    "declared_schema, replace}")) -> m.DataOut:
    req = signed_header(x_dsc_request)
    escrow = request.app.state.escrow
    limit = escrow.config.server.max_upload_bytes
    size = req.params.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ApiError("bad_request", "a data.add request states the size of its contents")
    if size > limit:
        raise ApiError("too_large", f"an upload of {size} bytes is over the limit of {limit}")
    await run_in_threadpool(escrow.check_request, req, DATA_ADD)  # refused before any byte is read
    folder = Path(escrow.config.escrow_dir) / "run" / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix="upload-", dir=folder)
    try:
        total = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                total += len(chunk)
                if total > size:
                    raise ApiError("content_mismatch", f"the body is longer than the signed size ({size} bytes)")
                out.write(chunk)
        if total != size:
            raise ApiError("content_mismatch", f"the body has {total} bytes, the request signed {size}")
        row = await run_in_threadpool(escrow.add_data_file, req, tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return convert.own_data_out(escrow, row)


@router.post("/results/fetch", response_class=FileResponse, tags=["reads"],
             summary="Download your copy of a released result (sealed for you under no_trust), streamed",
             responses={200: {"description": "the released file; X-DSC-File-Sha256 is its sha256, "
                                             "X-DSC-Content-Sha256 the plaintext's, X-DSC-Sealed 1 when sealed",
                              "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                  "format": "binary"}}}},
                        **ERROR_RESPONSES},
             openapi_extra=m.signed_body("action result.fetch; {contract: id or prefix}"))
async def fetch_result(request: Request):
    from .signed import signed_request

    req = await signed_request(request)
    res = await run_in_threadpool(request.app.state.escrow.result_for, req)
    rel = res.release
    headers = {"X-DSC-File-Sha256": rel.file_hash or rel.content_hash, "X-DSC-Content-Sha256": rel.content_hash,
               "X-DSC-Sealed": "1" if res.sealed else "0"}
    return FileResponse(res.path, media_type="application/octet-stream", filename=res.name, headers=headers)
