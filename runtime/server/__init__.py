"""`dsc serve`: the escrow as an HTTP service (FastAPI + uvicorn) over the `Escrow` facade.

Modules: `app` (the ASGI app and its routers), `api` (signed JSON actions and reads),
`transfer` (streamed upload and download), `signed` (signed requests off HTTP), `limits`
(request-size limits), `errors` (JSON errors and their status codes), `models` (the bodies, from
which the OpenAPI schema is generated), `convert`, `serve` (uvicorn, TLS).
"""
