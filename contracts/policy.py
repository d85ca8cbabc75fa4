"""Standing policies: an owner's allow/deny rules decide their approval automatically.

A rule `allow|deny FUNCTION [on DATA, ...] [to AGENT, ...] [except FUNCTION, ...]` is read
against a contract through three facts: the function it computes, the owner's original data
elements it uses (after expanding kept results through provenance) and its recipients.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from datastation.dsl import ir

ALLOW, DENY = "allow", "deny"


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """What policies look at: computed function, original data used, recipients."""

    function: str
    data: frozenset[str]  # original DE keys "owner.name"
    to: frozenset[str]


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """A rule with where it came from, so every automatic decision can name it."""

    owner: str
    rule: ir.Rule
    file: str
    line: int

    @property
    def effect(self) -> str:
        return self.rule.effect

    def text(self) -> str:
        return rule_text(self.rule)

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict:
        return {"owner": self.owner, "effect": self.effect, "rule": self.text(), "file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class Decision:
    owner: str
    effect: str | None  # "allow" | "deny" | None (no decision: the owner decides by hand)
    rule: PolicyRule | None = None

    def explain(self) -> str:
        if self.effect is None:
            return f"no standing policy of {self.owner} decides this contract"
        verb = "approved" if self.effect == ALLOW else "denied"
        return f"{verb} by {self.owner}'s policy at {self.rule.where()}: {self.rule.text()}"

    def to_json(self) -> dict:
        return {"owner": self.owner, "effect": self.effect, "rule": self.rule.to_json() if self.rule else None}


def rule_text(rule: ir.Rule) -> str:
    parts = [rule.effect, rule.function.value]
    if rule.data:
        parts.append("on " + ", ".join(f"{d.owner}.{d.name}" for d in rule.data))
    if rule.to:
        parts.append("to " + ", ".join(p.value for p in rule.to))
    if rule.except_:
        parts.append("except " + ", ".join(i.name for i in rule.except_))
    return " ".join(parts)


def rules_of(policies: Iterable[ir.Policy], file: str | None = None) -> list[PolicyRule]:
    out = []
    for p in policies:
        for r in p.rules:
            out.append(PolicyRule(owner=p.owner.name, rule=r, file=file or r.span.file, line=r.span.line))
    return out


def _function_matches(rule: ir.Rule, function: str) -> bool:
    if any(e.name == function for e in rule.except_):
        return False
    return rule.function.matches(function)


def _data_matches(rule: ir.Rule, key: str) -> bool:
    if not rule.data:
        return True
    owner, _, name = key.partition(".")
    return any(p.matches(owner, name) for p in rule.data)


def _to_any(rule: ir.Rule, to: frozenset[str]) -> bool:
    return not rule.to or any(p.matches(a) for p in rule.to for a in to)


def _to_all(rule: ir.Rule, to: frozenset[str]) -> bool:
    return not rule.to or all(any(p.matches(a) for p in rule.to) for a in to)


def decide(owner: str, rules: Iterable[PolicyRule], facts: ContractFacts) -> Decision:
    """The decision of `owner`'s standing rules on a contract (see the module docstring)."""
    mine = sorted(k for k in facts.data if k.split(".", 1)[0] == owner)
    if not mine:
        return Decision(owner, None)
    rules = [r for r in rules if r.owner == owner]
    for r in rules:
        if r.effect == DENY and _function_matches(r.rule, facts.function) and _to_any(r.rule, facts.to):
            if any(_data_matches(r.rule, k) for k in mine):
                return Decision(owner, DENY, r)
    first = None
    for key in mine:
        cover = next(
            (
                r
                for r in rules
                if r.effect == ALLOW
                and _function_matches(r.rule, facts.function)
                and _to_all(r.rule, facts.to)
                and _data_matches(r.rule, key)
            ),
            None,
        )
        if cover is None:
            return Decision(owner, None)
        first = cover if first is None or cover.line < first.line else first
    return Decision(owner, ALLOW, first)


def decide_all(owners: Iterable[str], rules: Iterable[PolicyRule], facts: ContractFacts) -> dict[str, Decision]:
    rules = list(rules)
    return {o: decide(o, rules, facts) for o in sorted(set(owners))}


def facts_for(scenario, contract: ir.Contract) -> ContractFacts:
    """The policy facts of a contract in a `contracts.model.Scenario`."""
    return ContractFacts(
        function=contract.call.func.name if contract.call is not None else "",
        data=frozenset(scenario.source_data(contract)),
        to=frozenset(t.name for t in contract.to),
    )


def deny_rules_blocking(contract: ir.Contract, scenario_or_symbols, policies: Iterable[ir.Policy] | None = None) -> list[PolicyRule]:
    """The deny rules that make `contract` unapprovable (empty when none does).

    For the checker's "unapprovable contract" rule. `scenario_or_symbols` is a
    `contracts.model.Scenario` or the checker's `Symbols` (anything with `source_data`);
    `policies` defaults to every policy block of the scenario's program.
    """
    sd = scenario_or_symbols.source_data(contract)
    facts = ContractFacts(
        function=contract.call.func.name if contract.call is not None else "",
        data=frozenset(sd),
        to=frozenset(t.name for t in contract.to),
    )
    if policies is None:
        program = getattr(scenario_or_symbols, "program", None)
        policies = program.policies if program is not None else []
    rules = rules_of(policies)
    out = []
    for owner in sorted({k.split(".", 1)[0] for k in facts.data}):
        d = decide(owner, rules, facts)
        if d.effect == DENY:
            out.append(d.rule)
    return out
