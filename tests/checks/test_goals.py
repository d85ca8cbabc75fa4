"""goals: DSC062, a `goal` that no approvable chain of contracts reaches."""

from checks_helpers import PRELUDE, codes, expect

TRAIN = 'train_model(train = [bank1.train, bank2.train], label = "y")'


def test_agent_is_not_a_recipient():
    src = PRELUDE + f"«goal bank2 receives m»\ncontract m {{ by bank1 compute {TRAIN} to bank1 }}\n"
    (d,) = expect("DSC062", src)
    assert [(r.span.line, r.span.column) for r in d.related] == [(7, 10)]


def test_denied_contract():
    src = PRELUDE + f"policy bank2 {{ deny train_model }}\n«goal bank1 receives m»\ncontract m {{ by bank1 compute {TRAIN} to bank1 }}\n"
    expect("DSC062", src)


def test_forbidden_by_never():
    src = PRELUDE + f"never bank2.train reaches bank1\n«goal bank1 receives m»\ncontract m {{ by bank1 compute {TRAIN} to bank1 }}\n"
    expect("DSC062", src)


def test_input_never_produced():
    src = PRELUDE + ("policy bank2 { deny join_tables }\n«goal bank1 receives m»\n"
                     'contract k { by bank1 keep pool = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
                     'contract m { by bank1 compute train_model(train = [pool], label = "y") to bank1 }\n')
    (d,) = expect("DSC062", src)
    # m reads pool, whose provenance calls join_tables: bank2's deny judges the whole chain (H3)
    assert "denies contract 'm'" in d.message


def test_reachable_goal():
    src = PRELUDE + ("goal bank1 receives m\n"
                     'contract k { by bank1 keep pool = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
                     'contract m { by bank1 compute train_model(train = [pool], label = "y") to bank1 }\n')
    assert codes(src) == []


def test_undefined_goal_names_are_not_reported_twice():
    src = PRELUDE + f"goal bank3 receives m\ngoal bank1 receives nope\ncontract m {{ by bank1 compute {TRAIN} to bank1 }}\n"
    assert codes(src) == ["DSC020", "DSC023"]
