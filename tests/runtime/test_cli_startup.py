"""The command line starts light: only the invoked command's module is imported, `dsc --help`
lists every command from the static table, and a short check imports neither Lark, networkx
nor the escrow. (Times are measured in bench/startup.py, not asserted here.)"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from datastation.runtime import cli

COMMANDS_DIR = Path(cli.__file__).with_name("commands")
HEAVY = ("networkx", "lark", "yaml", "rich", "pandas", "cryptography", "datastation.contracts",
         "datastation.runtime.escrow", "datastation.runtime.config")


def _run_cli(args: list[str], cwd: Path | None = None) -> dict:
    """Run `main(args)` in a fresh interpreter: its exit code, output and the modules it imported."""
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        from datastation.runtime.cli import main
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main({args!r})
            except SystemExit as exc:
                rc = exc.code
        json.dump({{"rc": rc, "out": out.getvalue(), "err": err.getvalue(), "modules": sorted(sys.modules)}}, sys.stdout)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _command_modules(modules: list[str]) -> set[str]:
    prefix = "datastation.runtime.commands."
    return {m[len(prefix):] for m in modules if m.startswith(prefix)} - {"common"}


def test_every_command_module_is_in_the_table():
    found = set()
    for path in COMMANDS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            found.add(path.stem)
    assert found == set(cli.COMMANDS)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_each_command_registers_the_help_of_the_table(name):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(f"datastation.runtime.commands.{name}").register(sub)
    (action,) = sub._choices_actions
    assert (action.dest, action.help) == (name, cli.COMMANDS[name])


def test_help_lists_every_command_without_importing_one():
    r = _run_cli(["--help"])
    assert r["rc"] == 0
    for name, help_text in cli.COMMANDS.items():
        assert name in r["out"]
        assert " ".join(help_text.split()[:3]) in " ".join(r["out"].split())
    assert _command_modules(r["modules"]) == set()


def test_version_imports_no_command_and_is_the_installed_version():
    r = _run_cli(["--version"])
    assert r["rc"] == 0 and r["out"].strip() == f"dsc {version('datastation')}"
    assert _command_modules(r["modules"]) == set()


def test_an_unknown_command_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and all(f"'{name}'" in err for name in cli.COMMANDS)


def test_no_command_prints_the_help(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in cli.COMMANDS)


def test_check_imports_only_its_own_module_and_nothing_heavy(tmp_path):
    (tmp_path / "one.dsc").write_text('agent alice "Alice"\n', encoding="utf-8")
    r = _run_cli(["check", "one.dsc"], cwd=tmp_path)
    assert r["rc"] == 0 and "DSC071" in r["out"]
    assert _command_modules(r["modules"]) == {"check"}
    heavy = [m for m in r["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []


def test_flow_rules_still_run_when_a_program_needs_them(tmp_path):
    # networkx is imported lazily: a program with a kept-result cycle and a `never` still gets both.
    (tmp_path / "flow.dsc").write_text(textwrap.dedent("""
        agent a
        agent b
        data a.x csv "x.csv"
        never a.x reaches b
        contract k1 { by a keep r1 = rows(r2) }
        contract k2 { by a keep r2 = rows(r1) }
        contract c { by a compute rows(a.x) to b }
    """), encoding="utf-8")
    (tmp_path / "x.csv").write_text("id\n1\n", encoding="utf-8")
    r = _run_cli(["check", "--format", "json", "flow.dsc"], cwd=tmp_path)
    codes = {d["code"] for d in json.loads(r["out"])["diagnostics"]}
    assert {"DSC061", "DSC063"} <= codes
    assert "networkx" in r["modules"]


@pytest.mark.parametrize("args", [["check", "--max-errors", "0", "x.dsc"], ["fmt"], ["show"]])
def test_usage_errors_of_a_command_name_the_command(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert f"usage: dsc {args[0]}" in capsys.readouterr().err


def test_a_subcommand_help_is_its_own(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", "--help"])
    assert exc.value.code == 0
    assert "usage: dsc check" in capsys.readouterr().out
