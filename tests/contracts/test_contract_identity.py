"""Contract identity: deterministic, layout-blind, and changed by any change of meaning."""

import json

import pytest

from datastation.contracts.identity import IdentityError, canonical, identity
from datastation.contracts.model import Scenario, load_scenario
from datastation.dsl.parser import parse


def ident(dir_, name="joint_model"):
    scenario, diags = load_scenario(dir_ / "bank.dsc")
    assert scenario is not None, diags
    return identity(scenario, name)


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_identity_is_deterministic(bank_dir):
    a, b = ident(bank_dir), ident(bank_dir)
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    assert a.canonical == b.canonical


def test_canonical_form_has_no_spans_and_sorted_keys(bank_dir):
    i = ident(bank_dir)
    assert "span" not in i.canonical and '"line"' not in i.canonical
    doc = json.loads(i.canonical)
    assert json.dumps(doc, sort_keys=True, separators=(",", ":")) == i.canonical
    assert set(doc["functions"]) == {"fraud_model", "rows", "score"}
    assert doc["functions"]["rows"]["origin"] == "stdlib"
    assert doc["functions"]["fraud_model"]["origin"] == "user"


def test_layout_and_comments_do_not_change_identity(bank_dir):
    before = ident(bank_dir)
    edit(bank_dir / "bank.dsc", "contract joint_model {", "# a comment\ncontract   joint_model\n{")
    edit(bank_dir / "bank.dsc", "to      bank1, bank2", "to bank2,\n   bank1")  # recipients are a set
    assert ident(bank_dir).sha256 == before.sha256


@pytest.mark.parametrize(
    "old,new",
    [
        ('label = "is_fraud")\n  to', 'label = "amount")\n  to'),  # an argument
        ("rows(bank1.train) >= 20", "rows(bank1.train) >= 21"),  # a require
        ("to      bank1, bank2", "to      bank1"),  # the recipients
        ("by      bank1", "by      bank2"),  # the proposer
        ("[bank1.train, bank2.train], label", "[bank2.train, bank1.train], label"),  # argument order
    ],
)
def test_contract_edits_change_identity(bank_dir, old, new):
    before = ident(bank_dir)
    edit(bank_dir / "bank.dsc", old, new)
    assert ident(bank_dir).sha256 != before.sha256


@pytest.mark.parametrize(
    "old,new",
    [
        ("return {\"predict\": _mean_label(train, label) >= THRESHOLD}", "return {\"predict\": True}"),
        ("THRESHOLD = 0.5", "THRESHOLD = 0.6"),  # a constant the function uses
        ("return float(pd.concat(frames)[label].mean())", "return 1.0"),  # a helper it calls
        ("import pandas as pd", "import pandas as pd\nimport os"),  # the module's imports
        ("(test[label] == model", "(test[label] != model"),  # a function in an ensure
    ],
)
def test_function_edits_change_identity(bank_dir, old, new):
    before = ident(bank_dir)
    edit(bank_dir / "functions.py", old, new)
    assert ident(bank_dir).sha256 != before.sha256


def test_unrelated_function_edit_keeps_identity(bank_dir):
    before = ident(bank_dir)
    edit(bank_dir / "functions.py", "return x + 1", "return x + 2")
    assert ident(bank_dir).sha256 == before.sha256


def test_kept_input_by_name(bank_dir):
    i = ident(bank_dir, "audit_count")
    doc = json.loads(i.canonical)
    assert doc["contract"]["call"]["args"] == [{"node": "Name", "id": "pool"}]


def test_missing_function_has_no_identity(bank_dir):
    edit(bank_dir / "functions.py", "def model_label(", "def model_label_renamed(")
    with pytest.raises(IdentityError, match="model_label"):
        ident(bank_dir, "audit_count")


def test_canonical_drops_spans():
    a = parse("contract c { by x compute f(a = 1) to y }", "a.dsc").program.contracts[0]
    b = parse("contract c {\n by x\n compute f(a=1)\n to y\n}", "b.dsc").program.contracts[0]
    assert canonical(a) == canonical(b)
    assert canonical(a) != canonical(parse("contract c { by x compute f(a = 1.5) to y }").program.contracts[0])


def test_scenario_without_file_uses_base_dir(bank_dir):
    text = (bank_dir / "bank.dsc").read_text()
    s = Scenario.build(parse(text, "elsewhere.dsc").program, bank_dir)
    assert identity(s, "joint_model").sha256 == ident(bank_dir).sha256
