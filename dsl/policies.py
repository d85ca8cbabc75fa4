"""Standing-policy matching: which rules of an owner's policy apply to a contract.

Pure functions over names, shared by the checker (contracts a `deny` makes unapprovable) and
the escrow (automatic approvals and blocks). A deny always beats an allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from . import ir


@dataclass(frozen=True, slots=True)
class Decision:
    effect: str | None  # "allow" | "deny" | None (no rule applies: the owner decides by hand)
    rule: ir.Rule | None = None


def rule_matches(rule: ir.Rule, function: str, owned_inputs: Iterable[str], recipients: Iterable[str]) -> bool:
    """Whether `rule` applies to running `function` on the owner's data `owned_inputs` for `recipients`.

    `owned_inputs` are the contract's original inputs that belong to the policy's owner
    ("owner.name" keys); a policy never applies to a contract that uses none of its owner's data.
    An empty `on` means every data element of the owner; an empty `to` means any recipient.
    """
    owned = list(owned_inputs)
    if not owned or not rule.function.matches(function):
        return False
    if any(e.name == function for e in rule.except_):
        return False
    if rule.data and not any(p.matches(*k.split(".", 1)) for p in rule.data for k in owned):
        return False
    if rule.to:
        return any(p.matches(r) for p in rule.to for r in recipients)
    return True


def decide(rules: Iterable[ir.Rule], function: str, owned_inputs: Iterable[str], recipients: Iterable[str]) -> Decision:
    """The owner's standing decision on a contract: the first matching deny, else the first allow."""
    owned = list(owned_inputs)
    recips = list(recipients)
    allow = None
    for rule in rules:
        if rule_matches(rule, function, owned, recips):
            if rule.effect == "deny":
                return Decision("deny", rule)
            if allow is None:
                allow = rule
    return Decision("allow", allow) if allow is not None else Decision(None)


def contract_decisions(symbols, contract: ir.Contract) -> dict[str, Decision]:
    """Each source agent's standing decision on a contract (agents without a policy are absent)."""
    if contract.call is None:
        return {}
    function = contract.call.func.name
    recipients = [r.name for r in contract.to]
    out: dict[str, Decision] = {}
    sources = symbols.source_data(contract)
    for owner in sorted(symbols.owners(sources)):
        rules = symbols.policies.get(owner)
        if not rules:
            continue
        owned = sorted(k for k in sources if k.startswith(owner + "."))
        out[owner] = decide(rules, function, owned, recipients)
    return out
