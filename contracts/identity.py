"""A contract's canonical form and its sha256 identity.

The canonical form is deterministic JSON of the contract's IR: sorted keys, no spans or
comments, every expression, recipients sorted, kept inputs by name. The identity hashes
that form together with the source hash of every function the contract calls (its
computation and every function in its conditions), so editing the contract, an argument
or a function's code makes a new contract, and voids every approval of the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from datastation.dsl import ir

from .functions import FunctionSource
from .model import Scenario

IDENTITY_VERSION = 1


class IdentityError(Exception):
    """A function the contract calls cannot be found, so the contract has no identity."""


_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's compared fields but its span, in order


def canonical(node):
    """A JSON-ready value for an IR node: tagged dicts, spans dropped, identifiers as strings."""
    if isinstance(node, ir.Ident):
        return node.name
    cls = type(node)
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(node) and not isinstance(node, type):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(node) if f.name != "span" and f.compare)
    if names is not None:
        out = {"node": cls.__name__}
        for name in names:
            out[name] = canonical(getattr(node, name))
        return out
    if isinstance(node, (tuple, list)):
        return [canonical(x) for x in node]
    if isinstance(node, float) and node.is_integer():
        return node  # json keeps 1.0 distinct from 1
    return node


def contract_form(contract: ir.Contract) -> dict:
    form = canonical(contract)
    form["to"] = sorted(set(form["to"]))
    return form


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def dumps(value) -> str:
    """The one JSON encoding used for hashing: sorted keys, no spaces, ASCII only."""
    return _ENCODER.encode(value)


@dataclass(frozen=True, slots=True)
class Identity:
    contract: str
    sha256: str
    canonical: str  # the exact JSON text that was hashed
    functions: dict  # name -> FunctionSource


def function_hashes(scenario: Scenario, contract: ir.Contract, strict: bool = True) -> dict[str, FunctionSource]:
    out: dict[str, FunctionSource] = {}
    missing = []
    for name in scenario.called_functions(contract):
        found = scenario.functions.resolve(name)
        if found is None:
            missing.append(name)
        else:
            out[name] = found
    if missing and strict:
        raise IdentityError(f"function{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
    return out


def identity_document(contract: ir.Contract, functions: dict[str, FunctionSource]) -> dict:
    return {
        "version": IDENTITY_VERSION,
        "contract": contract_form(contract),
        "functions": {
            name: {"origin": f.origin, "sha256": f.sha256} for name, f in sorted(functions.items())
        },
    }


def identity(scenario: Scenario, contract: ir.Contract | str) -> Identity:
    """The identity of `contract` (or the contract of that name) in `scenario`."""
    if isinstance(contract, str):
        contract = scenario.contracts[contract]
    functions = function_hashes(scenario, contract)
    text = dumps(identity_document(contract, functions))
    return Identity(
        contract=contract.name.name,
        sha256=hashlib.sha256(text.encode("ascii")).hexdigest(),
        canonical=text,
        functions=functions,
    )


def identity_of_document(doc: dict) -> str:
    """Recompute the hash of a stored identity document (used to re-verify before execution)."""
    return hashlib.sha256(dumps(doc).encode("ascii")).hexdigest()


# Which fields of which nodes hold an `Ident` (stored as a bare string in the canonical form).
_IDENT_FIELDS = {
    ("Contract", "name"), ("Contract", "by"), ("Contract", "keep_as"), ("Contract", "to"),
    ("Call", "func"), ("Keyword", "name"), ("Attribute", "attr"), ("ForAll", "var"),
}
_NODES = {cls.__name__: cls for cls in (
    ir.Contract, ir.Call, ir.Keyword, ir.Name, ir.Attribute, ir.Str, ir.Num, ir.Bool, ir.ListExpr,
    ir.UnaryOp, ir.BinOp, ir.ForAll,
)}


def from_canonical(value):
    """The IR node a canonical form stands for (the inverse of `canonical` for contracts).

    Execution rebuilds the contract from the canonical form whose hash is its identity, so what
    runs is exactly what was hashed and approved. Spans are lost (conditions keep no line).
    """
    if isinstance(value, list):
        return tuple(from_canonical(v) for v in value)
    if not isinstance(value, dict):
        return value
    name = value.get("node")
    cls = _NODES.get(name)
    if cls is None:
        raise ValueError(f"unknown node {name!r} in a canonical form")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name == "span" or f.name not in value:
            continue
        v = value[f.name]
        if (name, f.name) in _IDENT_FIELDS:
            if isinstance(v, list):
                kwargs[f.name] = tuple(ir.Ident(name=x) for x in v)
            else:
                kwargs[f.name] = ir.Ident(name=v) if v is not None else None
        else:
            kwargs[f.name] = from_canonical(v)
    return cls(**kwargs)
