"""`dataflow.neighbourhood`: the part of the dataflow graph one contract touches (the review page
draws it)."""

from pathlib import Path

from datastation.contracts.dataflow import build, neighbourhood, to_dot
from datastation.contracts.loading import load_checked

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_one_contract_its_data_owners_and_recipients():
    scenario = load_checked(EXAMPLES / "ads" / "ads.dsc").scenario
    g = build(scenario)
    for name in scenario.contracts:
        part = neighbourhood(g, name)
        c = ("contract", name)
        assert [n for n in part if n[0] == "contract"] == [c]
        assert set(part) == {c, *g.predecessors(c), *g.successors(c)} | {
            a for n in g.predecessors(c) if n[0] in ("data", "kept") for a in g.predecessors(n) if a[0] == "agent"}
        assert to_dot(part, name).startswith(f'digraph "{name}"')


def test_an_unknown_contract_has_an_empty_neighbourhood():
    g = build(load_checked(EXAMPLES / "fraud" / "fraud.dsc").scenario)
    assert len(neighbourhood(g, "nope")) == 0
