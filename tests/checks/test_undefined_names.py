"""undefined_names: DSC020-DSC024 and DSC044, with "did you mean" help."""

from checks_helpers import PRELUDE, codes, expect


def contract(body: str) -> str:
    return PRELUDE + "contract c {\n  by bank1\n" + body + "\n  to bank1\n}\n"


def test_typo_in_agent_suggests_the_agent():
    (d,) = expect("DSC020", contract("  compute size(«bnak1».train)"))
    assert "bank1" in d.help


def test_undefined_data_element_suggests_owned_names():
    (d,) = expect("DSC021", contract("  compute size(«bank1.trian»)"))
    assert "train" in d.help


def test_undefined_function_suggests_the_function():
    (d,) = expect("DSC022", contract("  compute «sise»(bank1.train)"))
    assert "size" in d.help


def test_functions_a_policy_names_are_not_this_rules_business():
    """Unknown functions in a policy rule are DSC064 (policy_functions), reported once."""
    assert "DSC022" not in codes(PRELUDE + "policy bank1 { allow shar_schema on bank1.* except sizee }\n")


def test_goal_names():
    src = PRELUDE + "goal «bank3» receives c\ngoal bank1 receives «cc»\ncontract c { by bank1 compute size(bank1.train) to bank1 }\n"
    expect("DSC020", src.replace("«cc»", "cc"))
    (d,) = expect("DSC023", src.replace("«bank3»", "bank3"))
    assert "'c'" in d.help


def test_bare_names():
    src = contract('  compute anything(«is_fraud», y = «size»)\n  require «c» == 1')
    found = expect("DSC024", src)
    assert "undefined" in found[0].message and "function" in found[1].message and "contract" in found[2].message


def test_quantifier_variable_checks_every_agent():
    src = contract("  compute size(bank1.train)\n  ensure for b in [bank1, bank2]: size(b.train) > 0 and size(«b.test») > 0")
    (d,) = expect("DSC021", src)
    assert "bank1.test" in d.message  # the first agent in the list that lacks it


def test_nested_quantifiers_bind_their_own_variables():
    src = contract("  compute size(bank1.train)\n  ensure for p in [bank1, bank2]: for q in [p]: size(q.train) >= 0")
    assert codes(src) == []


def test_attribute_of_kept_result_or_contract():
    src = PRELUDE + (
        'contract k { by bank1 keep pool = join_tables(left = bank1.train, right = bank2.train, on = "id") }\n'
        "contract c { by bank1 compute size(«pool».train) to bank1 require size(«k».x) > 0 }\n"
    )
    expect("DSC044", src)


def test_never_and_policy_patterns():
    src = PRELUDE + ("never «bank3.train» reaches «bank4»\nnever «bank1.tst» reaches *\n"
                     "policy bank1 { deny any on «bank1.tset» to «brokr» }\n"
                     "contract c { by bank1 compute size(bank1.train) to bank1 }\ncontract d { by bank2 compute size(bank2.train) to bank2 }\n")
    expect("DSC020", src.replace("«bank1.tst»", "bank1.tst").replace("«bank1.tset»", "bank1.tset"))
    expect("DSC021", src.replace("«bank3.train»", "bank3.train").replace("«bank4»", "bank4").replace("«brokr»", "brokr"))


def test_data_whose_owner_is_undeclared_is_reported_once():
    src = 'use "lib.py"\nagent a\ndata b.x csv "data.csv"\ncontract c { by a compute size(b.x) to a }\n'
    assert codes(src) == ["DSC051"]


def test_functions_of_a_missing_module_are_not_reported_as_undefined():
    src = 'use "nope.py"\nagent a\ndata a.x csv "data.csv"\ncontract c { by a compute whatever(a.x) to a }\n'
    assert codes(src) == ["DSC030"]


def test_names_of_unparsable_items_are_not_reported():
    src = PRELUDE + "agent bank3 {\ncontract c { by bank1 compute size(bank3.train) to bank3 }\n"
    assert codes(src) == ["DSC001"]
