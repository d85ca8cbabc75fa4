"""recipients_are_agents: DSC050 (not an agent), DSC059 (listed twice, warning)."""

from checks_helpers import PRELUDE, codes, expect, severity

CALL = 'train_model(train = [bank1.train, bank2.train], label = "y")'


def test_recipient_typo():
    (d,) = expect("DSC050", PRELUDE + f"contract c {{ by bank1 compute {CALL} to bank1, «bnak2» }}\n")
    assert "bank2" in d.help


def test_recipient_is_a_contract():
    (d,) = expect("DSC050", PRELUDE + f"contract c {{ by bank1 compute {CALL} to «c» }}\n")
    assert "contract" in d.message


def test_recipient_listed_twice_is_a_warning():
    src = PRELUDE + f"contract c {{ by bank1 compute {CALL} to bank1, bank2, «bank1» }}\n"
    expect("DSC059", src)
    assert severity("DSC059", src) == {"warning"}


def test_agents_as_recipients():
    assert codes(PRELUDE + f"contract c {{ by bank1 compute {CALL} to bank1, bank2 }}\n") == []
