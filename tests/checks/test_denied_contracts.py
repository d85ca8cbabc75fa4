"""denied_contracts: DSC060, a contract that a standing `deny` makes unapprovable."""

from checks_helpers import PRELUDE, codes, expect

JOIN = 'join_tables(left = bank1.train, right = bank2.train, on = "id")'


def test_deny_any_except_other_function():
    src = PRELUDE + f"policy bank2 {{\n  deny any on bank2.train except train_model\n}}\ncontract «c» {{ by bank1 compute {JOIN} to bank1 }}\n"
    (d,) = expect("DSC060", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(7, 3)]


def test_except_lets_the_function_through():
    src = PRELUDE + ("policy bank2 { deny any on bank2.train except train_model }\n"
                     'contract c { by bank1 compute train_model(train = [bank1.train, bank2.train], label = "y") to bank1 }\n')
    assert codes(src) == []


def test_deny_by_recipient():
    src = PRELUDE + f"agent broker\npolicy bank1 {{ deny * on bank1.* to broker }}\ncontract «c» {{ by broker compute {JOIN} to bank2, broker }}\n"
    expect("DSC060", src)
    ok = PRELUDE + f"agent broker\npolicy bank1 {{ deny * on bank1.* to broker }}\ncontract c {{ by broker compute {JOIN} to bank2 }}\n"
    assert codes(ok) == []


def test_deny_beats_allow():
    src = PRELUDE + f"policy bank1 {{ allow join_tables\n deny join_tables }}\ncontract «c» {{ by bank1 compute {JOIN} to bank1 }}\n"
    expect("DSC060", src)


def test_deny_reaches_through_kept_results():
    src = PRELUDE + ("policy bank1 { deny score on bank1.train }\n"
                     f"contract k {{ by bank1 keep m = train_model(train = [bank1.train], label = \"y\") }}\n"
                     'contract «e» { by bank2 compute score(m, bank2.train, "y") to bank2 }\n')
    expect("DSC060", src)


def test_policy_of_an_owner_whose_data_is_not_used_does_not_apply():
    src = PRELUDE + "policy bank2 { deny any }\ncontract c { by bank1 compute size(bank1.train) to bank1 }\ncontract d { by bank1 compute size(bank1.train) to bank1 }\n"
    assert "DSC060" not in codes(src)


# Every function the contract calls is matched (issue 9): nested calls and conditions too.


def test_deny_matches_a_function_called_in_a_condition():
    src = PRELUDE + ("policy bank2 { deny any on bank2.train except train_model }\n"
                     'contract «c» { by bank1 compute train_model(train = [bank1.train, bank2.train], label = "y") '
                     "to bank1 require size(bank2.train) > 10 }\n")
    (d,) = expect("DSC060", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(6, 16)]


def test_deny_matches_a_function_nested_in_the_arguments():
    src = PRELUDE + ("policy bank2 { deny any on bank2.train except size }\n"
                     'contract «c» { by bank1 compute size(join_tables(left = bank1.train, right = bank2.train, on = "id")) '
                     "to bank1 }\n")
    expect("DSC060", src)


def test_except_covers_every_function_it_names():
    src = PRELUDE + ("policy bank2 { deny any on bank2.train except train_model, size, score }\n"
                     'contract c { by bank1 compute train_model(train = [bank1.train, bank2.train], label = "y") '
                     'to bank1 require size(bank2.train) > 10 ensure score(result, bank2.train, "y") > 0.5 }\n')
    assert codes(src) == []


def test_deny_of_one_function_matches_it_in_a_condition():
    src = PRELUDE + ("policy bank2 { deny score on bank2.* }\n"
                     'contract «c» { by bank1 compute size(bank2.train) to bank1 ensure score(result, bank1.train, "y") > 0 }\n')
    expect("DSC060", src)
