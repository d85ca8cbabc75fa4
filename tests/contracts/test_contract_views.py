"""`dsc show` (summary) and `dsc graph` (DOT/SVG) on the bank fixture."""

import json
import re
import shutil

import pytest

from datastation.runtime.cli import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_json(bank_dir, capsys):
    code, out, _ = run(capsys, "show", str(bank_dir / "bank.dsc"), "joint_model", "--format", "json")
    assert code == 0
    s = json.loads(out)
    assert s["proposed_by"] == "bank1" and len(s["identity"]) == 64
    assert {c["agent"]: [d["key"] for d in c["data"]] for c in s["contributors"]} == {
        "bank1": ["bank1.test", "bank1.train"], "bank2": ["bank2.test", "bank2.train"]}
    assert s["runs"]["function"] == "fraud_model" and s["runs"]["module"] == "functions.py"
    assert [a["name"] for a in s["runs"]["arguments"]] == ["train", "label"]
    assert [r["agent"] for r in s["recipients"]] == ["bank1", "bank2"]
    assert [(c["kind"], c["line"]) for c in s["conditions"]] == [("require", 21), ("ensure", 22)]
    assert {p["owner"]: p["effect"] for p in s["policies"]} == {"bank1": None, "bank2": None}


def test_show_expands_kept_inputs(bank_dir, capsys):
    code, out, _ = run(capsys, "show", str(bank_dir / "bank.dsc"), "audit_count", "--format", "json")
    s = json.loads(out)
    assert s["kept_inputs"] == [{"name": "pool", "kept_by": "pooled", "sources": ["bank1.train", "bank2.train"]}]
    assert s["source_agents"] == ["bank1", "bank2"]


def test_show_policy_decision_names_the_line(bank_dir, capsys):
    p = bank_dir / "bank.dsc"
    p.write_text(p.read_text().replace("allow rows on bank2.* to any", "allow any on bank2.* to any"))
    code, out, _ = run(capsys, "show", str(p), "joint_model", "--format", "json")
    pol = {x["owner"]: x for x in json.loads(out)["policies"]}
    assert pol["bank2"]["effect"] == "allow" and pol["bank2"]["rule"]["line"] == 13


def test_show_names_functions_by_identity(bank_dir, capsys):
    """`dsc show` gives the identity of every function the contract calls and of those its
    deciding policy rule names (issue 9)."""
    p = bank_dir / "bank.dsc"
    p.write_text(p.read_text().replace("model_label, score", "model_label"))  # `score`, in the ensure: denied
    code, out, _ = run(capsys, "show", str(p), "joint_model", "--format", "json")
    s = json.loads(out)
    assert sorted(s["functions"]) == ["fraud_model", "rows", "score"]  # the conditions' functions too
    assert s["functions"]["fraud_model"]["origin"] == "user" and s["functions"]["rows"]["origin"] == "stdlib"
    decision = {x["owner"]: x for x in s["policies"]}["bank2"]
    assert decision["effect"] == "deny"
    rule = decision["rule"]
    excepted = {f["name"]: f for f in rule["except"]}
    assert excepted["fraud_model"]["sha256"] == s["functions"]["fraud_model"]["sha256"]
    assert excepted["fraud_model"]["module"] == "functions.py"
    code, out, _ = run(capsys, "show", str(p), "joint_model")
    prefix = s["functions"]["fraud_model"]["sha256"][:16]
    assert code == 0 and f"except fraud_model: user functions.py sha256 {prefix}" in out
    assert f"fraud_model: user functions.py:" in out and prefix in out


def test_show_human(bank_dir, capsys):
    code, out, _ = run(capsys, "show", str(bank_dir / "bank.dsc"), "pooled")
    assert code == 0
    assert "kept in the escrow as pool" in out and "[bank1.train, bank2.train]" in out


def test_show_errors(bank_dir, capsys):
    assert run(capsys, "show", str(bank_dir / "bank.dsc"), "nope")[0] == 1  # like every misspelled contract
    (bank_dir / "bad.dsc").write_text("contract c { by x compute f() to y }\n")
    code, _, err = run(capsys, "show", str(bank_dir / "bad.dsc"), "c")
    assert code == 1 and "DSC" in err


def test_graph_dot_structure(bank_dir, capsys):
    code, out, _ = run(capsys, "graph", str(bank_dir / "bank.dsc"))
    assert code == 0 and out.startswith('digraph "bank" {')
    nodes = set(re.findall(r'^  "([a-z]+:[^"]+)" \[', out, re.M))
    edges = {(a, b, l) for a, b, l in re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label="([^"]*)"', out, re.M)}
    assert {"agent:bank1", "agent:auditor", "data:bank2.train", "contract:joint_model", "kept:pool"} <= nodes
    assert ("agent:bank1", "data:bank1.train", "owns") in edges
    assert ("data:bank1.train", "contract:joint_model", "read by") in edges
    assert ("data:bank1.test", "contract:joint_model", "checked by") in edges
    assert ("contract:joint_model", "agent:bank2", "released to") in edges
    assert ("contract:pooled", "kept:pool", "keeps") in edges
    assert ("kept:pool", "contract:audit_count", "read by") in edges


def test_graph_to_file_and_bad_suffix(bank_dir, capsys):
    out = bank_dir / "g.dot"
    assert run(capsys, "graph", str(bank_dir / "bank.dsc"), "-o", str(out))[0] == 0
    assert out.read_text().startswith("digraph")
    assert run(capsys, "graph", str(bank_dir / "bank.dsc"), "-o", str(bank_dir / "g.txt"))[0] == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg(bank_dir, capsys):
    out = bank_dir / "g.svg"
    assert run(capsys, "graph", str(bank_dir / "bank.dsc"), "-o", str(out))[0] == 0
    text = out.read_text()
    assert "<svg" in text and "joint_model" in text and "kept:pool" in text


def test_graph_without_graphviz(bank_dir, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = run(capsys, "graph", str(bank_dir / "bank.dsc"), "-o", str(bank_dir / "g.png"))
    assert code == 2 and "Graphviz" in err
