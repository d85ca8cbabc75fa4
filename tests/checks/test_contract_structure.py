"""contract_structure: DSC010 (nothing computed), DSC011 (no recipients), DSC012 (no proposer)."""

from checks_helpers import PRELUDE, codes, expect


def test_no_compute():
    expect("DSC010", PRELUDE + "contract «c» { by bank1 to bank1 }\n")


def test_no_recipients_with_compute():
    expect("DSC011", PRELUDE + "contract «c» { by bank1 compute size(bank1.train) }\n")


def test_keep_needs_no_recipients():
    src = PRELUDE + 'contract c { by bank1 keep k = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
    assert not {"DSC010", "DSC011", "DSC012"} & set(codes(src))


def test_no_proposer():
    expect("DSC012", PRELUDE + "contract «c» { compute size(bank1.train) to bank1 }\n")


def test_empty_contract_reports_compute_and_proposer_not_recipients():
    src = PRELUDE + "contract «todo» { }\n"
    expect("DSC010", src)
    expect("DSC012", src)
    expect("DSC011", PRELUDE + "contract todo { }\n")


def test_complete_contract():
    src = PRELUDE + "contract c { by bank1 compute size(bank1.train) to bank1 }\ncontract d { by bank2 compute size(bank2.train) to bank2 }\n"
    assert codes(src) == []
