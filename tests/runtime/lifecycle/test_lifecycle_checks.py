"""Issue 10 item 6: `dsc data add` holds the contents to the schema declared in the owner's
.dsc file (and refuses a duplicated column), with located diagnostics; `dsc propose` refuses a
file with check errors and reports exactly what `dsc check` reports."""

import json
import re

import pytest

CODE = re.compile(r"error\[(DSC\d{3})\]")


def _data_add(scen, *args):
    return scen("data", "add", "alice.nums", *args, "--as", "alice", "--replace")


@pytest.mark.parametrize("contents, code, where", [
    ("y\n1\n", "DSC080", "s.dsc:6:34"),  # a column other than the declared one
    ("x,z\n1,2\n", "DSC080", "s.dsc:6:34"),  # one column more
    ("x\nhello\n", "DSC080", "s.dsc:6:34"),  # declared int, holds text
    ("x,x\n1,2\n", "DSC081", "bad.csv:1:3"),  # a duplicated header loses no column silently
])
def test_data_add_checks_the_declared_schema(scen, contents, code, where):
    (scen.root / "bad.csv").write_text(contents)
    r = _data_add(scen, "bad.csv", "--dsc", "s.dsc")
    assert r.returncode == 1 and CODE.findall(r.stderr) == [code] and f"--> {where}" in r.stderr
    stored = json.loads(scen("data", "list", "--format", "json").stdout)
    assert [d["schema"] for d in stored] == [{"x": "int"}]  # the earlier contents stay


def test_a_duplicated_header_is_refused_without_a_declaration(scen):
    (scen.root / "bad.csv").write_text("x,x\n1,2\n")
    r = _data_add(scen, "bad.csv")
    assert r.returncode == 1 and CODE.findall(r.stderr) == ["DSC081"]


def test_data_add_takes_the_declared_path_and_records_the_declared_schema(scen):
    (scen.root / "nums.csv").write_text("x\n4\n5\n6\n")
    r = _data_add(scen, "--dsc", "s.dsc")
    assert r.returncode == 0, r.stderr
    stored = json.loads(scen("data", "list", "--format", "json", "--as", "alice").stdout)  # its own: the size shown
    assert stored[0]["declared_schema"] == {"x": "int"} and stored[0]["size"] == len("x\n4\n5\n6\n")


def test_propose_refuses_what_check_reports_and_reports_the_same(scen):
    text = (scen.root / "s.dsc").read_text()
    (scen.root / "s.dsc").write_text(text + "\npolicy alice {\n  deny any on alice.nums\n}\n")
    check = scen("check", "s.dsc")
    assert check.returncode == 1 and "DSC060" in CODE.findall(check.stdout)
    r = scen.propose("total")
    assert r.returncode == 1 and json.loads(scen("contracts", "--format", "json").stdout) == []
    assert CODE.findall(r.stderr) == CODE.findall(check.stdout)
    assert r.stderr.startswith(check.stdout.rsplit("\n", 2)[0])  # the same diagnostics, rendered alike
