"""An idle keep-alive connection outlives the client's reuse of it: the client (`datastation.client`,
httpx) stops reusing a connection idle for `client.KEEPALIVE_SECONDS`; the server closes one only
after `serve.KEEP_ALIVE_SECONDS`, much later. With the two equal (uvicorn's and httpx's 5 s) a
request sent as the server closed the connection failed with "connection reset by peer" or
"server disconnected without sending a response" (bench/server_load.py, 50 clients, a few runs in twenty)."""

import socket
import time

from datastation.runtime.client import client as client_module
from datastation.runtime.server import serve


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /v1/escrow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data  # closed by the server
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_the_server_keeps_an_idle_connection_longer_than_the_client_reuses_it(served):
    assert serve.KEEP_ALIVE_SECONDS >= client_module.KEEPALIVE_SECONDS + 10
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        assert _get(sock).startswith(b"HTTP/1.1 200")
        time.sleep(client_module.KEEPALIVE_SECONDS + 1.5)  # idle past the client's reuse, and past uvicorn's 5 s default
        assert _get(sock).startswith(b"HTTP/1.1 200")  # the same connection still answers


def test_the_client_stops_reusing_an_idle_connection_first(served):
    c = served.agent("alice")
    pool = c._http._transport._pool
    assert pool._keepalive_expiry == client_module.KEEPALIVE_SECONDS
