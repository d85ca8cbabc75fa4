"""`RemoteEscrow`: a served escrow (`dsc serve`) behind the same methods the commands call on the
local `Escrow` facade, so that every lifecycle command works with `--escrow https://HOST:PORT`
(or `$DSC_ESCROW`) unchanged. `common.escrow_from` is the one place that chooses.

Every request is signed here, with the acting agent's key from this machine's keyring
(`datastation.client.Client`); reads are signed too, so a read needs an agent (`--as`, else
`$DSC_AGENT`). Answers come back as light objects with the attributes the commands read from
the local rows and reports. Uploads and downloads stream, with a progress bar on a terminal.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

AGENT_ENV = "DSC_AGENT"
_HEX = re.compile(r"[0-9a-f]+\Z")


def is_url(text: str | None) -> bool:
    return bool(text) and text.split("://", 1)[0].lower() in ("http", "https") and "://" in text


def _proposal(d: dict) -> SimpleNamespace:
    """A served proposal answer, read as the local `lifecycle.Proposal`."""
    return SimpleNamespace(row=_ns(d["contract"]), contract=_ns(d["contract"]),
                           decisions=[_ns(x) for x in d.get("decisions", ())])


def _ns(d: dict) -> SimpleNamespace:
    return SimpleNamespace(**d)


class _Status:
    def __init__(self, data: dict):
        self._data = data
        self.id, self.name, self.status = data["id"], data["name"], data["status"]

    def to_json(self) -> dict:
        return self._data


class _Report:
    """An execution report as the server answers it, with the attributes `narrate.report_lines` reads."""

    def __init__(self, d: dict):
        self._d = d
        self.contract_id, self.name, self.status = d["contract"], d["name"], d["status"]
        self.conditions = [SimpleNamespace(kind=c["kind"], line=c["line"], held=c["held"], text=c.get("condition", ""),
                                           error=c.get("error"), comparisons=[]) for c in d.get("conditions", ())]
        self.reads = list(d.get("reads") or ())
        self.releases = [(r["recipient"], r.get("path") or "its copy at the escrow (`dsc result`)")
                         for r in d.get("releases") or ()]
        self.kept, self.kind, self.error = d.get("kept"), d.get("kind"), d.get("error")
        self.forbidden_key, self.blocked = d.get("forbidden_key"), d.get("blocked")
        self.number, self.seconds = d.get("number") or "?", float(d.get("seconds") or 0.0)

    @property
    def failed_condition(self):
        return next((c for c in self.conditions if not c.held), None)

    def to_json(self, values: bool = False) -> dict:
        return self._d


class _Store:
    """The reads the commands make of a local store, as signed reads of one agent."""

    def __init__(self, remote: "RemoteEscrow"):
        self._r = remote

    def get_contract(self, cid: str):
        return _ns(self._r.client().status(cid))

    def audit_entries(self, contract: str | None = None, agent: str | None = None):
        from datastation.runtime.store.base import AuditEntry

        out, after = [], 0
        while True:
            page = self._r.client().audit(contract, after=after, limit=1000)
            out += [AuditEntry(**{k: e.get(k) for k in AuditEntry.__dataclass_fields__}) for e in page]
            if len(page) < 1000:
                break
            after = page[-1]["seq"]
        return [e for e in out if agent is None or e.actor == agent or (e.payload or {}).get("agent") == agent]


class RemoteEscrow:
    """The escrow served at `url`, acting for (and signing as) the agents of this machine's keyring."""

    remote = True

    def __init__(self, url: str, agent: str | None, passphrase_env: str | None = None):
        from datastation.runtime.keyring import Keyring, keyring_path

        self.url = url
        self.agent = agent or os.environ.get(AGENT_ENV) or None
        self.passphrase_env = passphrase_env
        self.keyring = Keyring(keyring_path())
        self.store = _Store(self)
        self.ctx = SimpleNamespace(store=self.store)
        self._clients: dict = {}
        ca = os.environ.get("DSC_CA_BUNDLE")  # a private CA (or a test certificate)
        self._verify = ca if ca else True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self._clients.values():
            c.close()

    def client(self, agent: str | None = None, passphrase_env: str | None = None):
        from datastation.runtime.client import Client
        from datastation.runtime.escrow import EscrowRefusal

        agent = agent or self.agent
        if not agent:
            raise EscrowRefusal("malformed", f"{self.url} is a served escrow: every read is signed, so name the agent "
                                             f"reading with --as AGENT (or ${AGENT_ENV})")
        key = (agent, passphrase_env or self.passphrase_env)
        if key not in self._clients:
            self._clients[key] = Client(self.url, agent, keyring=self.keyring, passphrase_env=key[1],
                                        verify=self._verify)
        return self._clients[key]

    # ------------------------------------------------------------ signing and sending
    def sign_as(self, agent: str, action: str, params: dict, passphrase_env: str | None = None):
        return self.client(agent, passphrase_env).sign(action, params)

    def _send(self, request):
        return self.client(request.agent).send(request)

    def approval_params(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> dict:
        from datastation.runtime.keys import approval_message, sign

        c = self.client(agent, passphrase_env)
        return {"contract": contract_id, "signature": sign(c._private_key(), approval_message(c.escrow_id, contract_id))}

    # ------------------------------------------------------------ actions
    def create_agent(self, name: str, display: str = "", *, passphrase: bytes | None, invite: str | None = None):
        from datastation.runtime.escrow import EscrowRefusal

        if not invite:
            raise EscrowRefusal("bad_invite", f"{self.url} is a served escrow: joining needs the operator's consent, "
                                              f"a token of `dsc invite {name}` on its machine (--invite TOKEN)")
        c = self.client(name)
        c._passphrase = passphrase
        answer = c.register(invite, display, no_passphrase=passphrase is None)
        key = c._private_key()
        self.keyring.ensure_public(name, key)
        from datastation.runtime.keys import public_pem

        return SimpleNamespace(name=answer.get("name", name), display=answer.get("display", display),
                               public_key=public_pem(key))

    def upload(self, agent: str, key: str, path, fmt: str, declared, replace: bool, passphrase_env=None):
        with _bar(f"uploading {Path(path).name}") as progress:
            row = self.client(agent, passphrase_env).add_data(key, path, format=fmt, declared_schema=declared,
                                                               replace=replace, progress=progress)
        return _ns(row)

    def data_views(self, agent: str | None = None, passphrase_env: str | None = None) -> list[dict]:
        """The agent's data elements and kept results derived from them, as the server shows them."""
        return self.client(agent, passphrase_env).data_list()

    def remove_data(self, request):
        return _ns(self._send(request))

    def propose(self, request):
        return _proposal(self._send(request))

    def propose_many(self, request):
        return [_proposal(d) for d in self._send(request)]

    def approve(self, request):
        return _ns(self._send(request))

    def approve_many(self, request):
        return [_ns(d) for d in self._send(request)]

    def reject(self, request):
        return _ns(self._send(request))

    def revoke(self, request):
        return _ns(self._send(request))

    def apply_policy(self, request):
        d = self._send(request)
        return SimpleNamespace(owner=d["owner"], rules=list(d["rules"]),
                               decisions=[(x["contract"], x["name"], _ns(x)) for x in d.get("decisions", ())],
                               superseded=bool(d.get("superseded")))

    def execute(self, request, progress=None):
        if progress:
            progress("verifying")  # the server tells the stages after it, as they begin
        return _Report(self.client(request.agent).send(request, progress))

    # ------------------------------------------------------------ reads
    def _id(self, ref: str, agent: str | None = None) -> str:
        """A contract reference as the local escrow reads it: an id or an id prefix (the server
        matches it among the agent's contracts), else a name: the latest proposal of that name
        among the agent's contracts."""
        if _HEX.match(ref) and len(ref) >= 4:
            return ref
        named = [d for d in self.client(agent).contracts() if d["name"] == ref]
        return named[-1]["id"] if named else ref  # none: the server says no_contract

    def resolve(self, ref: str):
        return _ns(self.client().status(self._id(ref)))

    def resolve_id(self, ref: str) -> str:
        return self.resolve(ref).id

    def status(self, ref: str):
        return _Status(self.client().status(self._id(ref)))

    def contracts(self, status: str | None = None):
        return [_ns(d) for d in self.client().contracts(status)]

    def pending_for(self, agent: str):
        return [_ns(d) for d in self.client(agent).pending()]

    def summary(self, ref: str) -> dict:
        return self.client().summary(self._id(ref))

    def check_approver(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> None:
        self.client(agent, passphrase_env)._private_key()  # a key this machine does not hold fails first

    def policies(self, owner: str | None = None):
        if owner and owner != self.client().agent:
            from datastation.runtime.escrow import EscrowRefusal

            raise EscrowRefusal("not_allowed", f"a served escrow shows an agent its own policy only (--as {owner})")
        row = self.client().policy()
        return [] if row is None else [row]

    def result(self, agent: str, ref: str, passphrase_env: str | None = None):
        """The result released to `agent`, downloaded (streamed) and opened on this machine."""
        import hashlib

        c = self.client(agent, passphrase_env)
        st = c.status(self._id(ref, agent))
        with tempfile.TemporaryDirectory(prefix="dsc-result-") as tmp:
            with _bar(f"downloading the result of {st['name']}") as progress:
                out = c.result(st["id"], Path(tmp) / "result", progress=progress)
            data = out.read_bytes()
        return SimpleNamespace(contract_id=st["id"], name=st["name"], recipient=agent, path=f"from {self.url}",
                               kind=_kind(data), data=data, sha256=hashlib.sha256(data).hexdigest())


def _kind(data: bytes) -> str:
    """A released result's kind from its bytes: Parquet is a table, a model's JSON says its format."""
    import json

    if data[:4] == b"PAR1":
        return "table"
    try:
        value = json.loads(data)
    except ValueError:
        return "json"
    fmt = value.get("format") if isinstance(value, dict) else None
    return "model" if isinstance(fmt, str) and "model" in fmt else "json"


class _bar:
    """A rich progress bar on a terminal (standard error); nothing otherwise."""

    def __init__(self, what: str):
        self.what, self._p, self._task = what, None, None

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._p = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), console=Console(stderr=True), transient=True)
        self._p.start()
        self._task = self._p.add_task(self.what, total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self._p.update(self._task, completed=done, total=total or None)

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.stop()
