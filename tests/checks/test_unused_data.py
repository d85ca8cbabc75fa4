"""unused_data: DSC070 (warning)."""

from checks_helpers import PRELUDE, codes, expect, severity


def test_unused_data_element_spans_its_name():
    src = PRELUDE + 'data «bank1.test» csv "data.csv"\ncontract c { by bank1 compute size(bank1.train) to bank1 require size(bank2.train) > 0 }\n'
    expect("DSC070", src)
    assert severity("DSC070", src) == {"warning"}


def test_data_read_only_in_a_condition_counts_as_used():
    src = PRELUDE + "contract c { by bank1 compute size(bank1.train) to bank1 require size(bank2.train) > 0 }\n"
    assert codes(src) == []


def test_data_read_through_a_quantifier_counts_as_used():
    src = PRELUDE + "contract c { by bank1 compute size(bank1.train) to bank1 ensure for b in [bank2]: size(b.train) > 0 }\n"
    assert codes(src) == []


def test_not_reported_when_the_file_has_syntax_errors():
    src = PRELUDE + "contract c { by bank1 compute size(bank1.train) to bank1 require size(bank2.train) > }\n"
    assert codes(src) == ["DSC001"]
