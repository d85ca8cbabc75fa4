"""H49: FastAPI's own OpenTelemetry is off. With a tracer, meter or logger provider configured in
the server's environment (an OTEL_* exporter with FASTAPI_OTEL_AUTO_CONFIGURE, an instrumenting
wrapper), FastAPI 0.165 would record a span of every request and the message and traceback of
every unhandled exception, and send them to that provider's exporter: an exception's message
may quote data, and nothing but a released result may leave the escrow."""

import pytest
from fastapi.testclient import TestClient
from opentelemetry import _logs, metrics, trace

from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.actions import READ_STATUS
from harness import World

SECRET = "S3CR3T-row-value"


class Recorded(Exception):
    pass


class Recording:
    """A provider of every kind that records who asked it for anything."""

    def __init__(self):
        self.asked = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.asked.append((name, args, kwargs))
            raise Recorded(name)  # nothing is recorded past the first question
        return record


@pytest.fixture
def recording(monkeypatch):
    provider = Recording()
    for api, getter in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                        (_logs, "get_logger_provider")):
        monkeypatch.setattr(api, getter, lambda: provider)
    return provider


def test_no_request_and_no_error_reaches_an_opentelemetry_provider(tmp_path, recording, monkeypatch):
    from datastation.runtime.server.app import create_app

    w = World(tmp_path)
    w.agent("alice")

    def failing(self, request):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(Escrow, "status_for", failing)
    with TestClient(create_app(w.config, w.escrow), raise_server_exceptions=False) as client:
        assert client.get("/v1/escrow").status_code == 200
        body = w.escrow.sign_as("alice", READ_STATUS, {"contract": "0" * 12}).to_json()
        resp = client.post("/v1/contracts/status", content=body)
        assert (resp.status_code, resp.json()["code"]) == (500, "DSC099")
    w.close()
    assert recording.asked == []
