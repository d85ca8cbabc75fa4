"""result_scope: DSC026, `result` only inside `ensure`."""

from checks_helpers import PRELUDE, codes, expect


def c(body: str) -> str:
    return PRELUDE + "contract c {\n  by bank1\n" + body + "\n  to bank1, bank2\n}\n"


def test_result_in_require():
    expect("DSC026", c('  compute train_model(train = [bank1.train, bank2.train], label = "y")\n  require score(«result», bank1.train, "y") > 0'))


def test_result_in_compute_is_reported_without_a_type_error():
    src = c('  compute score(«result», bank1.train, "y")\n  require size(bank2.train) > 0')
    expect("DSC026", src)
    assert codes(src) == ["DSC026"]


def test_result_in_ensure_is_fine():
    assert codes(c('  compute train_model(train = [bank1.train, bank2.train], label = "y")\n'
                   '  ensure score(result, bank1.train, "y") > 0.5')) == []


def test_quantifier_variable_named_result_is_not_the_result():
    src = c('  compute size(bank1.train)\n  require size(bank2.train) > 0 and for result in [1, 2]: result > 0')
    assert "DSC026" not in codes(src)
