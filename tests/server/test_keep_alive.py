"""An idle keep-alive connection outlives the client's reuse of it: the client (`datastation.client`,
httpx) stops reusing a connection idle for `client.KEEPALIVE_SECONDS`; the server closes one only
after `serve.KEEP_ALIVE_SECONDS`, much later. With the two equal (uvicorn's and httpx's 5 s) a
request sent as the server closed the connection failed with "connection reset by peer" or
"server disconnected without sending a response" (bench/server_load.py, 50 clients, a few runs in twenty)."""

import http.client
import time

from datastation.runtime.client import client as client_module
from datastation.runtime.server import serve


def test_the_server_keeps_an_idle_connection_longer_than_the_client_reuses_it(served):
    assert serve.KEEP_ALIVE_SECONDS >= client_module.KEEPALIVE_SECONDS + 10
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request("GET", "/v1/escrow")
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        sock = conn.sock
        time.sleep(client_module.KEEPALIVE_SECONDS + 1.5)  # idle past the client's reuse, and past uvicorn's 5 s default
        conn.request("GET", "/v1/escrow")  # on a connection the server closed: RemoteDisconnected
        again = conn.getresponse()
        again.read()
        assert again.status == 200 and conn.sock is sock  # the same connection still answers
    finally:
        conn.close()


def test_the_client_stops_reusing_an_idle_connection_first(served):
    c = served.agent("alice")
    pool = c._http._transport._pool
    assert pool._keepalive_expiry == client_module.KEEPALIVE_SECONDS
