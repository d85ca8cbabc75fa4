"""`dsc run` scenarios from cases/*.yaml, driven through the CLI with `--format json`."""

import json
import os
from pathlib import Path

import pytest
import yaml

from datastation.runtime.cli import main

ROOT = Path(__file__).parents[3]
CASES = []
for f in sorted(Path(__file__).with_name("cases").glob("*.yaml")):
    for case in yaml.safe_load(f.read_text()):
        CASES.append(pytest.param(case, id=f"{f.stem}: {case['name']}"))


@pytest.mark.parametrize("case", CASES)
def test_run_case(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data_station_config.yaml from the repo: defaults
    monkeypatch.delenv("DSC_CONFIG", raising=False)
    if "example" in case:
        args = [str(ROOT / case["example"])]
    else:
        for name, text in case["files"].items():
            (tmp_path / name).write_text(text)
        args = [case["args"][0]]
        case = {**case, "args": case["args"][1:]}
    code = main(["run", *args, *case["args"], "--format", "json"])
    out = capsys.readouterr().out
    assert code == case["exit"], out
    if code in (1, 2) and not out.strip():  # refused before anything ran: the error is on stderr
        return
    doc = json.loads(out)
    assert doc["exit_code"] == code and doc["audit"]["ok"]
    got = {c["name"]: c for c in doc["contracts"]}
    for want in case.get("contracts", []):
        c = got[want["name"]]
        assert c["outcome"] == want["outcome"], c
        if "releases" in want:
            assert sorted(r["recipient"] for r in c["execution"]["releases"]) == want["releases"] if "execution" in c \
                else want["releases"] == []
        if "failed_condition" in want:
            bad = [x for x in c["execution"]["conditions"] if not x["held"]]
            assert bad and {"kind": bad[0]["kind"], "line": bad[0]["line"]} == want["failed_condition"]
        if "waiting_for" in want:
            assert c["waiting_for"] == want["waiting_for"]
        if "kept" in want:
            assert c["execution"]["kept"] == want["kept"]
        if "approvers" in want:
            assert sorted(a["agent"] for a in c["approvals"]) == want["approvers"]
        if "policy_lines" in want:
            assert [int(a["policy"].split(":")[1]) for a in c["approvals"] if a["how"] == "policy"] == want["policy_lines"]
