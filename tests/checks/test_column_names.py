"""column_names: DSC045, a column name passed to a function that the table's known columns lack."""

from checks_helpers import codes, expect

SCHEMA = '''use "lib.py"
agent bank1
agent bank2
data bank1.t csv "data.csv" { id: int, amount: float, region: string, is_fraud: bool }
data bank2.t csv "data.csv" { id: int, amount: float, is_fraud: bool }
data bank2.free csv "data.csv"
'''


def c(compute: str, extra: str = "", keep: bool = False) -> str:
    clause = f"keep    k = {compute}" if keep else f"compute {compute}\n  to bank1"
    return SCHEMA + f"contract c {{\n  by bank1\n  {clause}\n{extra}}}\n"


def errors(src: str) -> list[str]:
    return [code for code in codes(src) if code not in ("DSC070", "DSC072")]  # unused data / kept result


def test_the_issue_s_example():
    (d,) = expect("DSC045", c('mean(bank1.t, column = «"nosuchcol"»)'))
    assert "bank1.t" in d.message
    assert d.help.startswith("the columns of bank1.t: id, amount, region, is_fraud")


def test_a_near_miss_suggests_the_column():
    (d,) = expect("DSC045", c('mean(bank1.t, «"amout"»)'))
    assert d.help == "did you mean 'amount'?"


def test_a_declared_column_fits():
    assert errors(c('mean(data = bank1.t, column = "amount")')) == []


def test_data_without_a_declared_schema_is_not_checked():
    assert errors(c('mean(bank2.free, "anything")')) == []


def test_each_name_of_a_list_of_columns():
    expect("DSC045", c('min_group_size(bank1.t, ["region", «"regoin"», "id", «"nope"»])'))


def test_every_table_of_a_list_must_have_the_column():
    (d,) = expect("DSC045", c('train_classifier(train = [bank1.t, bank2.t], label = «"region"»)'))
    assert "bank2.t" in d.message and "bank1.t" not in d.message


def test_a_column_named_for_some_tables_only():
    # key: a column of both tables; value: of `right` only.
    assert errors(c('joined_stat(bank1.t, bank2.t, key = "id", value = "amount")')) == []
    (d,) = expect("DSC045", c('joined_stat(bank1.t, bank2.t, key = «"region"», value = «"region"»)'))[:1]
    assert "bank2.t" in d.message
    assert errors(c('joined_stat(bank2.t, bank1.t, key = "id", value = "region")')) == []


def test_a_quantified_table_is_each_agent_s():
    src = c("rows(bank1.t)", '  require for b in [bank1, bank2]: mean(b.t, «"region"») > 0\n')
    (d,) = expect("DSC045", src)
    assert "bank2.t" in d.message


def test_user_functions_with_column_annotations():
    expect("DSC045", c('column_stat(bank1.t, «"colour"»)'))
    assert errors(c('column_stat(bank1.t, "region")')) == []


def test_the_result_of_aggregate_in_ensure():
    agg = 'aggregate(data = bank1.t, by = ["region"], metric = "mean", column = "amount", min_group = 5)'
    assert errors(c(agg, '  ensure minimum(result, "n") >= 5 and maximum(result, "mean_amount") > 0\n')) == []
    (d,) = expect("DSC045", c(agg, '  ensure minimum(result, «"mean_amout"») >= 5\n'))
    assert d.help == "did you mean 'mean_amount'?"


def test_a_kept_result_with_declared_result_columns():
    src = SCHEMA + '''contract k1 {
  by bank1
  keep g = group_counts(bank1.t, by = ["region"])
}
contract k2 {
  by bank1
  compute total(g, «"price"»)
  to bank1
  require mean(g, "count") > 0
}
'''
    (d,) = expect("DSC045", src)
    assert "kept result 'g'" in d.message and "region, count" in d.help


def test_a_nested_call_s_result():
    expect("DSC045", c('mean(group_counts(bank1.t, ["id"]), «"amount"»)'))


def test_results_whose_columns_are_unknown_are_not_checked():
    # select: known only after the run; aggregate with a `by` that is not a list of literals.
    assert errors(c('mean(select(query = "select 1 as x", data = bank1.t), "x")')) == []
    assert errors(c('mean(aggregate(bank1.t, columns(bank1.t), "mean", "amount", 5), "whatever")')) == []


def test_a_name_that_is_not_a_literal_is_not_checked():
    assert errors(c('mean(bank1.t, "amo" + "unt")')) == []
