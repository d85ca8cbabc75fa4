"""Standing policies as the escrow applies them: rules with where they came from, and decisions
that name the rule that made them. The matching semantics live in `datastation.dsl.policies`
(shared with the checker); see its docstring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from datastation.dsl import ir
from datastation.dsl import policies as semantics
from datastation.dsl.policies import ALLOW, DENY, ContractFacts

__all__ = ["ALLOW", "DENY", "ContractFacts", "Decision", "PolicyRule", "decide", "decide_all", "deny_rules_blocking",
           "facts_for", "rule_text", "rules_of"]


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


def decide(owner: str, rules: Iterable[PolicyRule], facts: ContractFacts) -> Decision:
    """The decision of `owner`'s standing rules on a contract (see `datastation.dsl.policies`)."""
    mine = [r for r in rules if r.owner == owner]
    d = semantics.decide(owner, [r.rule for r in mine], facts)
    if d.effect is None:
        return Decision(owner, None)
    by_rule = {id(r.rule): r for r in mine}
    return Decision(owner, d.effect, by_rule[id(d.rule)])


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


def rules_to_json(rules: Iterable[PolicyRule]) -> str:
    """A registered policy as the escrow stores it (canonical JSON, one object per rule)."""
    out = []
    for r in rules:
        ru = r.rule
        out.append({
            "effect": ru.effect,
            "function": ru.function.value,
            "data": [[d.owner, d.name] for d in ru.data],
            "to": [p.value for p in ru.to],
            "except": [i.name for i in ru.except_],
            "file": r.file,
            "line": r.line,
        })
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def rules_from_json(owner: str, text: str) -> list[PolicyRule]:
    """The rules of `owner`'s registered policy, from `rules_to_json`'s form."""
    out = []
    for r in json.loads(text):
        rule = ir.Rule(
            effect=r["effect"],
            function=ir.Pattern(value=r["function"]),
            data=tuple(ir.DataPattern(owner=o, name=n) for o, n in r["data"]),
            to=tuple(ir.Pattern(value=t) for t in r["to"]),
            except_=tuple(ir.Ident(name=e) for e in r["except"]),
        )
        out.append(PolicyRule(owner=owner, rule=rule, file=r["file"], line=r["line"]))
    return out
