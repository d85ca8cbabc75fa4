"""`Client`: one agent talking to a served escrow (`dsc serve`), signing every request with its
own key from its own keyring. The operations are those of the command line.

    from datastation.client import Client

    with Client("https://escrow.example:8750", "bank1") as c:   # key: ~/.config/datastation/keys/bank1.pem
        c.register(token)                                        # once, with the token of `dsc invite bank1`
        c.add_data("bank1.train", "data/bank1_train.csv")        # streamed; the signature binds its sha256
        cid = c.propose("fraud.dsc", "joint_model")["contract"]["id"]
        c.pending(); c.approve(cid); c.execute(cid)
        c.result(cid, "model.json")                              # only a recipient; unsealed with its key

Errors the escrow answers raise `RemoteError` (an `EscrowRefusal`: `.code` is the stable code,
`.status` the HTTP status). The private key never leaves this process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import ssl
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from ..escrow.actions import (
    APPROVE, APPROVE_MANY, DATA_ADD, DATA_REMOVE, EXECUTE, POLICY_APPLY, PROPOSE, PROPOSE_MANY, READ_AUDIT,
    READ_CONTRACTS, READ_DATA, READ_GRAPH, READ_POLICY, READ_RESULT, READ_STATUS, READ_SUMMARY, REGISTER, REJECT,
    REVOKE, STAGES,
)
from ..escrow.context import EscrowRefusal
from ..keyring import Keyring, check_pinned_escrow, keyring_path, new_passphrase
from ..keys import KeysError, SignedRequest, approval_message, check_name, escrow_id, make_request, public_pem, sign

NDJSON = "application/x-ndjson"  # an execution's stages, line by line (runtime/server/stages.py)
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
CHUNK = 1 << 20
# A connection idle this long is not reused: a server (or proxy) may be closing it, and a request
# sent as it closes is lost to a reset. Keep it well under the server's keep-alive
# (`server.serve.KEEP_ALIVE_SECONDS`, 75 s; most proxies: 60 s or more).
KEEPALIVE_SECONDS = 5.0
_FULL_ID = re.compile(r"[0-9a-f]{64}\Z")
UPLOAD_HEADER = "X-DSC-Request"


# The route of each signed action that is a plain JSON post (`send`).
ACTION_ROUTES = {PROPOSE: "/v1/contracts/propose", APPROVE: "/v1/contracts/approve", REJECT: "/v1/contracts/reject",
                 PROPOSE_MANY: "/v1/contracts/propose_many", APPROVE_MANY: "/v1/contracts/approve_many",
                 REVOKE: "/v1/contracts/revoke", EXECUTE: "/v1/contracts/execute", POLICY_APPLY: "/v1/policies/apply",
                 DATA_REMOVE: "/v1/data/remove"}


class RemoteError(EscrowRefusal):
    """The escrow refused (or could not answer) a request: `.code` stable, `.status` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 0):
        super().__init__(code, message)
        self.status = status


class Client:
    """An agent's connection to a served escrow."""

    def __init__(self, url: str, agent: str, *, keyring: Keyring | str | os.PathLike | None = None,
                 passphrase: str | bytes | None = None, passphrase_env: str | None = None,
                 escrow_id: str | None = None, verify: bool | str | os.PathLike | ssl.SSLContext = True, timeout: float = 600.0,
                 transport: httpx.BaseTransport | None = None):
        """`keyring`: the agent's own keyring (default: $DSC_KEYRING or ~/.config/datastation/keys);
        `passphrase` (or the variable `passphrase_env`) opens a protected key; `escrow_id` pins the
        escrow (as $DSC_ESCROW_ID does): the client signs nothing for another; `verify`: TLS (a CA
        bundle path, or False for a test certificate)."""
        self.url = url.rstrip("/")
        self.agent = check_name(agent)
        if not isinstance(keyring, Keyring):  # an explicit path wins over $DSC_KEYRING
            keyring = Keyring(Path(keyring).expanduser() if keyring is not None else keyring_path())
        self.keyring = keyring
        self._passphrase = passphrase.encode() if isinstance(passphrase, str) else passphrase
        self._passphrase_env = passphrase_env
        self._pinned = escrow_id
        if isinstance(verify, (str, os.PathLike)):  # a CA bundle (a private CA, a test certificate)
            verify = ssl.create_default_context(cafile=str(verify))
        self._http = httpx.Client(base_url=self.url, verify=verify, timeout=timeout, transport=transport,
                                  limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS))
        self._info: dict | None = None
        self._key = None

    def __repr__(self) -> str:
        return f"Client({self.url!r}, {self.agent!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ the escrow and the key
    def info(self) -> dict:
        """The escrow's id, public key, trust mode and limits (checked: the id is the key's)."""
        if self._info is None:
            info = self._answer(self._http.get("/v1/escrow"))
            if escrow_id(info["public_key"]) != info["escrow_id"]:
                raise KeysError("the server's escrow id is not derived from its public key: not talking to it")
            if self._pinned and info["escrow_id"] != self._pinned:
                raise KeysError(f"this server is escrow {info['escrow_id']}, not the pinned {self._pinned}: "
                                f"nothing was signed")
            check_pinned_escrow(info["escrow_id"])
            self._info = info
        return self._info

    @property
    def escrow_id(self) -> str:
        return self.info()["escrow_id"]

    def _private_key(self):
        if self._key is None:
            self._key = self.keyring.load(self.agent, self._passphrase, passphrase_env=self._passphrase_env)
        return self._key

    def sign(self, action: str, params: dict) -> SignedRequest:
        """A request for this escrow signed with the agent's key (a fresh nonce and timestamp)."""
        return make_request(self.agent, self._private_key(), action, params, escrow=self.escrow_id)

    # ------------------------------------------------------------------ transport
    def _answer(self, resp: httpx.Response):
        if resp.status_code >= 400:
            try:
                body = resp.json()
                code, message = str(body["code"]), str(body["message"])
            except (ValueError, KeyError, TypeError):
                code, message = f"http_{resp.status_code}", resp.text[:300] or resp.reason_phrase
            raise RemoteError(code, message, resp.status_code)
        return resp.json()

    def _post(self, path: str, action: str, params: dict):
        body = self.sign(action, params).to_json()
        return self._answer(self._http.post(path, content=body, headers={"Content-Type": "application/json"}))

    def send(self, request: SignedRequest, progress: Callable[[str], None] | None = None):
        """Post a request already signed (by `sign`) to the route of its action; the answer's JSON.
        An execution with `progress` is told each stage as the escrow begins it."""
        path = ACTION_ROUTES.get(request.action)
        if path is None:
            raise RemoteError("wrong_action", f"no route for the action {request.action!r}")
        if progress is not None and request.action == EXECUTE:
            return self._staged(path, request, progress)
        return self._answer(self._http.post(path, content=request.to_json(), headers={"Content-Type": "application/json"}))

    def _staged(self, path: str, request: SignedRequest, progress: Callable[[str], None]):
        """An execution answered line by line (`runtime/server/stages.py`): stages, then the report."""
        headers = {"Content-Type": "application/json", "Accept": f"{NDJSON}, application/json"}
        with self._http.stream("POST", path, content=request.to_json(), headers=headers) as resp:
            if resp.status_code >= 400 or not resp.headers.get("content-type", "").startswith(NDJSON):
                resp.read()
                return self._answer(resp)
            for line in resp.iter_lines():
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                if not isinstance(msg, dict):
                    msg = {}  # read as no answer at all, below
                if msg.get("stage") in STAGES:  # only the escrow's own stage names reach the display
                    progress(msg["stage"])
                elif "stage" in msg:
                    continue  # a stage this client does not know (a newer escrow): not shown
                elif isinstance(msg.get("report"), dict):
                    return msg["report"]
                elif isinstance(msg.get("error"), dict):
                    err = msg["error"]
                    raise RemoteError(str(err.get("code")), str(err.get("message")), resp.status_code)
                else:
                    raise RemoteError("unavailable", "the escrow's answer is not one this client reads", resp.status_code)
        raise RemoteError("unavailable", "the escrow's answer ended before the execution's report", 0)

    def _full_id(self, contract: str) -> str:
        """A full contract id (a prefix is resolved among this agent's contracts)."""
        return contract if _FULL_ID.match(contract) else self.status(contract)["id"]

    # ------------------------------------------------------------------ joining
    def register(self, token: str, display: str = "", *, no_passphrase: bool = False) -> dict:
        """Register this agent's public key with an invitation (`dsc invite AGENT` on the escrow's
        machine). Makes the key pair in the keyring first if it holds none: protected by the
        client's passphrase (or the environment, or a prompt), unless `no_passphrase`."""
        if not self.keyring.has(self.agent):
            pw = self._passphrase if self._passphrase else new_passphrase(
                self.agent, self._passphrase_env, no_passphrase=no_passphrase)
            self._key = self.keyring.create(self.agent, pw)
        key = self._private_key()
        req = make_request(self.agent, key, REGISTER, {"token": token, "public_key": public_pem(key),
                                                       "display": display}, escrow=self.escrow_id)
        return self._answer(self._http.post("/v1/agents/register", content=req.to_json(),
                                            headers={"Content-Type": "application/json"}))

    # ------------------------------------------------------------------ data
    def add_data(self, key: str, path: str | os.PathLike, *, format: str | None = None,
                 declared_schema: dict | None = None, replace: bool = False, progress: Progress | None = None) -> dict:
        """Upload the file `path` as data element `key` (OWNER.NAME, owner = this agent), streamed;
        the signed request binds the file's sha256 and size."""
        from ..data_schema import format_from_path

        fmt = format_from_path(path, format)
        digest, size = _file_sha256(path)
        req = self.sign(DATA_ADD, {"key": key, "format": fmt, "content_hash": digest, "size": size,
                                   "declared_schema": declared_schema, "replace": bool(replace)})
        header = base64.urlsafe_b64encode(req.to_json().encode()).decode().rstrip("=")
        return self._answer(self._http.post(
            "/v1/data/upload", content=_chunks(path, size, progress),
            headers={UPLOAD_HEADER: header, "Content-Type": "application/octet-stream", "Content-Length": str(size)}))

    def remove_data(self, key: str) -> dict:
        return self._post("/v1/data/remove", DATA_REMOVE, {"key": key})

    def data_list(self) -> list[dict]:
        """This agent's data elements (and kept results derived from them)."""
        return self._post("/v1/data/list", READ_DATA, {})

    # ------------------------------------------------------------------ the lifecycle
    def propose(self, dsc_path: str | os.PathLike, contract: str) -> dict:
        """Check the file here, then propose `contract` with its bundle (the .dsc and its modules)."""
        from datastation.contracts.identity import identity

        from ..escrow.bundle import make_bundle

        loaded = self._checked(dsc_path)
        if contract not in loaded.scenario.contracts:
            raise EscrowRefusal("no_contract", f"no contract {contract!r} in {dsc_path}")
        expected = identity(loaded.scenario, contract).sha256
        return self._post("/v1/contracts/propose", PROPOSE,
                          {"bundle": make_bundle(dsc_path), "contract": contract, "identity": expected})

    def propose_many(self, dsc_path: str | os.PathLike, contracts: list[str] | None = None) -> list[dict]:
        """Check the file here, then propose several of its contracts (default: every contract whose
        `by` is this agent) in one request, all or nothing; more than `MAX_BATCH` go in several
        requests, each all or nothing. One answer per contract, as `propose` gives it."""
        from datastation.contracts.identity import identity

        from ..escrow.bundle import make_bundle
        from ..escrow.lifecycle import MAX_BATCH, propose_many_params

        loaded = self._checked(dsc_path)
        names = list(contracts) if contracts is not None else \
            [n for n, c in loaded.scenario.contracts.items() if c.by is not None and c.by.name == self.agent]
        if not names:
            raise EscrowRefusal("no_contract", f"no contract in {dsc_path} is proposed by {self.agent}"
                                if contracts is None else "no contract named: nothing to propose")
        unknown = [n for n in names if n not in loaded.scenario.contracts]
        if unknown:
            raise EscrowRefusal("no_contract", f"no contract {unknown[0]!r} in {dsc_path}")
        expected = {n: identity(loaded.scenario, n).sha256 for n in names}
        bundle, out = make_bundle(dsc_path), []
        for k in range(0, len(names), MAX_BATCH):
            out += self._post("/v1/contracts/propose_many", PROPOSE_MANY,
                              propose_many_params(bundle, names[k:k + MAX_BATCH], expected))
        return out

    def _checked(self, dsc_path):
        from datastation.contracts.loading import load_checked

        loaded = load_checked(str(dsc_path))
        if not loaded.ok:
            first = "; ".join(f"{d.code} {d.message} ({d.span})" for d in loaded.errors[:3])
            raise EscrowRefusal("check_failed", f"{dsc_path} has errors, nothing was proposed: {first}")
        return loaded

    def approve_many(self, contracts: list[str],
                     confirm: Callable[[list[dict]], bool] | None = None) -> list[dict] | None:
        """Approve several contracts in one request (each approval its own signature of that
        contract's identity), all or nothing; more than `MAX_BATCH` go in several requests. A
        full identity hash is signed as given (the signature binds exactly it); a prefix of one,
        or any contract when `confirm` is given, is first read (its stored summary), and
        `confirm(summaries)` asked: what was read is what is approved. None when it said no."""
        from ..escrow.lifecycle import MAX_BATCH

        ids, summaries = [], []
        for ref in contracts:
            if confirm is None and isinstance(ref, str) and _FULL_ID.match(ref):
                ids.append(ref)
                continue
            summary = self.summary(ref)
            cid = summary["identity"]
            if summary.get("id") != cid or not cid.startswith(ref):
                raise EscrowRefusal("identity_mismatch", "the summary the escrow sent is not of the contract asked for")
            ids.append(cid)
            summaries.append(summary)
        if confirm is not None and not confirm(summaries):
            return None
        key, out = self._private_key(), []
        for k in range(0, len(ids), MAX_BATCH):
            approvals = [{"contract": c, "signature": sign(key, approval_message(self.escrow_id, c))}
                         for c in ids[k:k + MAX_BATCH]]
            out += self._post("/v1/contracts/approve_many", APPROVE_MANY, {"approvals": approvals})
        return out

    def approve(self, contract: str, confirm: Callable[[dict], bool] | None = None) -> dict | None:
        """Fetch the contract's stored summary, (ask `confirm(summary)`,) then sign its identity:
        what was read is what is approved. None when `confirm` said no."""
        summary = self.summary(contract)
        cid = summary["identity"]
        if summary.get("id") != cid or not cid.startswith(contract):
            raise EscrowRefusal("identity_mismatch", "the summary the escrow sent is not of the contract asked for")
        if confirm is not None and not confirm(summary):
            return None
        signature = sign(self._private_key(), approval_message(self.escrow_id, cid))
        return self._post("/v1/contracts/approve", APPROVE, {"contract": cid, "signature": signature})

    def reject(self, contract: str, reason: str) -> dict:
        return self._post("/v1/contracts/reject", REJECT, {"contract": self._full_id(contract), "reason": reason})

    def revoke(self, contract: str) -> dict:
        return self._post("/v1/contracts/revoke", REVOKE, {"contract": self._full_id(contract)})

    def apply_policy(self, path: str | os.PathLike) -> dict:
        """Register this agent's policy blocks of a .dsc file (applied at once to open contracts)."""
        from ..escrow.lifecycle import policy_params  # the file and the modules it `use`s

        return self._post("/v1/policies/apply", POLICY_APPLY, policy_params(path))

    def execute(self, contract: str, progress: Callable[[str], None] | None = None) -> dict:
        """Execute an approved contract (a recipient): the report; the result goes to the recipients.
        `progress(stage)` is told each stage (`require`, `compute`, `ensure`, `release`) as it begins."""
        return self.send(self.sign(EXECUTE, {"contract": self._full_id(contract)}), progress)

    # ------------------------------------------------------------------ reads
    def contracts(self, status: str | None = None, *, page: int = 1000) -> list[dict]:
        """The contracts this agent proposes, contributes data to or receives, in creation order
        (read `page` at a time: one signed request per page)."""
        return self._pages({"status": status} if status else {}, page)

    def pending(self, *, page: int = 1000) -> list[dict]:
        """The contracts waiting for this agent's approval, in creation order."""
        return self._pages({"pending": True}, page)

    def _pages(self, params: dict, page: int) -> list[dict]:
        out: list[dict] = []
        seen: set[str] = set()
        while True:  # to an empty page (a page may be short only in a store edited by hand)
            rows = self._post("/v1/contracts/list", READ_CONTRACTS,
                              {**params, "limit": page, **({"after": out[-1]["id"]} if out else {})})
            if not rows:
                return out
            ids = {r.get("id") for r in rows if isinstance(r, dict)}
            if len(ids) != len(rows) or ids & seen:  # a listing that does not move on would never end
                raise EscrowRefusal("bad_response", "the escrow answered a page of contracts already listed")
            seen |= ids
            out += rows

    def status(self, contract: str) -> dict:
        return self._post("/v1/contracts/status", READ_STATUS, {"contract": contract})

    def summary(self, contract: str) -> dict:
        """The owner's summary as the escrow stored it (what `dsc show ID` prints)."""
        return self._post("/v1/contracts/summary", READ_SUMMARY, {"contract": contract})

    def graph(self, contract: str) -> dict:
        """The contract's dataflow graph: {contract, name, dot} (render `dot` with Graphviz)."""
        return self._post("/v1/contracts/graph", READ_GRAPH, {"contract": contract})

    def policy(self) -> dict | None:
        return self._post("/v1/policies/mine", READ_POLICY, {})

    def audit(self, contract: str | None = None, after: int = 0, limit: int = 1000) -> list[dict]:
        """Audit entries about this agent's contracts and about itself (`after`: a sequence number)."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if contract is not None:
            params["contract"] = contract
        return self._post("/v1/audit/entries", READ_AUDIT, params)

    def result(self, contract: str, out_path: str | os.PathLike, progress: Progress | None = None) -> Path:
        """Download this agent's copy of a released result to `out_path` (streamed, its hash
        checked; a sealed copy is opened with the agent's key). Only a recipient gets one."""
        from ..crypto.results import open_sealed

        out = Path(out_path)
        part = out.with_name(out.name + ".part")
        body = self.sign(READ_RESULT, {"contract": contract}).to_json()
        try:
            with self._http.stream("POST", "/v1/results/fetch", content=body,
                                   headers={"Content-Type": "application/json"}) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._answer(resp)
                total = int(resp.headers.get("content-length") or 0)
                digest, done = hashlib.sha256(), 0
                with open(part, "wb") as fh:
                    for chunk in resp.iter_bytes(CHUNK):
                        fh.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                if digest.hexdigest() != resp.headers.get("x-dsc-file-sha256"):
                    raise RemoteError("corrupt", "the downloaded result does not match its released hash")
                sealed = resp.headers.get("x-dsc-sealed") == "1"
                content_hash = resp.headers.get("x-dsc-content-sha256")
            if sealed:
                plain = open_sealed(part.read_bytes(), self.agent, self._private_key())
                if hashlib.sha256(plain).hexdigest() != content_hash:
                    raise RemoteError("corrupt", "the opened result does not match its released hash")
                part.write_bytes(plain)
            os.replace(part, out)
        finally:
            part.unlink(missing_ok=True)
        return out


def _file_sha256(path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _chunks(path, size: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            done += len(chunk)
            if progress:
                progress(done, size)
            yield chunk
