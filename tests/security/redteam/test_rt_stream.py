"""Red team of the streamed execution stages (`POST /v1/contracts/execute` with
`Accept: application/x-ndjson`, runtime/server/stages.py, `Client._staged`) and of the review
page's withdraw button (`review_html._withdraw`, `review.js decide`).

Holes H23-H25 (failed on the code they were written against; closed since):
* a hostile (or compromised) server's stage line writes control characters and forged lines to
  the terminal of `dsc execute --escrow URL` (the stage text is printed unescaped);
* `Accept: application/x-ndjson;q=0` (ndjson explicitly *not* acceptable) still gets a stream,
  and a media type differing only in case does not (media types are case-insensitive);
* a streamed execution whose client went away is cut short by the server's graceful shutdown
  (recorded `interrupted`), where the same execution without the header runs to its end.

What held is kept below as passing tests (refusals are plain error answers, error lines carry no
internal message, a hostile stream's odd lines end in a `RemoteError`, clients that go away
leave no thread or claim behind, the withdraw button does what its label says).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import Request

from datastation.client import RemoteError
from datastation.runtime.escrow.actions import EXECUTE, READ_AUDIT, READ_GRAPH, READ_STATUS, READ_SUMMARY
from serving import Served

NDJSON = "application/x-ndjson"

DSC = '''use "fns.py"

agent alice
agent bob

data alice.t csv "t.csv"
data bob.t csv "u.csv"

contract count {
  by      alice
  compute rows(alice.t)
  to      alice
}

contract slow {
  by      alice
  compute slow(data = alice.t)
  to      alice
}

contract too_few {
  by      alice
  compute rows(alice.t)
  to      alice
  require rows(alice.t) > 1000
}

contract both {
  by      alice
  compute rows(bob.t)
  to      alice
  require rows(alice.t) > 0
}
''' + "".join(f"\ncontract p{k} {{\n  by alice\n  compute rows(alice.t)\n  to alice\n}}\n" for k in range(4))

FNS = '''import time


def slow(data) -> int:
    time.sleep(SECONDS)
    return 1
'''


def _site(root: Path, seconds: float = 4.0, extra_config: str = "") -> Served:
    s = Served(root / "site", extra_config=extra_config)
    s.alice, s.bob = s.agent("alice"), s.agent("bob")
    (root / "t.csv").write_text("x\n1\n2\n")
    (root / "u.csv").write_text("y\n5\n")
    (root / "fns.py").write_text(FNS.replace("SECONDS", repr(seconds)))
    (root / "c.dsc").write_text(DSC)
    s.alice.add_data("alice.t", root / "t.csv")
    s.bob.add_data("bob.t", root / "u.csv")
    s.dsc_file = root / "c.dsc"
    return s


@pytest.fixture
def site(tmp_path):
    s = _site(tmp_path)
    yield s
    s.stop()


def _approved(s: Served, name: str) -> str:
    cid = s.alice.propose(s.dsc_file, name)["contract"]["id"]
    s.alice.approve(cid)
    return cid


def _post_execute(client, cid: str, accept: str | None, **kw) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if accept is not None:
        headers["Accept"] = accept
    return httpx.post(client.url + "/v1/contracts/execute", content=client.sign(EXECUTE, {"contract": cid}).to_json(),
                      headers=headers, timeout=120, **kw)


# ============================================================================ holes

# ---------------------------------------------------------------- a hostile server's stage lines
HOSTILE_STAGE = "compute\x1b]0;pwned\x07\x1b[2J\r\nexecute: release: releasing the result (0.0 s)\ncontract X: executed"


class _HostileProxy:
    """A server in front of the real escrow: every request is passed on, except a streamed
    execution, answered with stage lines of its choosing and a report (nothing runs)."""

    def __init__(self, upstream: str, lines: list[bytes]):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _forward(self, method: str):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v1/contracts/execute" and NDJSON in (self.headers.get("Accept") or ""):
                    self.send_response(200)
                    self.send_header("Content-Type", NDJSON)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for line in proxy.lines:
                        self.wfile.write(line)
                    return
                hdr = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                r = httpx.request(method, upstream + self.path, content=body, headers=hdr, timeout=60)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.lines = lines
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _report_line(cid: str) -> bytes:
    report = {"contract": cid, "name": "count", "status": "executed", "conditions": [], "reads": [],
              "releases": [], "number": 1, "seconds": 0.1}
    return (json.dumps({"report": report}) + "\n").encode()


def test_a_hostile_servers_stage_line_writes_no_control_characters_to_the_terminal(site, monkeypatch, capsys):
    """HOLE: `StageProgress` prints the stage name the server sent as is (`rich.Text` keeps ESC
    and newlines): a hostile or compromised server (or anyone on a plain-HTTP path) writes escape
    sequences to the user's terminal and forges whole lines of `dsc execute`'s output. Every
    other text from the server (report lines, error messages) goes through `safe_text`."""
    from datastation.runtime.cli import main

    cid = _approved(site, "count")
    proxy = _HostileProxy(site.url, [(json.dumps({"stage": HOSTILE_STAGE}) + "\n").encode(), _report_line(cid)])
    try:
        monkeypatch.setenv("DSC_KEYRING", str(site.alice.home / ".config" / "datastation" / "keys"))
        for var in ("DSC_ESCROW", "DSC_AGENT", "DSC_ESCROW_ID", "DSC_CONFIG"):
            monkeypatch.delenv(var, raising=False)
        code = main(["execute", cid, "--as", "alice", "--escrow", proxy.url])
        err = capsys.readouterr().err
    finally:
        proxy.close()
    assert code in (0, 1, 2), err
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    forged = [line for line in err.splitlines() if line.startswith("contract X") or line.startswith("execute: release")]
    assert forged == [], repr(err)


# ---------------------------------------------------------------- content negotiation
@pytest.mark.parametrize("accept", ["application/x-ndjson;q=0", "application/json, application/x-ndjson; q=0"])
def test_ndjson_declared_not_acceptable_is_not_streamed(site, accept):
    """HOLE: `wants_stages` is a substring test: q=0 (RFC 9110 12.4.2: "not acceptable") still
    gets `application/x-ndjson`, with an error turned into a 200 answer carrying an {error} line
    (a client that refused the stream reads the HTTP status and the JSON body)."""
    cid = _approved(site, "count")
    resp = _post_execute(site.alice, cid, accept)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json"), resp.headers["content-type"]
    assert resp.json()["status"] == "executed"


def test_a_media_type_differing_in_case_is_the_same_media_type(site):
    """HOLE (minor): media types are case-insensitive (RFC 9110 8.3.1); `Application/X-NDJSON`
    gets the plain report, not the stream."""
    cid = _approved(site, "count")
    resp = _post_execute(site.alice, cid, "Application/X-NDJSON")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith(NDJSON), resp.headers["content-type"]


# ---------------------------------------------------------------- a client that went away, then a shutdown
def _execution_after_shutdown(tmp_path, accept: str | None) -> tuple[str, list[str]]:
    """Start the slow contract, go away after the first line (or 1.5 s), stop the server
    (SIGTERM: a graceful shutdown), start it again: the contract's status and its executions."""
    s = _site(tmp_path, seconds=5.0)
    try:
        cid = _approved(s, "slow")
        headers = {"Content-Type": "application/json"}
        if accept:
            headers["Accept"] = accept
        try:
            with httpx.stream("POST", s.url + "/v1/contracts/execute", headers=headers, timeout=1.5,
                              content=s.alice.sign(EXECUTE, {"contract": cid}).to_json()) as resp:
                for _ in resp.iter_lines():
                    break  # the first stage: the function runs; the client goes away
        except httpx.ReadTimeout:
            pass  # without the header nothing comes before the report: the client gives up
        time.sleep(0.5)
        s.proc.terminate()
        s.proc.wait(timeout=60)
        s.log.close()
        s.start()
        st = s.alice.status(cid)
        return st["status"], [e["status"] for e in st["executions"]]
    finally:
        s.stop()


def test_without_the_header_a_shutdown_lets_the_execution_finish(tmp_path):
    """Held (the reference of the next test): the graceful shutdown waits for the request."""
    assert _execution_after_shutdown(tmp_path, None) == ("executed", ["executed"])


def test_a_streamed_execution_whose_client_went_away_is_not_cut_by_a_graceful_shutdown(tmp_path):
    """HOLE: stages.py says the execution "goes on to its end even if the client goes away", but
    once the stream's client disconnected the execution is a bare task in `app.state.executions`
    that nothing waits for: uvicorn sees no open request, the lifespan closes the escrow under
    the running function, and the execution ends `interrupted` (the contract `approved` again)
    where the same request without the header ran to its end. Any recipient can make every
    long execution it starts depend on the server staying up (and on the operator's restarts)."""
    assert _execution_after_shutdown(tmp_path, NDJSON) == ("executed", ["executed"])


# ============================================================================ what held

def test_refusals_are_plain_error_answers_never_a_stream(site):
    cid = _approved(site, "both")  # bob has not approved
    for accept in (NDJSON, f"{NDJSON}, application/json", "*/*"):
        resp = _post_execute(site.alice, cid, accept)
        assert resp.status_code == 409 and resp.headers["content-type"].startswith("application/json")
        assert resp.json()["code"] == "awaiting_approval"
    resp = _post_execute(site.bob, cid, NDJSON)  # not a recipient
    assert resp.status_code in (403, 409) and resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"code", "message"}


def test_a_second_concurrent_streamed_execution_is_refused_before_any_stage(tmp_path):
    s = _site(tmp_path, seconds=3.0)
    try:
        cid = _approved(s, "slow")
        headers = {"Content-Type": "application/json", "Accept": NDJSON}
        with httpx.stream("POST", s.url + "/v1/contracts/execute", headers=headers, timeout=60,
                          content=s.alice.sign(EXECUTE, {"contract": cid}).to_json()) as first:
            lines = first.iter_lines()
            assert json.loads(next(lines)) == {"stage": "compute"}
            second = _post_execute(s.alice, cid, NDJSON)
            assert second.status_code == 409 and second.json()["code"] == "already_running"
            rest = [json.loads(x) for x in lines if x.strip()]
        assert rest[-1]["report"]["status"] == "executed"
    finally:
        s.stop()


def test_plain_accept_values_get_the_plain_report(site):
    for k, accept in enumerate((None, "application/json", "*/*", "text/html, application/json;q=0.9")):
        resp = _post_execute(site.alice, _approved(site, f"p{k}"), accept)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
        assert resp.json()["status"] == "executed"


def test_clients_that_go_away_mid_stream_leave_no_thread_nor_claim_behind(tmp_path):
    """More streamed executions than `server.threads`, each client gone after its first line:
    every execution still ends `executed`, and the server answers reads meanwhile and after."""
    s = _site(tmp_path, seconds=1.0, extra_config="  threads: 2\n")
    try:
        text = s.dsc_file.read_text()
        for k in range(5):
            text += f"\ncontract slow{k} {{\n  by alice\n  compute slow(data = alice.t)\n  to alice\n}}\n"
        s.dsc_file.write_text(text)
        cids = [_approved(s, f"slow{k}") for k in range(5)]
        for cid in cids:
            with httpx.stream("POST", s.url + "/v1/contracts/execute",
                              headers={"Content-Type": "application/json", "Accept": NDJSON}, timeout=60,
                              content=s.alice.sign(EXECUTE, {"contract": cid}).to_json()) as resp:
                assert resp.status_code == 200
                for _ in resp.iter_lines():
                    break
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [s.alice.status(c)["status"] for c in cids]
            if all(x == "executed" for x in states):
                break
            time.sleep(0.3)
        assert states == ["executed"] * 5
        assert s.alice.execute(_approved(s, "count"), progress=lambda _: None)["status"] == "executed"
    finally:
        s.stop()


# ---------------------------------------------------------------- error lines say nothing internal
SECRET = "S3CR3T-in-an-exception-7f3a"


class _StubEscrow:
    def __init__(self, exc: BaseException, stages=("verifying", "require", "compute")):
        self.exc, self.stages = exc, stages

    def execute(self, req, progress):
        for s in self.stages:
            progress(s)
        raise self.exc


def _stub_app(stub):
    from fastapi import FastAPI

    from datastation.runtime.server.stages import execute_streamed

    app = FastAPI()

    @app.post("/x")
    async def x(request: Request):
        return await execute_streamed(request, stub, None)

    return app


@pytest.mark.parametrize("make, code", [
    (lambda: RuntimeError(SECRET), "DSC099"),
    (lambda: KeyError(SECRET), "DSC099"),
    (lambda: __import__("datastation.runtime.store", fromlist=["StoreError"]).StoreError(SECRET), "unavailable"),
])
def test_an_error_line_carries_no_internal_message(make, code):
    from fastapi.testclient import TestClient

    with TestClient(_stub_app(_StubEscrow(make()))) as tc:
        resp = tc.post("/x", headers={"Accept": NDJSON})
        lines = [json.loads(x) for x in resp.text.splitlines() if x.strip()]
    assert resp.status_code == 200 and lines[:2] == [{"stage": "require"}, {"stage": "compute"}]
    assert lines[-1]["error"]["code"] == code and SECRET not in resp.text
    with TestClient(_stub_app(_StubEscrow(make(), stages=("verifying",)))) as tc:
        resp = tc.post("/x", headers={"Accept": NDJSON})  # before any stage: a plain error answer
    assert resp.status_code in (500, 503) and resp.json()["code"] == code and SECRET not in resp.text


# ---------------------------------------------------------------- a hostile stream read by the client
@pytest.mark.parametrize("lines", [
    [b"not json\n"],
    [b"[1, 2]\n"],
    [b'{"stage": 5}\n'],
    [b'{"report": "executed"}\n'],
    [b'{"error": "x"}\n'],
    [b'{"stage": "compute"}\n'],  # ends before any report
    [b'{"stage": "compute"}\n', b'{"error": {"code": null, "message": {"a": 1}}}\n'],
    [b'{"stage": "compute"}\n{"rep'],  # cut mid-line
    [b"\xff\xfe\n"],
])
def test_a_hostile_stream_ends_in_a_remote_error_not_in_success(site, lines):
    cid = _approved(site, "count")
    proxy = _HostileProxy(site.url, lines)
    try:
        from datastation.client import Client

        c = Client(proxy.url, "alice", keyring=site.alice.home / ".config" / "datastation" / "keys")
        seen = []
        with pytest.raises(RemoteError):
            c.execute(cid, progress=seen.append)
        c.close()
    finally:
        proxy.close()
    assert site.alice.status(cid)["status"] == "approved"  # the proxy ran nothing


def test_a_deeply_nested_line_is_no_traceback_of_dsc_execute(site, monkeypatch, capsys):
    """`json.loads` raises RecursionError (not a ValueError) on a line nested 100000 deep: the
    client lets it out (as `_answer`'s `resp.json()` did before), but `dsc` answers exit 2,
    `internal error`, no traceback."""
    from datastation.runtime.cli import main

    cid = _approved(site, "count")
    proxy = _HostileProxy(site.url, [b"[" * 100000 + b"\n"])
    try:
        monkeypatch.setenv("DSC_KEYRING", str(site.alice.home / ".config" / "datastation" / "keys"))
        for var in ("DSC_ESCROW", "DSC_AGENT", "DSC_ESCROW_ID", "DSC_CONFIG", "DSC_DEBUG"):
            monkeypatch.delenv(var, raising=False)
        code = main(["execute", cid, "--as", "alice", "--escrow", proxy.url])
        err = capsys.readouterr().err
    finally:
        proxy.close()
    assert code == 2 and "Traceback" not in err, err


# ---------------------------------------------------------------- the review page's withdraw button
def _view(client, cid: str) -> str:
    body = {name: json.loads(client.sign(action, {"contract": cid}).to_json())
            for name, action in (("summary", READ_SUMMARY), ("status", READ_STATUS), ("audit", READ_AUDIT),
                                 ("graph", READ_GRAPH))}
    resp = httpx.post(client.url + "/review/contract", content=json.dumps(body),
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.text


def _revoke_label(html: str) -> str | None:
    import re

    m = re.search(r'<button type="submit" id="revoke">([^<]*)</button>', html)
    return m.group(1) if m else None


def test_the_withdraw_button_does_what_its_label_says(site):
    from datastation.runtime.escrow.actions import REVOKE

    alice, bob = site.alice, site.bob
    # bob approved a pending contract of alice's: "your approval"; revoking withdraws only it
    cid = alice.propose(site.dsc_file, "both")["contract"]["id"]
    bob.approve(cid)
    assert _revoke_label(_view(bob, cid)) == "Withdraw your approval of both"
    assert _revoke_label(_view(alice, cid)) == "Withdraw contract both"
    bob.send(bob.sign(REVOKE, {"contract": cid}))
    st = alice.status(cid)
    assert st["status"] == "pending" and not any(a["agent"] == "bob" for a in st.get("approvals") or [])
    # the proposer withdraws the contract
    alice.send(alice.sign(REVOKE, {"contract": cid}))
    assert alice.status(cid)["status"] == "revoked" and _revoke_label(_view(alice, cid)) is None
    # a failed attempt: the proposer who approved is offered "your approval", and that is what goes
    cid = _approved(site, "too_few")
    assert alice.execute(cid)["status"] == "failed"
    assert _revoke_label(_view(alice, cid)) == "Withdraw your approval of too_few"
    alice.send(alice.sign(REVOKE, {"contract": cid}))
    st = alice.status(cid)
    assert st["status"] == "failed" and not st.get("approvals")
    assert _revoke_label(_view(alice, cid)) is None
    # an executed contract offers nothing (the escrow refuses it: closed)
    cid = _approved(site, "count")
    alice.execute(cid)
    assert _revoke_label(_view(alice, cid)) is None
    with pytest.raises(RemoteError) as exc:
        alice.send(alice.sign(REVOKE, {"contract": cid}))
    assert exc.value.code == "closed"


def test_the_withdraw_form_escapes_what_it_quotes():
    from datastation.runtime.server.review_html import _withdraw

    name = '"><img src=x onerror=alert(1)><b x="'
    out = _withdraw("alice", {"contract": name}, {"status": "pending", "proposer": "alice"}, 'a"b<c', set())
    assert "<img" not in out and "<b " not in out and 'data-contract="a&quot;b&lt;c"' in out
    out = _withdraw("bob", {"contract": name}, {"status": "failed", "proposer": "alice"}, "c", {"bob"})
    assert "<img" not in out and "Withdraw your approval of &quot;&gt;&lt;img" in out
