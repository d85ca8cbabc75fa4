"""Released results as their recipient reads them back: the outbox copy released to one agent,
checked against its release record and opened with that agent's own key.

    rel = release_for(ctx, contract_id, "bank1")   # refusal unless bank1 received a release
    res = open_release(ctx, rel, private_key)       # plaintext bytes, hashes checked, kind known

Reading changes nothing and is not a signed action: the outbox file is the recipient's already.
Holding the key is what `--as` proves (a sealed copy opens only with it); decoding the bytes
into a value is the caller's (`datastation.stdlib.serialize.from_bytes`, never pickle).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from datastation.contracts.status import ContractStatus
from datastation.stdlib.serialize import EXTENSIONS

from ..crypto.results import open_result
from ..crypto.stream import CryptoError
from ..store import ReleaseRow
from .context import EscrowRefusal
from .execution import SEALED_SUFFIX
from .facts import contract_facts
from .lifecycle import contract_row, party_contract


@dataclass(frozen=True)
class ReleasedResult:
    contract_id: str
    name: str
    recipient: str
    path: str  # the outbox file
    kind: str  # a `serialize.KINDS` kind: table, model or json
    data: bytes  # the plaintext, as `serialize.to_bytes` made it
    sha256: str  # of `data`, as the release record holds it


def kind_of_path(path: str) -> str:
    """The result kind an outbox file name gives (`<contract>-<id8><ext>[.sealed]`)."""
    name = Path(path).name.removesuffix(SEALED_SUFFIX)
    for kind, ext in sorted(EXTENSIONS.items(), key=lambda kv: -len(kv[1])):  # ".model.json" before ".json"
        if name.endswith(ext):
            return kind
    raise EscrowRefusal("bad_release", f"the released file {name} is not a result the escrow writes")


def release_for(ctx, cid: str, agent: str) -> ReleaseRow:
    """The release of contract `cid` to `agent`; a refusal (`not_recipient`, `not_released`) otherwise."""
    row = party_contract(ctx, cid, agent)
    mine = [r for r in ctx.store.releases(contract_id=row.id) if r.recipient == agent]
    if mine:
        return mine[0]
    recipients = contract_facts(ctx, row, need_data=False).recipients  # bound to the identity
    if agent not in recipients:
        who = ", ".join(recipients) or "nobody (its result is kept in the escrow)"
        raise EscrowRefusal("not_recipient", f"{agent} is not a recipient of contract {row.name}: its result goes to "
                                             f"{who} only")
    if row.status == ContractStatus.EXECUTED:  # executed, yet no release to a recipient: a damaged store
        raise EscrowRefusal("record_tampered", f"contract {row.name} was executed but records no release to {agent}")
    raise EscrowRefusal("not_released", f"contract {row.name} has released nothing (status {row.status}): see "
                                        f"`dsc status {row.id[:12]}`")


def release_file(ctx, rel: ReleaseRow) -> Path:
    """The outbox file of a release (looked up in this escrow's outbox when the escrow was moved)."""
    recorded = Path(rel.path)
    if recorded.is_file():
        return recorded
    return Path(ctx.config.outbox_path) / rel.recipient / recorded.name


def open_release(ctx, rel: ReleaseRow, private_key) -> ReleasedResult:
    """The plaintext of a release, opened with the recipient's `private_key` when sealed. The
    file must be the one recorded (its hash) and open to the recorded plaintext hash."""
    row = contract_row(ctx, rel.contract_id)
    path = release_file(ctx, rel)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise EscrowRefusal("no_release_file", f"the result of contract {row.name} released to {rel.recipient} is "
                                               f"not in the outbox any more ({path}: {exc.strerror})") from None
    if hashlib.sha256(blob).hexdigest() != (rel.file_hash or rel.content_hash):
        raise EscrowRefusal("record_tampered", f"{path} is not the file released to {rel.recipient}: its hash "
                                               f"differs from the release record")
    try:
        data = open_result(ctx.config, blob, rel.recipient, private_key)
    except CryptoError as exc:
        raise EscrowRefusal("bad_key", f"cannot open {path.name} as {rel.recipient}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != rel.content_hash:
        raise EscrowRefusal("record_tampered", f"{path} does not open to the released result (hash differs)")
    return ReleasedResult(contract_id=row.id, name=row.name, recipient=rel.recipient, path=str(path),
                          kind=kind_of_path(str(path)), data=data, sha256=rel.content_hash)
