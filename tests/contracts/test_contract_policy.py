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
