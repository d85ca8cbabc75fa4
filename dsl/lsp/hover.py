"""Hover texts (Markdown): what a contract does, a function's signature, a data element's facts."""

from __future__ import annotations

import re
from pathlib import Path

from .. import ir
from ..signatures import FunctionSig
from . import index as K
from .analysis import Analysis

_WS = re.compile(r"\s+")
MAX_LIST = 12


def source_of(a: Analysis, node) -> str:
    """The source text of a node on one line (whitespace runs collapsed)."""
    s = node.span
    if s.end <= s.start:
        return ""
    return _WS.sub(" ", a.text[s.start : s.end]).strip()


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"``{text}``"


def _agent(a: Analysis, name: str) -> str:
    agent = a.symbols.agents.get(name)
    if agent is not None and agent.display is not None:
        return f"**{name}** ({agent.display.value})"
    return f"**{name}**"


def _names(items, limit: int = MAX_LIST) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def hover_text(a: Analysis, occ: K.Occurrence) -> str | None:
    sym = a.symbols
    if occ.kind == K.CONTRACT and occ.key in sym.contracts:
        return contract_summary(a, sym.contracts[occ.key])
    if occ.kind == K.FUNCTION and occ.key in sym.functions:
        return function_text(sym.functions[occ.key])
    if occ.kind == K.DATA:
        keys = occ.keys or (occ.key,)
        parts = [data_text(a, sym.data[k]) for k in keys if k in sym.data]
        return "\n\n---\n\n".join(parts) if parts else None
    if occ.kind == K.AGENT and occ.key in sym.agents:
        return agent_text(a, occ.key)
    if occ.kind == K.KEPT and occ.key in sym.kept:
        return kept_text(a, occ.key)
    if occ.kind == K.VARIABLE:
        over = ", ".join(occ.keys) if occ.keys else "the items of its list"
        return f"loop variable **{occ.key}**: ranges over {over}"
    if occ.kind == K.PARAM and isinstance(occ.context, ir.Call):
        sig = sym.functions.get(occ.context.func.name)
        if sig is None:
            return None
        param = next((p for p in sig.params if p.name == occ.key), None)
        head = f"parameter **{occ.key}**" + (f": {_code(param.annotation)}" if param and param.annotation else "")
        return f"{head} of {_code(sig.name)}\n\n```python\ndef {sig.signature_text()}\n```"
    if occ.kind == K.RESULT_KIND and isinstance(occ.context, ir.Contract):
        c = occ.context
        text = f"**result**: the value computed by contract **{c.name.name}**"
        if c.call is not None:
            text += f": {_code(source_of(a, c.call))}"
            sig = sym.functions.get(c.call.func.name)
            if sig is not None and str(sig.returns) != "any":
                text += f" → {_code(str(sig.returns))}"
        return text
    if occ.kind == K.COLUMN:
        owner_key, col = occ.key.rsplit(".", 1)
        d = sym.data.get(owner_key)
        ctype = next((c.type.name for c in d.schema or () if c.name.name == col), "?") if d else "?"
        return f"column **{col}**: {_code(ctype)} of data **{owner_key}**"
    return None


def contract_summary(a: Analysis, c: ir.Contract) -> str:
    """Who contributes which data, what runs, who receives it and under which conditions."""
    sym = a.symbols
    lines = [f"**contract {c.name.name}**", ""]
    if c.by is not None:
        lines.append(f"- **proposed by** {_agent(a, c.by.name)}")
    if c.call is not None:
        lines.append(f"- **runs** {_code(source_of(a, c.call))}")
    sources = sorted(sym.source_data(c))
    by_owner: dict[str, list[str]] = {}
    for key in sym.contract_inputs(c):
        if key in sym.kept:
            origins = sorted(sym.origins(key))
            by_owner.setdefault("", []).append(f"{key} (kept, from {_names(origins)})" if origins else key)
        else:
            by_owner.setdefault(key.split(".", 1)[0], []).append(key)
    for owner, keys in by_owner.items():
        lines.append(f"- **computes on** {_names(keys)}" + (f" from {_agent(a, owner)}" if owner else ""))
    cond_inputs = sym.condition_inputs(c)
    if cond_inputs:
        lines.append(f"- **conditions read** {_names(cond_inputs)}")
    if c.keep_as is not None:
        owners = sorted(sym.owners(sources))
        lines.append(f"- **keeps** the result in the escrow as **{c.keep_as.name}**"
                     + (f" (owned by {_names(owners)})" if owners else ""))
    if c.to:
        lines.append(f"- **releases the result to** {_names(_agent(a, t.name) for t in c.to)}")
    elif c.keep_as is None:
        lines.append("- **releases the result to** nobody (no `to` clause)")
    approvers = sorted(sym.source_agents(c))
    if approvers:
        lines.append(f"- **needs the approval of** {_names(approvers)}")
    for cond in c.requires:
        lines.append(f"- **requires** (before the run) {_code(source_of(a, cond))}")
    for cond in c.ensures:
        lines.append(f"- **ensures** (on the result) {_code(source_of(a, cond))}")
    return "\n".join(lines)


def function_text(sig: FunctionSig) -> str:
    parts = [f"```python\ndef {sig.signature_text()}\n```"]
    if sig.doc:
        parts.append(sig.doc.strip())
    if sig.builtin:
        parts.append("*built-in function*")
    elif sig.path is not None:
        parts.append(f"*defined in {_code(Path(sig.path).name)}, line {sig.line}*")
    return "\n\n".join(parts)


def data_text(a: Analysis, d: ir.Data) -> str:
    lines = [f"**data {d.qualified}**", "", f"- **owner**: {_agent(a, d.owner.name)}",
             f"- **format**: {d.format.name}", f"- **path**: {_code(d.path.value)}"]
    if d.mock is not None:
        lines.append(f"- **mock**: {_code(d.mock.value)}")
    users = _users(a, d.qualified)
    if users:
        lines.append(f"- **used by**: {_names(users)}")
    if d.schema:
        lines += ["", "| column | type |", "| --- | --- |"]
        lines += [f"| {c.name.name} | {c.type.name} |" for c in d.schema]
    return "\n".join(lines)


def agent_text(a: Analysis, name: str) -> str:
    sym = a.symbols
    agent = sym.agents[name]
    lines = [f"**agent {name}**" + (f" — {agent.display.value}" if agent.display else ""), ""]
    owned = [k for k, d in sym.data.items() if d.owner.name == name]
    if owned:
        lines.append(f"- **owns**: {_names(owned)}")
    proposes = [c for c, v in sym.contracts.items() if v.by is not None and v.by.name == name]
    receives = [c for c, v in sym.contracts.items() if any(t.name == name for t in v.to)]
    if proposes:
        lines.append(f"- **proposes**: {_names(proposes)}")
    if receives:
        lines.append(f"- **receives the results of**: {_names(receives)}")
    if name in sym.policies:
        lines.append(f"- **standing policy**: {len(sym.policies[name])} rule(s)")
    return "\n".join(lines)


def kept_text(a: Analysis, name: str) -> str:
    sym = a.symbols
    c = sym.kept[name]
    sources = sorted(sym.origins(name))
    lines = [f"**kept result {name}**", "", f"- **computed by** contract **{c.name.name}**"
             + (f": {_code(source_of(a, c.call))}" if c.call is not None else "")]
    if sources:
        lines.append(f"- **derived from**: {_names(sources)}")
        lines.append(f"- **owners** (all must approve its use): {_names(sorted(sym.owners(sources)))}")
    users = _users(a, name, kind=K.KEPT)
    if users:
        lines.append(f"- **used by**: {_names(users)}")
    return "\n".join(lines)


def _users(a: Analysis, key: str, kind: str = K.DATA) -> list[str]:
    """Contracts whose expressions name a data key or a kept result."""
    out: dict[str, None] = {}
    for o in a.index.occurrences:
        if o.kind == kind and not o.decl and (o.key == key or key in o.keys) and isinstance(o.context, ir.Contract):
            out[o.context.name.name] = None
    return list(out)
