"""Provenance lineage: origins through chains of kept results, owners, cycles refused."""

import pytest

from datastation.contracts.model import Scenario
from datastation.contracts.provenance import Lineage
from datastation.dsl.parser import parse


def test_chain_origins_and_owners():
    lin = Lineage()
    for k in ("a.x", "b.y", "c.z"):
        lin.add_original(k)
    lin.add_derived("d1", ["a.x", "b.y"])
    lin.add_derived("d2", ["d1"])
    lin.add_derived("d3", ["d2", "c.z"])
    assert lin.origins("d3") == {"a.x", "b.y", "c.z"}
    assert lin.origins("d1") == {"a.x", "b.y"}
    assert lin.origins("a.x") == {"a.x"}
    assert lin.owners(["d2"]) == {"a", "b"}
    assert lin.owners(["d2", "c.z"]) == {"a", "b", "c"}
    assert lin.path("d3", "a.x") == ["d3", "d2", "d1", "a.x"]


def test_unknown_keys():
    lin = Lineage()
    assert lin.origins("q.r") == {"q.r"}
    assert lin.origins("unknown_kept") == frozenset()


def test_cycles_and_self_derivation_are_refused():
    lin = Lineage()
    lin.add_derived("d1", ["a.x"])
    lin.add_derived("d2", ["d1"])
    with pytest.raises(ValueError):
        lin.add_derived("d1", ["d2"])
    with pytest.raises(ValueError):
        lin.add_derived("d4", ["d4"])
    assert lin.origins("d2") == {"a.x"}


def test_lineage_from_scenario(tmp_path):
    src = """
    agent p1 agent p2 agent adv
    data p1.users csv "a" data p2.users csv "b" data adv.list csv "c"
    contract m { by adv keep matched = join(left = p1.users, right = p2.users) }
    contract t { by adv keep model = train(data = matched, extra = adv.list) }
    contract q { by adv compute predict(m = model) to adv }
    """
    s = Scenario.build(parse(src).program, tmp_path)
    lin = Lineage.from_scenario(s)
    assert lin.origins("model") == {"p1.users", "p2.users", "adv.list"}
    assert s.source_agents(s.contracts["q"]) == ["adv", "p1", "p2"]
