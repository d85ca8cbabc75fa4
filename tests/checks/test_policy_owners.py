"""policy_owners: DSC053 (owner not an agent), DSC054 (rule on another owner's data)."""

from checks_helpers import PRELUDE, codes, expect

TAIL = ("contract c { by bank1 compute size(bank1.train) to bank1 }\n"
        "contract d { by bank2 compute size(bank2.train) to bank2 }\n")


def test_policy_owner_is_not_an_agent():
    src = PRELUDE + "policy «bank3» { deny any on bank3.* to * }\n" + TAIL
    (d,) = expect("DSC053", src)
    assert "bank2" in d.help or "bank1" in d.help
    assert codes(src) == ["DSC053"]  # its rules' patterns are not reported again


def test_rule_on_data_of_another_owner():
    src = PRELUDE + "policy bank2 { deny any on «bank1.train» to *\n allow share_schema on bank2.*, «bank1.*» }\n" + TAIL
    expect("DSC054", src)


def test_wildcard_owner_in_pattern_is_the_policy_owner():
    assert codes(PRELUDE + "policy bank2 { allow share_schema on *.* to any }\n" + TAIL) == []
