"""Standing-policy semantics: which rules of an owner's policy decide a contract, and how.

Policies name functions by **identity**, never by a name someone else could reuse. A rule
`allow|deny FUNCTION [on DATA, ...] [to AGENT, ...] [except FUNCTION, ...]` is first *bound*
to its owner's program: FUNCTION (unless it is the wildcard `any` or `*`) and every `except`
name resolve to one function, a built-in or a function of a module the owner's file `use`s,
recorded as a `FunctionId` (name, origin, source hash). In the escrow the hash is that of the
function's closure, resolved when the owner applies the policy (`dsc policy apply`); in the
checker, policies and contracts share one file, so both sides resolve in the same program.
A rule *names* a called function `f` when `f` is not one of its excepted functions and either
FUNCTION is a wildcard or `f` has FUNCTION's identity (same name, origin and source hash).

A contract presents three facts:

* **F**: every function it calls, each as a `FunctionId`: its `compute`/`keep` call, every call
  nested in that call's arguments, and every call in its `require` and `ensure` conditions;
  and, for every kept result it reads, every function of that result's provenance (the
  functions the contract that keeps it calls, and theirs for the kept results *it* reads, and
  so on): a policy judges the whole chain that made what it releases, not its last step;
* **D**: the original data elements of the owner that it uses, in its computation or its
  conditions (kept results expanded through their provenance);
* **T**: its recipients (none for a contract that only keeps its result).

The owner's decision:

* a `deny` rule matches when it names **some** function of F, **some** element of D matches
  its `on` patterns, and **some** recipient matches its `to` patterns;
* an `allow` rule covers a pair (f, d) of F × D when it names f, d matches its `on`
  patterns, and **every** recipient matches its `to` patterns;
* **deny** if some deny rule matches (a deny always beats an allow); otherwise **allow** if
  every pair of F × D is covered by some allow rule (every function the contract calls is
  allowed on every data element of the owner it uses); otherwise no decision: the owner
  decides by hand. A contract that uses none of the owner's data, or calls no function, gets
  no decision.

Omitted `on` means every data element of the owner; omitted `to` means any recipient. A
contract with no recipient (it only keeps its result) is covered by an allow whose `to` is
omitted or says `any`, never by `to AGENT`: a rule about who may receive a result does not
speak for a result kept for later contracts. Rules
only ever speak for the data of the policy's owner. A name that resolved to nothing (refused
when a policy is applied, DSC064 in `dsc check`) names and excepts nothing.

This module is the one implementation: the checker (unapprovable contracts, unreachable
goals), the language server and the escrow (`contracts.policy`) all decide through it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from . import ir

ALLOW, DENY = "allow", "deny"
UNKNOWN = "unknown"  # the origin of a called function that resolves to nothing


@dataclass(frozen=True, slots=True)
class FunctionId:
    """A function as policies know it: its name, origin ("stdlib" | "user") and source hash.

    Two identities are equal when name, origin and hash are; `module` only says where it was
    found (a `use` path or a stdlib module) and is left out of the comparison."""

    name: str
    origin: str
    sha256: str
    module: str = field(default="", compare=False)

    def describe(self) -> str:
        where = f" {self.module}" if self.module else ""
        return f"{self.name} ({self.origin}{where}, sha256 {self.sha256[:12]})"

    def to_json(self) -> dict:
        return {"name": self.name, "origin": self.origin, "module": self.module, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: dict) -> "FunctionId":
        return cls(name=str(value["name"]), origin=str(value["origin"]), sha256=str(value["sha256"]),
                   module=str(value.get("module") or ""))


@dataclass(frozen=True, slots=True)
class BoundRule:
    """A rule with its function names resolved in its owner's program."""

    rule: ir.Rule
    function: FunctionId | None = None  # FUNCTION's identity (None: a wildcard, or a name that did not resolve)
    excepted: frozenset[FunctionId] = frozenset()

    def names(self, f: FunctionId) -> bool:
        if f in self.excepted:
            return False
        if self.rule.function.is_wildcard:
            return True
        return self.function is not None and self.function == f


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """What policies look at: every function called, original data used, recipients."""

    functions: frozenset[FunctionId]
    data: frozenset[str]  # original DE keys "owner.name"
    to: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    effect: str | None  # "allow" | "deny" | None (no rule decides: the owner decides by hand)
    rule: BoundRule | None = None


def bind(rule: ir.Rule, resolve: Callable[[str], FunctionId | None]) -> BoundRule:
    """`rule` with its function names resolved by `resolve` (name -> identity, or None)."""
    function = None if rule.function.is_wildcard else resolve(rule.function.value)
    excepted = frozenset(f for f in (resolve(e.name) for e in rule.except_) if f is not None)
    return BoundRule(rule, function, excepted)


def unresolved(rule: ir.Rule, resolve: Callable[[str], FunctionId | None]) -> list[str]:
    """The function names of `rule` that `resolve` does not know."""
    names = [] if rule.function.is_wildcard else [rule.function.value]
    return [n for n in [*names, *(e.name for e in rule.except_)] if resolve(n) is None]


def data_matches(rule: ir.Rule, key: str) -> bool:
    if not rule.data:
        return True
    owner, _, name = key.partition(".")
    return any(p.matches(owner, name) for p in rule.data)


def to_any(rule: ir.Rule, to: Iterable[str]) -> bool:
    return not rule.to or any(p.matches(a) for p in rule.to for a in to)


def to_all(rule: ir.Rule, to: Iterable[str]) -> bool:
    """Every recipient matches the rule's `to`. A contract with no recipient (it only keeps its
    result) matches a `to` list only when that list says `any` (or `*`)."""
    to = list(to)
    if rule.to and not to:
        return any(p.is_wildcard for p in rule.to)
    return not rule.to or all(any(p.matches(a) for p in rule.to) for a in to)


def decide(owner: str, rules: Sequence[BoundRule], facts: ContractFacts) -> Decision:
    """The decision of `owner`'s rules (in source order) on a contract; see the module docstring."""
    mine = sorted(k for k in facts.data if k.split(".", 1)[0] == owner)
    if not mine or not facts.functions:
        return Decision(None)
    functions = sorted(facts.functions, key=lambda f: (f.name, f.origin, f.sha256))
    for b in rules:
        r = b.rule
        if r.effect == DENY and to_any(r, facts.to) and any(b.names(f) for f in functions) \
                and any(data_matches(r, k) for k in mine):
            return Decision(DENY, b)
    allows = [(i, b) for i, b in enumerate(rules) if b.rule.effect == ALLOW and to_all(b.rule, facts.to)]
    first: int | None = None
    for key in mine:
        for f in functions:
            cover = next((i for i, b in allows if b.names(f) and data_matches(b.rule, key)), None)
            if cover is None:
                return Decision(None)
            first = cover if first is None else min(first, cover)
    return Decision(ALLOW, rules[first])


# ---------------------------------------------------------------- the checker's view


class _ProgramView:
    """Identities and bound rules of one checked program (`Symbols`), computed once."""

    def __init__(self, symbols):
        self.symbols = symbols
        self.ids: dict[str, FunctionId | None] = {}
        self.rules: dict[str, list[BoundRule]] = {}

    def function_id(self, name: str) -> FunctionId | None:
        if name not in self.ids:
            sig = self.symbols.functions.get(name)
            self.ids[name] = None if sig is None else FunctionId(
                name=name, origin="stdlib" if sig.builtin else "user", sha256=sig.source_hash,
                module=sig.path.name if sig.path is not None else "")
        return self.ids[name]

    def called(self, name: str) -> FunctionId:
        return self.function_id(name) or FunctionId(name, UNKNOWN, "")

    def bound_rules(self, owner: str) -> list[BoundRule]:
        if owner not in self.rules:
            self.rules[owner] = [bind(r, self.function_id) for r in self.symbols.policies.get(owner, ())]
        return self.rules[owner]


_VIEWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _view(symbols) -> _ProgramView:
    view = _VIEWS.get(symbols)
    if view is None:
        view = _VIEWS[symbols] = _ProgramView(symbols)
    return view


def function_id(symbols, name: str) -> FunctionId | None:
    """The identity the checker gives the function `name` of a program (None if unknown)."""
    return _view(symbols).function_id(name)


def called_names(symbols, contract: ir.Contract) -> list[str]:
    """Every function a contract calls: its computation (nested calls included) and conditions."""
    exprs = ([contract.call] if contract.call is not None else []) + [*contract.requires, *contract.ensures]
    return list(dict.fromkeys(c.func.name for e in exprs for c in symbols.calls(e)))


def facts_of(symbols, contract: ir.Contract) -> ContractFacts:
    """The policy facts of a contract, from the checker's `Symbols`."""
    view = _view(symbols)
    names = dict.fromkeys(called_names(symbols, contract))
    seen, todo = {id(contract)}, [contract]
    while todo:  # the provenance chain: contracts keeping the kept results read, transitively
        c = todo.pop()
        for key in (*symbols.contract_inputs(c), *symbols.condition_inputs(c)):
            keeper = symbols.kept.get(key) if key not in symbols.data else None
            if keeper is not None and id(keeper) not in seen:
                seen.add(id(keeper))
                todo.append(keeper)
                names.update(dict.fromkeys(called_names(symbols, keeper)))
    return ContractFacts(
        functions=frozenset(view.called(n) for n in names),
        data=frozenset(symbols.source_data(contract)),
        to=frozenset(t.name for t in contract.to),
    )


def contract_decisions(symbols, contract: ir.Contract) -> dict[str, Decision]:
    """Each source agent's standing decision on a contract (agents without a policy are absent)."""
    if contract.call is None:
        return {}
    policies = symbols.policies
    if not any(k.split(".", 1)[0] in policies for k in symbols.source_data(contract)):
        return {}  # none of the owners involved has a policy
    facts = facts_of(symbols, contract)
    view = _view(symbols)
    out: dict[str, Decision] = {}
    for owner in sorted({k.split(".", 1)[0] for k in facts.data}):
        rules = view.bound_rules(owner)
        if rules:
            out[owner] = decide(owner, rules, facts)
    return out
