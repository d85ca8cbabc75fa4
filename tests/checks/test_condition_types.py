"""condition_types: DSC040 not a condition, DSC041 operator misuse, DSC042 argument type, DSC043 `for` over a non-list."""

from checks_helpers import PRELUDE, codes, expect

TRAIN = 'train_model(train = [bank1.train, bank2.train], label = "y")'


def c(*conds: str, call: str = TRAIN) -> str:
    return PRELUDE + "contract c {\n  by bank1\n  compute " + call + "\n  to bank1, bank2\n" + "".join(f"  {x}\n" for x in conds) + "}\n"


def test_require_must_be_a_condition():
    expect("DSC040", c("require «size(bank1.train)»"))


def test_ensure_must_be_a_condition():
    expect("DSC040", c('ensure «score(result, bank1.train, "y")»'))


def test_quantifier_body_must_be_a_condition():
    expect("DSC040", c('ensure for b in [bank1, bank2]: «score(result, b.train, "y")»'))


def test_comparisons_need_compatible_operands():
    expect("DSC041", c("require «bank1.train >= 2000»", 'require «size(bank1.train) == "many"»'))


def test_boolean_operators_need_booleans():
    expect("DSC041", c("require «size(bank1.train)» and true", "require not «3»"))


def test_arithmetic_type_errors():
    expect("DSC041", c('require «size(bank1.train) + "x"» > 1', 'require -«"x"» == 1', "ensure «result * 2» > 1"))


def test_argument_types():
    (d1, d2) = expect("DSC042", c(call='train_model(train = «bank1.train», label = «1»)'))
    assert "list" in d1.help


def test_for_needs_a_list():
    expect("DSC043", c('ensure for b in «bank1»: score(result, b.train, "y") > 0', "ensure for n in «3»: n > 1"))


def test_well_typed_conditions():
    assert codes(c('require size(bank1.train) >= 2000 and size(bank2.train) + 1 > 2.5',
                   'require "a" < "b" and not false',
                   'ensure for b in [bank1, bank2]: score(result, b.train, "y") >= 0.5')) == []


def test_unannotated_functions_never_cause_type_errors():
    assert codes(c("require anything(1) and anything(bank1.train) > 3", call="anything(bank1.train, bank2.train)")) == []


def test_stdlib_types():
    src = ('agent a\ndata a.x csv "data.csv"\ndata a.y csv "data.csv"\n'
           'contract c {\n  by a\n  compute rows(a.x)\n  to a\n  require «rows(a.y) >= "2000"»\n'
           '  ensure accuracy(«result», a.y, "z") > 0.5\n}\n')
    expect("DSC041", src.replace("«result»", "result"))
    expect("DSC042", src.replace('«rows(a.y) >= "2000"»', "rows(a.y) >= 1"))


def test_a_long_and_chain_is_typed_without_recursion_errors():
    chain = " and ".join(["size(bank1.train) > 1"] * 1200)
    assert codes(c("require " + chain)) == []
    bad = " and ".join(["size(bank1.train) > 1"] * 1200 + ["size(bank2.train)"])
    assert codes(c("require " + bad)) == ["DSC041"]
