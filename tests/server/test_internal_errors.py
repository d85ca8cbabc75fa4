"""An error nothing else answers: a JSON body (`DSC099`, or `unavailable` for a full disk), and in the
server's log one line naming its kind, never its message nor a traceback. Before (red team session
13), Starlette answered it and raised it again, so the server logged the whole traceback with the
exception's message (which may quote data); a full disk during an upload was a 500."""

import errno
import logging

import pytest
from fastapi.testclient import TestClient

from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.actions import READ_STATUS
from datastation.runtime.storage import StorageError
from harness import World

SECRET = "S3CR3T-row-value"


def _enospc() -> StorageError:
    try:
        raise OSError(errno.ENOSPC, "No space left on device", f"/escrow/{SECRET}")
    except OSError:
        try:
            raise StorageError(f"cannot write /escrow/{SECRET}: No space left on device") from None
        except StorageError as exc:
            return exc


@pytest.fixture
def site(tmp_path):
    from datastation.runtime.server.app import create_app

    w = World(tmp_path)
    w.agent("alice")
    with TestClient(create_app(w.config, w.escrow), raise_server_exceptions=True) as client:
        yield w, client
    w.close()


@pytest.mark.parametrize("raised, answer", [
    (lambda: RuntimeError(SECRET), (500, "DSC099")),
    (lambda: KeyError(SECRET), (500, "DSC099")),
    (lambda: OSError(errno.ENOSPC, f"No space left on device: {SECRET}"), (503, "unavailable")),
    (_enospc, (503, "unavailable")),
])
def test_an_unanswered_error_is_answered_and_logged_by_its_kind_only(site, monkeypatch, caplog, raised, answer):
    w, client = site

    def failing(self, request):
        raise raised()

    monkeypatch.setattr(Escrow, "status_for", failing)
    body = w.escrow.sign_as("alice", READ_STATUS, {"contract": "0" * 12}).to_json()
    with caplog.at_level(logging.DEBUG):
        resp = client.post("/v1/contracts/status", content=body)  # raised on by the app: the client raises
    assert (resp.status_code, resp.json()["code"]) == answer
    assert SECRET not in resp.text
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert SECRET not in logged and "Traceback" not in logged and not any(r.exc_info for r in caplog.records)
    assert type(raised()).__name__ in logged
