"""Standing policies as the escrow applies them: rules with where they came from and the
identities of the functions they name, and decisions that name the rule that made them. The
matching semantics live in `datastation.dsl.policies` (shared with the checker); see its
docstring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from datastation.dsl import ir
from datastation.dsl import policies as semantics
from datastation.dsl.policies import ALLOW, DENY, UNKNOWN, BoundRule, ContractFacts, FunctionId

__all__ = ["ALLOW", "DENY", "ContractFacts", "Decision", "FunctionId", "PolicyRule", "decide", "decide_all",
           "deny_rules_blocking", "facts_for", "facts_from_record", "function_id", "resolver", "rule_text",
           "rules_of", "unresolved"]

Resolver = Callable[[str], "FunctionId | None"]


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """A rule with where it came from, so every automatic decision can name it, and the
    identities of the functions it names, resolved in its owner's program."""

    owner: str
    rule: ir.Rule
    file: str
    line: int
    function: FunctionId | None = None  # FUNCTION's identity (None: a wildcard, or not resolved)
    excepted: tuple[FunctionId, ...] = ()

    @property
    def effect(self) -> str:
        return self.rule.effect

    @property
    def bound(self) -> BoundRule:
        return BoundRule(self.rule, self.function, frozenset(self.excepted))

    def identities(self) -> list[FunctionId]:
        """The functions this rule names (FUNCTION first, then its `except` list)."""
        return ([self.function] if self.function is not None else []) + list(self.excepted)

    def text(self) -> str:
        return rule_text(self.rule)

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict:
        return {"owner": self.owner, "effect": self.effect, "rule": self.text(), "file": self.file, "line": self.line,
                "function": self.function.to_json() if self.function is not None else None,
                "except": [f.to_json() for f in self.excepted]}


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


def function_id(found, base: Path | None = None) -> FunctionId:
    """The policy identity of a `contracts.functions.FunctionSource`."""
    module = found.module
    if found.origin == "user" and base is not None:
        try:
            module = str(Path(found.path).resolve().relative_to(Path(base).resolve()))
        except ValueError:
            module = Path(found.path).name
    return FunctionId(name=found.name, origin=found.origin, sha256=found.sha256, module=module)


def resolver(scenario) -> Resolver:
    """Resolves function names in a `contracts.model.Scenario`: its `use` modules, then the stdlib."""

    def resolve(name: str) -> FunctionId | None:
        found = scenario.functions.resolve(name)
        return function_id(found, scenario.base_dir) if found is not None else None

    return resolve


def rules_of(policies: Iterable[ir.Policy], file: str | None = None, resolve: Resolver | None = None) -> list[PolicyRule]:
    """The rules of policy blocks, their function names resolved by `resolve` (unresolved without one)."""
    out = []
    for p in policies:
        for r in p.rules:
            b = semantics.bind(r, resolve) if resolve is not None else BoundRule(r)
            out.append(PolicyRule(owner=p.owner.name, rule=r, file=file or r.span.file, line=r.span.line,
                                  function=b.function,
                                  excepted=tuple(sorted(b.excepted, key=lambda f: (f.name, f.origin, f.sha256)))))
    return out


def unresolved(policies: Iterable[ir.Policy], resolve: Resolver) -> list[str]:
    """The function names of the policy blocks that `resolve` does not know, sorted."""
    return sorted({n for p in policies for r in p.rules for n in semantics.unresolved(r, resolve)})


def decide(owner: str, rules: Iterable[PolicyRule], facts: ContractFacts) -> Decision:
    """The decision of `owner`'s standing rules on a contract (see `datastation.dsl.policies`)."""
    mine = [r for r in rules if r.owner == owner]
    bound = [r.bound for r in mine]
    d = semantics.decide(owner, bound, facts)
    if d.effect is None:
        return Decision(owner, None)
    return Decision(owner, d.effect, mine[next(i for i, b in enumerate(bound) if b is d.rule)])


def decide_all(owners: Iterable[str], rules: Iterable[PolicyRule], facts: ContractFacts) -> dict[str, Decision]:
    rules = list(rules)
    return {o: decide(o, rules, facts) for o in sorted(set(owners))}


def facts_for(scenario, contract: ir.Contract) -> ContractFacts:
    """The policy facts of a contract in a `contracts.model.Scenario` (functions resolved in it)."""
    resolve = resolver(scenario)
    return ContractFacts(
        functions=frozenset(resolve(n) or FunctionId(n, UNKNOWN, "") for n in scenario.called_functions(contract)),
        data=frozenset(scenario.source_data(contract)),
        to=frozenset(t.name for t in contract.to),
    )


def facts_from_record(functions: dict, data: Iterable[str], to: Iterable[str]) -> ContractFacts:
    """The policy facts of a stored contract: `functions` maps each function it calls to its
    recorded identity (`{"origin", "sha256", "module"}`, as a proposal records them)."""
    return ContractFacts(
        functions=frozenset(FunctionId(name=n, origin=str(i.get("origin")), sha256=str(i.get("sha256")),
                                       module=str(i.get("module") or "")) for n, i in functions.items()),
        data=frozenset(data),
        to=frozenset(to),
    )


def deny_rules_blocking(contract: ir.Contract, scenario, policies: Iterable[ir.Policy] | None = None) -> list[PolicyRule]:
    """The deny rules that make `contract` unapprovable (empty when none does).

    `scenario` is a `contracts.model.Scenario`; the policies' names resolve in it, as the
    checker resolves them. `policies` defaults to every policy block of the scenario's program.
    """
    facts = facts_for(scenario, contract)
    if policies is None:
        policies = scenario.program.policies
    rules = rules_of(policies, resolve=resolver(scenario))
    out = []
    for owner in sorted({k.split(".", 1)[0] for k in facts.data}):
        d = decide(owner, rules, facts)
        if d.effect == DENY:
            out.append(d.rule)
    return out


def rules_to_json(rules: Iterable[PolicyRule]) -> str:
    """A registered policy as the escrow stores it (canonical JSON, one object per rule, with the
    identities its function names resolved to when the owner applied it)."""
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
            "function_id": r.function.to_json() if r.function is not None else None,
            "except_ids": [f.to_json() for f in r.excepted],
        })
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def rules_from_json(owner: str, text: str) -> list[PolicyRule]:
    """The rules of `owner`'s registered policy, from `rules_to_json`'s form. A rule stored
    without identities (registered before policies named functions by identity) names no
    function but through a wildcard, and excepts none: apply the policy again."""
    out = []
    for r in json.loads(text):
        rule = ir.Rule(
            effect=r["effect"],
            function=ir.Pattern(value=r["function"]),
            data=tuple(ir.DataPattern(owner=o, name=n) for o, n in r["data"]),
            to=tuple(ir.Pattern(value=t) for t in r["to"]),
            except_=tuple(ir.Ident(name=e) for e in r["except"]),
        )
        fid = r.get("function_id")
        out.append(PolicyRule(owner=owner, rule=rule, file=r["file"], line=r["line"],
                              function=FunctionId.from_json(fid) if fid else None,
                              excepted=tuple(FunctionId.from_json(e) for e in r.get("except_ids") or ())))
    return out
