"""unused_kept: DSC072 (warning)."""

from checks_helpers import PRELUDE, codes, expect, severity

JOIN = 'join_tables(left = bank1.train, right = bank2.train, on = "id")'


def test_kept_result_nobody_reads():
    src = PRELUDE + f"contract k {{ by bank1 keep «pool» = {JOIN} }}\n"
    expect("DSC072", src)
    assert severity("DSC072", src) == {"warning"}


def test_kept_and_released_is_used():
    assert codes(PRELUDE + f"contract k {{ by bank1 keep pool = {JOIN} to bank1 }}\n") == []


def test_kept_and_read_later_is_used():
    src = PRELUDE + f"contract k {{ by bank1 keep pool = {JOIN} }}\ncontract s {{ by bank1 compute size(pool) to bank1 }}\n"
    assert codes(src) == []
