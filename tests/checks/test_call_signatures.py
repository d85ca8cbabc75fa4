"""call_signatures: DSC033 unknown keyword, DSC034 missing argument, DSC035 too many positional, DSC036 given twice."""

from checks_helpers import PRELUDE, codes, expect


def c(call: str, extra: str = "") -> str:
    return PRELUDE + f"contract c {{\n  by bank1\n  compute {call}\n  to bank1\n{extra}}}\n"


def test_unknown_keyword_suggests_the_parameter_and_is_one_mistake():
    src = c('train_model(train = [bank1.train, bank2.train], «lable» = "y")')
    (d,) = expect("DSC033", src)
    assert "label" in d.help
    assert codes(src) == ["DSC033"]  # 'label' is not also reported missing


def test_unknown_keyword_far_from_any_parameter():
    src = c('train_model(train = [bank1.train, bank2.train], label = "y", «colour» = 1)')
    expect("DSC033", src)


def test_missing_argument_spans_the_call():
    src = c('«train_model(train = [bank1.train, bank2.train])»')
    (d,) = expect("DSC034", src)
    assert "label" in d.message


def test_too_many_positional_points_at_the_first_extra():
    expect("DSC035", c("size(bank1.train, «bank2.train», bank1.train)"))


def test_argument_given_twice():
    expect("DSC036", c('join_tables(bank1.train, bank2.train, «left» = bank1.train, on = "id")'))


def test_var_positional_and_var_keyword_accept_anything():
    assert codes(c("anything(bank1.train, 2, 3, 4, k = bank2.train, z = 1)")) == []


def test_defaults_may_be_omitted():
    assert codes(c('summary(bank1.train, "age")', "  require size(bank2.train) > 0\n")) == []


def test_calls_in_conditions_are_checked():
    src = c("size(bank1.train)", '  require «score(train_model(train = [bank2.train], label = "y"), bank1.train)» > 0\n')
    expect("DSC034", src)


def test_stdlib_signatures_are_known():
    src = "agent a\ndata a.x csv \"data.csv\"\ncontract c { by a compute «rows()» to a }\n"
    expect("DSC034", src)
    expect("DSC035", "agent a\ndata a.x csv \"data.csv\"\ncontract c { by a compute schema(a.x, «1») to a }\n")


# ---- positional-only parameters (DSC037): bound as Python binds them


def errors(src: str) -> list[str]:
    return [code for code in codes(src) if code != "DSC070"]  # bank2.train is unused here


def test_positional_only_passed_by_keyword():
    src = c('top_rows(«data» = bank1.train, limit = 5)')
    (d,) = expect("DSC037", src)
    assert "/" in d.help and "position" in d.help
    assert errors(src) == ["DSC037"]  # one mistake: 'data' is not also reported missing


def test_positional_only_passed_by_position_fits():
    assert errors(c("top_rows(bank1.train, limit = 5)")) == []
    assert errors(c("top_rows(bank1.train, 5)")) == []


def test_positional_only_with_a_default_passed_by_keyword():
    expect("DSC037", c("clip(bank1.train, «low» = 0.5)"))
    assert errors(c("clip(bank1.train, 0.5, high = 2.0, scale = 3.0)")) == []


def test_keyword_only_cannot_be_passed_by_position():
    # clip takes three positional arguments at most: `scale` is keyword-only.
    expect("DSC035", c("clip(bank1.train, 0.5, 2.0, «3.0»)"))


def test_positional_only_name_with_var_keyword_goes_to_it():
    # Python: tagged(data = x) puts `data` in **tags, and the parameter `data` is missing.
    src = c('«tagged(data = bank1.train, source = "a")»')
    (d,) = expect("DSC034", src)
    assert "positional-only" in d.help and "**tags" in d.help
    assert errors(c('tagged(bank1.train, data = "also a tag")')) == []


def test_positional_only_and_its_keyword_twice():
    src = c("top_rows(«data» = bank1.train, «data» = bank2.train, limit = 1)")
    assert errors(src) == ["DSC037", "DSC036"]
