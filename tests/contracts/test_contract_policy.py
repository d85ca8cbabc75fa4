"""Standing policy decisions, data-driven from policy_cases.yaml."""

from pathlib import Path

import pytest
import yaml

from datastation.contracts.model import Scenario
from datastation.contracts.policy import ContractFacts, Decision, decide, deny_rules_blocking, rules_of
from datastation.dsl.parser import parse

CASES = yaml.safe_load(Path(__file__).with_name("policy_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_case(case):
    result = parse(case["policy"], "p.dsc")
    assert not result.diagnostics, result.diagnostics
    rules = rules_of(result.program.policies)
    f = case["facts"]
    owner = case.get("owner", "bank2")
    d = decide(owner, rules, ContractFacts(f["function"], frozenset(f["data"]), frozenset(f["to"])))
    assert d.effect == case["expect"]
    if case["expect"] is None:
        assert d.rule is None
    else:
        assert d.rule.line == case["line"] and d.rule.file == "p.dsc"
        assert d.rule.owner == owner
        assert f"p.dsc:{case['line']}" in d.explain()


def test_owner_without_data_has_no_decision():
    rules = rules_of(parse("policy a { allow any }").program.policies)
    assert decide("a", rules, ContractFacts("f", frozenset({"b.x"}), frozenset())) == Decision("a", None)


SRC = """
agent bank1
agent bank2
agent advertiser
data bank1.train csv "a.csv"
data bank2.train csv "b.csv"
policy bank2 {
  deny any on bank2.train to advertiser
}
contract ok { by bank1 compute f(x = [bank1.train, bank2.train]) to bank1 }
contract leak { by advertiser keep k = f(x = bank2.train) }
contract later { by advertiser compute f(x = k) to advertiser }
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
    lambda fn, data, to: ContractFacts(fn, frozenset(f"o.{d}" for d in data), frozenset(to)),
    st.sampled_from(["f", "g"]), st.sets(st.sampled_from(["x", "y"]), min_size=1), st.sets(st.sampled_from(["a", "b"])),
)


def _rules(rules):
    from datastation.contracts.policy import PolicyRule

    return [PolicyRule(owner="o", rule=r, file="p.dsc", line=i + 2) for i, r in enumerate(rules)]


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
