"""One exit-code table for every command (runtime/commands/common.py ExitCode), command by
command: 0 ok, 1 errors (a file, contract or escrow that does not exist, a refusal, nothing
released), 2 usage, 3 denied, 4 awaiting approval. Each case is a sequence of command lines run in
one directory of a fresh project; the last one's exit code is the one expected."""

from __future__ import annotations

import pytest

from datastation.runtime.cli import main
from datastation.runtime.commands.common import EXIT_CODES_HELP, ExitCode

OK, ERR, USAGE, DENIED, AWAITING = (int(c) for c in ExitCode)
B1, B2, AUD = ("--as", "bank1"), ("--as", "bank2"), ("--as", "auditor")

# (where, command lines..., expected exit code of the last one). where: the project root, a
# subdirectory of it ("sub/deeper"), or "elsewhere" (a directory without an escrow).
CASES = [
    # reads
    ("root", [("status",)], OK),
    ("root", [("status", "joint_model")], OK),
    ("sub/deeper", [("status", "joint_model")], OK),
    ("sub/deeper", [("contracts", "--status", "pending")], OK),
    ("root", [("show", "joint_model")], OK),
    ("root", [("show", "s.dsc")], OK),
    ("root", [("show", "s.dsc", "peek")], OK),
    ("root", [("log", "--contract", "joint_model", "--kind", "proposal")], OK),
    ("root", [("agent", "list")], OK),
    ("root", [("data", "list")], OK),
    ("root", [("policy", "show")], OK),
    ("root", [("escrow", "id")], OK),
    ("root", [("audit", "verify")], OK),
    ("root", [("init",)], OK),  # already there: nothing changes
    ("root", [("check", "s.dsc")], OK),
    # a contract that does not exist: the same code for every command
    ("root", [("status", "nosuch")], ERR),
    ("root", [("show", "nosuch")], ERR),
    ("root", [("show", "s.dsc", "nosuch")], ERR),
    ("root", [("approve", "nosuch", *B1, "--yes")], ERR),
    ("root", [("reject", "nosuch", *B2, "--why", "no")], ERR),
    ("root", [("revoke", "nosuch", *B1)], ERR),
    ("root", [("execute", "nosuch", *B1)], ERR),
    ("root", [("log", "--contract", "nosuch")], ERR),
    ("root", [("propose", "s.dsc", "nosuch", *B1)], ERR),
    ("root", [("run", "s.dsc", "nosuch")], ERR),
    ("root", [("status", "abc")], ERR),  # too short for an id prefix, and no such name
    # a file that does not exist: the same code for every command
    ("root", [("check", "missing.dsc")], ERR),
    ("root", [("show", "missing.dsc")], ERR),
    ("root", [("show", "missing.dsc", "joint_model")], ERR),
    ("root", [("propose", "missing.dsc", "joint_model", *B1)], ERR),
    ("root", [("run", "missing.dsc")], ERR),
    ("root", [("policy", "apply", "missing.dsc", *B2)], ERR),
    ("root", [("data", "add", "bank1.other", "missing.csv", *B1)], ERR),
    # usage
    ("root", [("contracts", "--status", "bogus")], USAGE),
    ("root", [("log", "--kind", "bogus")], USAGE),
    ("root", [("status", "--bogus-flag")], USAGE),
    ("root", [("completion", "tcsh")], USAGE),
    ("root", [("approve",)], USAGE),
    # refusals
    ("root", [("approve", "joint_model", *AUD, "--yes")], ERR),  # not a source agent
    ("root", [("propose", "s.dsc", "joint_model", *B2)], ERR),  # not the proposer
    # awaiting approval
    ("root", [("execute", "joint_model", *B1)], AWAITING),
    ("sub/deeper", [("approve", "joint_model", *B1, "--yes"), ("execute", "joint_model", *B2)], AWAITING),
    # approved and executed, then once only
    ("root", [("approve", "joint_model", *B1, "--yes"), ("approve", "joint_model", *B2, "--yes"),
              ("execute", "joint_model", *B1)], OK),
    ("root", [("approve", "joint_model", *B1, "--yes"), ("approve", "joint_model", *B2, "--yes"),
              ("execute", "joint_model", *B1), ("execute", "joint_model", *B2)], ERR),
    # denied by a registered policy, or rejected
    ("root", [("propose", "s.dsc", "peek", *AUD)], DENIED),
    ("root", [("propose", "s.dsc", "peek", *AUD), ("execute", "peek", *AUD)], DENIED),
    ("root", [("reject", "joint_model", *B2, "--why", "not now"), ("execute", "joint_model", *B1)], DENIED),
    ("root", [("reject", "joint_model", *B2, "--why", "not now"), ("approve", "joint_model", *B1, "--yes")], DENIED),
    # no escrow here: every command that needs one says so, and creates nothing
    *[("elsewhere", [cmd], ERR) for cmd in [
        ("status",), ("status", "joint_model"), ("contracts",), ("show", "joint_model"), ("log",),
        ("agent", "list"), ("agent", "create", "carol", "--no-passphrase"), ("data", "list"),
        ("policy", "show"), ("escrow", "id"), ("audit", "verify"), ("execute", "joint_model", *B1),
        ("approve", "joint_model", *B1, "--yes"), ("propose", "../project/s.dsc", "joint_model", *B1),
        ("policy", "apply", "../project/p.dsc", *B2), ("data", "add", "bank1.x", "../project/bank1_train.csv", *B1),
    ]],
    # ... but finds one named by --escrow, before or after the command
    ("elsewhere", [("--escrow", "../project", "status", "joint_model")], OK),
    ("elsewhere", [("status", "joint_model", "--escrow", "../project")], OK),
    ("elsewhere", [("--escrow", "../project/.dsc-escrow", "contracts")], OK),
    ("elsewhere", [("--escrow", "../nowhere", "contracts")], ERR),
    ("elsewhere", [("show", "../project/s.dsc")], OK),  # a file needs no escrow
]


def _id(case) -> str:
    where, lines, code = case
    return f"{where}: " + " ; ".join(" ".join(line) for line in lines) + f" -> {code}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_exit_code(case, project, dsc_in):
    where, lines, expected = case
    cwd = project.parent / "elsewhere" if where == "elsewhere" else project / where if where != "root" else project
    cwd.mkdir(exist_ok=True)
    for line in lines[:-1]:
        assert dsc_in(cwd, *line).returncode in (OK, DENIED)  # steps before (a denied proposal is stored)
    r = dsc_in(cwd, *lines[-1])
    assert r.returncode == expected, (r.stdout, r.stderr)
    if expected != OK:  # one error prefix everywhere (diagnostics of a file are shown as `dsc check` does)
        assert "dsc: error:" in r.stderr or "error[DSC" in r.stderr + r.stdout, r.stderr
    if where == "elsewhere":
        assert not (cwd / ".dsc-escrow").exists() and not list(cwd.iterdir())
    assert not (project / where / ".dsc-escrow").exists() or where == "root"


def test_the_table_is_in_the_help_and_the_docs(capsys):
    from pathlib import Path

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert EXIT_CODES_HELP in out
    doc = (Path(__file__).parents[3] / "docs" / "cli.md").read_text()
    assert EXIT_CODES_HELP in doc
    assert {int(c) for c in ExitCode} == {0, 1, 2, 3, 4}
