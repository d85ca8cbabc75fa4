"""Standing policy decisions, data-driven from policy_cases.yaml."""

from pathlib import Path

import pytest
import yaml

from datastation.contracts.model import Scenario
from datastation.contracts.policy import (ContractFacts, Decision, FunctionId, decide, deny_rules_blocking,
                                          rules_from_json, rules_of, rules_to_json)
from datastation.dsl.parser import parse

CASES = yaml.safe_load(Path(__file__).with_name("policy_cases.yaml").read_text())


def ident(name: str) -> FunctionId:
    """The identity the cases' policy names resolve to."""
    return FunctionId(name, "stdlib", f"h-{name}")


def _called(f) -> FunctionId:
    return ident(f) if isinstance(f, str) else FunctionId(f["name"], f["origin"], f["sha256"])


def facts(functions, data, to) -> ContractFacts:
    return ContractFacts(frozenset(_called(f) for f in functions), frozenset(data), frozenset(to))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_case(case):
    result = parse(case["policy"], "p.dsc")
    assert not result.diagnostics, result.diagnostics
    rules = rules_of(result.program.policies, resolve=ident)
    f = case["facts"]
    owner = case.get("owner", "bank2")
    d = decide(owner, rules, facts(f["functions"], f["data"], f["to"]))
    assert d.effect == case["expect"]
    if case["expect"] is None:
        assert d.rule is None
    else:
        assert d.rule.line == case["line"] and d.rule.file == "p.dsc"
        assert d.rule.owner == owner
        assert f"p.dsc:{case['line']}" in d.explain()
    # the same decision from the rules as the escrow stores them
    stored = rules_from_json(owner, rules_to_json(r for r in rules if r.owner == owner))
    again = decide(owner, stored, facts(f["functions"], f["data"], f["to"]))
    assert (again.effect, again.rule.line if again.rule else None) == (d.effect, d.rule.line if d.rule else None)


def test_a_name_that_did_not_resolve_names_nothing():
    rules = rules_of(parse("policy a {\n  allow schema\n  deny any on a.x except fraud_model\n}").program.policies,
                     resolve=lambda name: None)
    assert decide("a", rules, facts(["schema"], ["a.y"], [])).effect is None
    assert decide("a", rules, facts(["fraud_model"], ["a.x"], [])).effect == "deny"


def test_stored_rules_keep_the_identities():
    rules = rules_of(parse("policy a { allow schema on a.* except rows }").program.policies, resolve=ident)
    (stored,) = rules_from_json("a", rules_to_json(rules))
    assert stored.function == ident("schema") and stored.excepted == (ident("rows"),)
    assert stored.function.module == ident("schema").module


def test_rules_stored_without_identities_match_only_through_wildcards():
    """A policy registered before functions were named by identity must be applied again."""
    import json

    rules = rules_of(parse("policy a {\n  allow schema\n  deny any except rows\n}").program.policies, resolve=ident)
    legacy = json.loads(rules_to_json(rules))
    for r in legacy:
        del r["function_id"], r["except_ids"]
    stored = rules_from_json("a", json.dumps(legacy))
    assert decide("a", stored, facts(["schema"], ["a.x"], [])).effect == "deny"  # not the allow, not excepted
    assert decide("a", stored, facts(["rows"], ["a.x"], [])).effect == "deny"


def test_owner_without_data_has_no_decision():
    rules = rules_of(parse("policy a { allow any }").program.policies, resolve=ident)
    assert decide("a", rules, facts(["f"], {"b.x"}, ())) == Decision("a", None)


def test_contract_calling_no_function_has_no_decision():
    rules = rules_of(parse("policy a { allow any }").program.policies, resolve=ident)
    assert decide("a", rules, facts([], {"a.x"}, ())) == Decision("a", None)


SRC = """
agent bank1
agent bank2
agent advertiser
data bank1.train csv "a.csv"
data bank2.train csv "b.csv"
policy bank2 {
  deny any on bank2.train to advertiser
}
contract ok { by bank1 compute rows(data = [bank1.train, bank2.train]) to bank1 }
contract leak { by advertiser keep k = rows(data = bank2.train) }
contract later { by advertiser compute rows(data = k) to advertiser }
"""


def test_deny_rules_blocking_follows_provenance(tmp_path):
    s = Scenario.build(parse(SRC, "s.dsc").program, tmp_path)
    assert deny_rules_blocking(s.contracts["ok"], s) == []
    assert deny_rules_blocking(s.contracts["leak"], s) == []  # kept: no recipient yet
    blocking = deny_rules_blocking(s.contracts["later"], s)
    assert [(r.owner, r.line) for r in blocking] == [("bank2", 8)]


# ---------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from datastation.dsl import ir  # noqa: E402

FUNCS = ["f", "g", "any"]
AGENTS = ["a", "b", "any"]
DATA = [("o", "x"), ("o", "y"), ("o", "*"), ("*", "*")]

rule_st = st.builds(
    lambda effect, fn, data, to, exc: ir.Rule(
        effect=effect, function=ir.Pattern(value=fn),
        data=tuple(ir.DataPattern(owner=o, name=n) for o, n in data),
        to=tuple(ir.Pattern(value=t) for t in to), except_=tuple(ir.Ident(name=e) for e in exc)),
    st.sampled_from(["allow", "deny"]), st.sampled_from(FUNCS), st.lists(st.sampled_from(DATA), max_size=2),
    st.lists(st.sampled_from(AGENTS), max_size=2), st.lists(st.sampled_from(["f", "g"]), max_size=1),
)
facts_st = st.builds(
    lambda fns, data, to: facts(fns, [f"o.{d}" for d in data], to),
    st.lists(st.sampled_from(["f", "g", {"name": "f", "origin": "user", "sha256": "other"}]), min_size=1, max_size=3),
    st.sets(st.sampled_from(["x", "y"]), min_size=1), st.sets(st.sampled_from(["a", "b"])),
)


def _rules(rules):
    from datastation.contracts.policy import PolicyRule

    from datastation.dsl.policies import bind

    out = []
    for i, r in enumerate(rules):
        b = bind(r, ident)
        out.append(PolicyRule(owner="o", rule=r, file="p.dsc", line=i + 2, function=b.function,
                              excepted=tuple(sorted(b.excepted, key=lambda f: f.name))))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(rule_st, max_size=5), rule_st, facts_st)
def test_adding_a_rule_never_turns_a_deny_into_an_allow(rules, extra, facts):
    before = decide("o", _rules(rules), facts)
    after = decide("o", _rules(rules + [extra]), facts)
    if before.effect == "deny":
        assert after.effect == "deny"
    if extra.effect == "deny" and after.effect == "allow":
        assert before.effect == "allow"  # a deny rule can only remove approvals


@settings(max_examples=300, deadline=None)
@given(st.lists(rule_st, max_size=5), facts_st)
def test_order_of_rules_does_not_change_the_effect(rules, facts):
    assert decide("o", _rules(rules), facts).effect == decide("o", _rules(rules[::-1]), facts).effect


@settings(max_examples=300, deadline=None)
@given(st.lists(rule_st, max_size=5), facts_st, st.sampled_from(["f", "g", {"name": "g", "origin": "user", "sha256": "x"}]))
def test_calling_one_more_function_never_wins_an_approval(rules, base, extra):
    """Every function a contract calls must be allowed: one more can only withhold or deny."""
    before = decide("o", _rules(rules), base)
    after = decide("o", _rules(rules), ContractFacts(base.functions | {_called(extra)}, base.data, base.to))
    if before.effect != "allow":
        assert after.effect != "allow"
    if before.effect == "deny":
        assert after.effect == "deny"
