"""kept_cycles: DSC063, a kept result computed (directly or through others) from itself."""

from checks_helpers import PRELUDE, codes, expect


def test_self_reference():
    src = PRELUDE + 'contract g { by bank1 keep «pool» = join_tables(left = pool, right = bank1.train, on = "id") to bank1 }\n'
    (d,) = expect("DSC063", src)
    assert len(d.related) == 2


def test_two_step_cycle_is_reported_once_with_the_whole_path():
    src = PRELUDE + ('contract f { by bank1 keep «a» = join_tables(left = b, right = bank1.train, on = "id") }\n'
                     'contract s { by bank2 keep b = join_tables(left = a, right = bank2.train, on = "id") to bank2 }\n')
    (d,) = expect("DSC063", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(7, 51), (7, 28), (6, 51), (6, 28)]


def test_chain_without_cycle():
    src = PRELUDE + ('contract f { by bank1 keep a = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
                     'contract s { by bank2 keep b = join_tables(left = a, right = bank2.train, on = "id") to bank2 }\n')
    assert codes(src) == []
