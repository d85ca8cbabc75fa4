"""Standing-policy semantics: which rules of an owner's policy decide a contract, and how.

A rule `allow|deny FUNCTION [on DATA, ...] [to AGENT, ...] [except FUNCTION, ...]` is read
against three facts of a contract: the function it computes, the original data elements it
uses (after expanding kept results through provenance) and its recipients.

* a `deny` rule matches when the function matches (and is not excepted), **some** of the
  owner's data used matches its `on` patterns, and **some** recipient matches its `to`;
* an `allow` rule covers a data element when the function matches (and is not excepted),
  the element matches its `on` patterns and **every** recipient matches its `to`;
* the owner's decision: deny if any deny rule matches (deny always beats allow), otherwise
  allow if every data element of theirs that the contract uses is covered by an allow rule,
  otherwise no decision (the owner decides by hand).

Omitted `on` means every data element of the owner; omitted `to` means any recipient. Rules
only ever speak for the data of the policy's owner. Conditions (`require`/`ensure`) are not
matched: they gate a release, they do not move data to anyone.

This module is the one implementation: the checker (unapprovable contracts, unreachable
goals), the language server and the escrow (`contracts.policy`) all decide through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from . import ir

ALLOW, DENY = "allow", "deny"


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """What policies look at: computed function, original data used, recipients."""

    function: str
    data: frozenset[str]  # original DE keys "owner.name"
    to: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    effect: str | None  # "allow" | "deny" | None (no rule decides: the owner decides by hand)
    rule: ir.Rule | None = None


def function_matches(rule: ir.Rule, function: str) -> bool:
    if any(e.name == function for e in rule.except_):
        return False
    return rule.function.matches(function)


def data_matches(rule: ir.Rule, key: str) -> bool:
    if not rule.data:
        return True
    owner, _, name = key.partition(".")
    return any(p.matches(owner, name) for p in rule.data)


def to_any(rule: ir.Rule, to: Iterable[str]) -> bool:
    return not rule.to or any(p.matches(a) for p in rule.to for a in to)


def to_all(rule: ir.Rule, to: Iterable[str]) -> bool:
    return not rule.to or all(any(p.matches(a) for p in rule.to) for a in to)


def decide(owner: str, rules: Sequence[ir.Rule], facts: ContractFacts) -> Decision:
    """The decision of `owner`'s rules (in source order) on a contract; see the module docstring."""
    mine = sorted(k for k in facts.data if k.split(".", 1)[0] == owner)
    if not mine:
        return Decision(None)
    for r in rules:
        if r.effect == DENY and function_matches(r, facts.function) and to_any(r, facts.to):
            if any(data_matches(r, k) for k in mine):
                return Decision(DENY, r)
    first: ir.Rule | None = None
    for key in mine:
        cover = next(
            (
                r
                for r in rules
                if r.effect == ALLOW
                and function_matches(r, facts.function)
                and to_all(r, facts.to)
                and data_matches(r, key)
            ),
            None,
        )
        if cover is None:
            return Decision(None)
        if first is None or cover.span.start < first.span.start:
            first = cover
    return Decision(ALLOW, first)


def facts_of(symbols, contract: ir.Contract) -> ContractFacts:
    """The policy facts of a contract, from anything with `source_data` (checker `Symbols`)."""
    return ContractFacts(
        function=contract.call.func.name if contract.call is not None else "",
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
    out: dict[str, Decision] = {}
    for owner in sorted({k.split(".", 1)[0] for k in facts.data}):
        rules = symbols.policies.get(owner)
        if rules:
            out[owner] = decide(owner, rules, facts)
    return out
