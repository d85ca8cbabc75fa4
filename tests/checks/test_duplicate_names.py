"""duplicate_names: DSC025."""

from checks_helpers import PRELUDE, check, expect, unmark


def test_duplicate_agent_points_at_second_and_relates_first():
    (d,) = expect("DSC025", 'agent bank1\nagent «bank1» "again"\ndata bank1.x csv "data.csv"\n')
    assert [(r.span.line, r.span.column) for r in d.related] == [(1, 7)]
    assert d.is_error


def test_duplicate_data_element_points_at_its_name():
    expect("DSC025", PRELUDE + 'data «bank1.train» parquet "data.csv"\n')


def test_duplicate_contract():
    src = PRELUDE + ("contract c { by bank1 compute size(bank1.train) to bank1 }\n"
                     "contract «c» { by bank2 compute size(bank2.train) to bank2 }\n")
    expect("DSC025", src)


def test_kept_result_shares_the_namespace_of_agents():
    src = PRELUDE + 'contract c { by bank1 keep «bank2» = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
    expect("DSC025", src)


def test_same_name_for_agent_data_and_contract_is_fine():
    src = PRELUDE + "contract bank1 { by bank1 compute size(bank1.train) to bank1 }\n"
    expect("DSC025", src)


def test_distinct_names_are_fine():
    text, _ = unmark(PRELUDE)
    assert "DSC025" not in [d.code for d in check(text).diagnostics]
