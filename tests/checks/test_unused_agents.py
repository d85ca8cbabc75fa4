"""unused_agents: DSC071 (warning)."""

from checks_helpers import PRELUDE, codes, expect, severity

TAIL = ("contract c { by bank1 compute size(bank1.train) to bank1 }\n"
        "contract d { by bank2 compute size(bank2.train) to bank2 }\n")


def test_agent_in_nothing():
    src = PRELUDE + 'agent «regulator» "Regulator"\n' + TAIL
    expect("DSC071", src)
    assert severity("DSC071", src) == {"warning"}


def test_agent_named_only_as_recipient_goal_or_never_is_used():
    for extra in ("never bank1.train reaches observer\n", "goal observer receives c\n",
                  "policy bank1 { deny any to observer }\n"):
        assert "DSC071" not in codes(PRELUDE + "agent observer\n" + extra + TAIL), extra


def test_not_reported_when_the_file_has_syntax_errors():
    assert codes(PRELUDE + "agent extra\n" + TAIL + "contract broken {\n") == ["DSC001"]
