"""proposers_are_agents: DSC052."""

from checks_helpers import PRELUDE, codes, expect


def test_proposer_typo():
    (d,) = expect("DSC052", PRELUDE + "contract c { by «bnak1» compute size(bank1.train) to bank1 }\n"
                  "contract d { by bank2 compute size(bank2.train) to bank2 }\n")
    assert "bank1" in d.help


def test_proposer_is_a_kept_result():
    src = PRELUDE + ('contract k { by bank1 keep pool = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
                     "contract c { by «pool» compute size(pool) to bank1 }\n")
    (d,) = expect("DSC052", src)
    assert "kept result" in d.message


def test_agent_proposer():
    assert codes(PRELUDE + "contract c { by bank2 compute size(bank1.train) to bank1 }\n"
                 "contract d { by bank2 compute size(bank2.train) to bank2 }\n") == []
