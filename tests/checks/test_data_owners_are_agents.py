"""data_owners_are_agents: DSC051."""

from checks_helpers import codes, expect

TAIL = "contract c { by a compute size(a.x) to a }\n"


def test_owner_not_declared_suggests_an_agent():
    (d,) = expect("DSC051", 'use "lib.py"\nagent bank1\ndata «bank2».x csv "data.csv"\ncontract c { by bank1 compute size(bank2.x) to bank1 }\n')
    assert "bank1" in d.help


def test_owner_is_a_contract():
    src = 'use "lib.py"\nagent a\ndata a.x csv "data.csv"\ndata «c».y csv "data.csv"\n' + TAIL
    (d,) = expect("DSC051", src)
    assert "contract" in d.message


def test_declared_owner():
    assert codes('use "lib.py"\nagent a\ndata a.x csv "data.csv"\n' + TAIL) == []


def test_owner_of_an_unparsable_agent_is_not_reported():
    assert codes('use "lib.py"\nagent a {\ndata a.x csv "data.csv"\n') == ["DSC001"]
