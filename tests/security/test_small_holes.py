"""Hole 10, the smaller ones: a bundle's module paths with NUL bytes or over-long names are
refused with a code and an audit entry; a refused `dsc data add` writes none of the file's
contents into the audit log; names that come from data (column names) and free text from
other parties reach a terminal only with their control characters escaped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_run import ok
from datastation.runtime.escrow import (
    PROPOSE,
    EscrowRefusal,
    make_bundle,
    propose_params,
)

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"
SECRET = "TOPSECRET-9c41e7"


@pytest.mark.parametrize("path", [
    "functions\x00.py",
    "\x00",
    "sub/\x00/functions.py",
    "m" * 300 + ".py",
    "/".join(["d" * 200] * 40) + "/functions.py",
    "",
    ".",
    "sub/../../escape.py",
])
def test_bad_module_paths_are_refused_with_a_code_and_an_audit_entry(world, path):
    bundle = make_bundle(world.dsc)
    bundle["modules"][path] = "def f(x):\n    return x\n"
    req = world.escrow.sign_as("bank1", PROPOSE, propose_params(bundle, "joint_model"))
    before = world.store.audit_count()
    with pytest.raises(EscrowRefusal) as info:
        world.escrow.propose(req)
    assert info.value.code == "bad_bundle"
    entries = list(world.store.audit_entries())[before:]
    assert [(e.kind, e.payload["code"]) for e in entries] == [("refusal", "bad_bundle")]
    assert world.store.list_contracts() == []


@pytest.mark.parametrize("change", [
    lambda b: b.update(file="bank\x00.dsc"),
    lambda b: b.update(file="b" * 300 + ".dsc"),
    lambda b: b["modules"].update({"bank.dsc": "x = 1\n"}),
    lambda b: b["modules"].update({"sub": "x = 1\n", "sub/f.py": "y = 2\n"}),
    lambda b: b["modules"].update({f"m{i}.py": "" for i in range(300)}),
], ids=["nul_file_name", "long_file_name", "module_is_the_dsc",
        "module_is_a_folder", "too_many_modules"])
def test_bad_bundles_are_refused_with_a_code_and_an_audit_entry(world, change):
    bundle = make_bundle(world.dsc)
    change(bundle)
    req = world.escrow.sign_as("bank1", PROPOSE, propose_params(bundle, "joint_model"))
    before = world.store.audit_count()
    with pytest.raises(EscrowRefusal) as info:
        world.escrow.propose(req)
    assert info.value.code == "bad_bundle", str(info.value)
    entries = list(world.store.audit_entries())[before:]
    assert [(e.kind, e.payload["code"]) for e in entries] == [("refusal", "bad_bundle")]


def test_a_bundle_that_is_not_unicode_cannot_even_be_signed(world):
    # lone surrogates: no canonical JSON, so no signature can cover them; the escrow refuses
    from datastation.runtime.keys import SignedRequest

    bundle = make_bundle(world.dsc)
    bundle["modules"]["functions.py"] += "\n# \ud800\n"
    with pytest.raises(ValueError):
        world.escrow.sign_as("bank1", PROPOSE, propose_params(bundle, "joint_model"))
    good = world.escrow.sign_as("bank1", PROPOSE, propose_params(make_bundle(world.dsc), "joint_model"))
    forged = SignedRequest({**good.envelope, "params": propose_params(bundle, "joint_model")}, good.signature)
    n = world.store.audit_count()
    with pytest.raises(EscrowRefusal) as info:
        world.escrow.propose(forged)
    assert info.value.code == "malformed"
    assert world.store.audit_count() == n  # not authenticated: not audited


@pytest.mark.parametrize("name, text, extra", [
    ("ragged.csv", f"a,b\n1,2\n{SECRET},3,4\n", []),
    ("header.csv", f"{SECRET}\n1\n", ["--declared-schema", '{"a": "int"}']),
    ("wrongtype.csv", f"a\n{SECRET}\n", ["--declared-schema", '{"a": "int"}']),
    ("nested.json", f'[{{"{SECRET}": [1, 2]}}]', []),
    ("mixed.json", f'[{{"{SECRET}": 1}}, {{"{SECRET}": "x"}}]', []),
    ("binary.csv", "\x00\x01" + SECRET, []),
])
def test_a_refused_data_add_writes_none_of_the_file_into_the_audit_log(tmp_path, dsc, name, text, extra):
    ok(dsc("agent", "create", "bank1", "--no-passphrase"))
    (tmp_path / name).write_text(text)
    r = dsc("data", "add", "bank1.x", name, "--as", "bank1", *extra)
    assert r.returncode == 1
    log = ok(dsc("log", "--format", "json")).stdout + ok(dsc("log")).stdout
    assert json.loads(ok(dsc("log", "--format", "json")).stdout)[-1]["kind"] == "refusal"
    assert SECRET not in log
    for p in (tmp_path / ".dsc-escrow").rglob("*"):  # the database, its journal, the storage
        assert not p.is_file() or SECRET.encode() not in p.read_bytes(), p


def test_a_declared_schema_read_from_a_file_is_not_copied_into_the_audit_log(tmp_path, dsc):
    ok(dsc("agent", "create", "bank1", "--no-passphrase"))
    (tmp_path / "t.csv").write_text("a\n1\n")
    (tmp_path / "secret.json").write_text(f'{{"password": "{SECRET}", "user": "root"}}')
    r = dsc("data", "add", "bank1.x", "t.csv", "--as", "bank1", "--declared-schema", "@secret.json")
    assert r.returncode == 1
    assert SECRET not in ok(dsc("log", "--format", "json")).stdout
    for p in (tmp_path / ".dsc-escrow").rglob("*"):
        assert not p.is_file() or SECRET.encode() not in p.read_bytes(), p


EVIL = "\x1b]0;owned\x07col\x1b[2J\x1b[31m\u202e\x9b"


def _no_control(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n") or 0x7f <= ord(c) < 0xa0 or c in "\u202e\u2066\u2067"]
    assert not bad, f"raw control characters printed: {bad!r}"


def test_names_from_data_are_printed_with_control_characters_escaped(tmp_path, dsc):
    ok(dsc("agent", "create", "bank1", "--no-passphrase"))
    ok(dsc("agent", "create", "bank2", "--no-passphrase"))
    (tmp_path / "evil.csv").write_text(f'"{EVIL}",b\n1,2\n', encoding="utf-8")
    added = ok(dsc("data", "add", "bank1.evil", "evil.csv", "--as", "bank1"))
    _no_control(added.stdout)
    listed = ok(dsc("data", "list"))
    _no_control(listed.stdout)
    assert "\\x1b" in listed.stdout and "col" in listed.stdout  # shown, escaped
    _no_control(ok(dsc("log")).stdout)
    # JSON output stays exact (JSON escapes control characters itself)
    (row,) = json.loads(ok(dsc("data", "list", "--format", "json")).stdout)
    assert EVIL in row["schema"]


def test_free_text_of_other_parties_is_printed_escaped_in_status_and_log(tmp_path, dsc):
    shutil.copytree(FIXTURES, tmp_path / "bank")
    for a in ("bank1", "bank2"):
        ok(dsc("agent", "create", a, "--no-passphrase"))
    for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
        owner, n = key.split(".")
        ok(dsc("data", "add", key, f"bank/{owner}_{n}.csv", "--as", owner))
    cid = json.loads(ok(dsc("propose", "bank/bank.dsc", "joint_model", "--as", "bank1", "--format", "json")).stdout)["id"]
    ok(dsc("reject", cid, "--as", "bank2", "--why", EVIL))
    _no_control(ok(dsc("status", cid)).stdout)
    _no_control(ok(dsc("status")).stdout)
    _no_control(ok(dsc("log")).stdout)


def test_the_summary_an_owner_reads_before_approving_is_printed_escaped(tmp_path, dsc):
    # a proposer's string literal that would erase lines of the summary on the owner's terminal
    (tmp_path / "t.csv").write_text("x\n1\n")
    (tmp_path / "c.dsc").write_text(
        'agent a\nagent b\ndata a.t csv "t.csv"\n'
        'contract c {\n  by b\n  compute rows(data = a.t)\n  to b\n'
        f'  require rows(a.t) > 0 and "{EVIL}\\x1b[1A\\x1b[2K" == "z"\n}}\n', encoding="utf-8")
    shown = ok(dsc("show", "c.dsc", "c"))
    _no_control(shown.stdout)
    assert "\\x1b" in shown.stdout
