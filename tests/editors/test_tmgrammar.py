"""The VS Code extension: grammar generation, snapshot/scope tests (via test.sh), packaging."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / "editors" / "vscode"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, VSCODE / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"{', '.join(missing)} not installed"
        if IN_CI:
            pytest.fail(f"{message}: CI must run the grammar tests")
        pytest.skip(message)


def test_committed_json_grammars_equal_generated():
    build = _load("build_grammar")
    sources = build.sources()
    assert {s.name for s in sources} == {"dsc.tmLanguage.yaml", "dsc-markdown-injection.tmLanguage.yaml"}
    for src in sources:
        assert build.target(src).read_text(encoding="utf-8") == build.generate(src), (
            f"{build.target(src).name} is stale: run python3 editors/vscode/scripts/build_grammar.py"
        )


def test_grammar_has_no_unexpanded_variables_and_right_scope():
    grammar = json.loads((VSCODE / "syntaxes" / "dsc.tmLanguage.json").read_text())
    assert grammar["scopeName"] == "source.dsc"
    assert "variables" not in grammar
    assert "{{" not in json.dumps(grammar)


def test_markdown_injection_matches_dsc_fences_only():
    inj = json.loads((VSCODE / "syntaxes" / "dsc-markdown-injection.tmLanguage.json").read_text())
    assert inj["injectionSelector"] == "L:text.html.markdown"
    block = inj["repository"]["dsc-code-block"]
    begin = re.compile(block["begin"].replace(r"\G", ""))
    assert begin.search("```dsc") and begin.search("~~~ DSC title") and begin.search("  ````dsc")
    assert not begin.search("```python") and not begin.search("```dscx")
    assert block["patterns"][0]["patterns"] == [{"include": "source.dsc"}]


def test_package_json_contributes_language_and_grammars():
    pkg = json.loads((VSCODE / "package.json").read_text())
    (lang,) = pkg["contributes"]["languages"]
    assert lang["id"] == "dsc" and lang["extensions"] == [".dsc"]
    grammars = {g["scopeName"]: g for g in pkg["contributes"]["grammars"]}
    assert grammars["source.dsc"]["language"] == "dsc"
    assert grammars["markdown.dsc.codeblock"]["injectTo"] == ["text.html.markdown"]
    for g in grammars.values():
        assert (VSCODE / g["path"]).is_file()
    conf = json.loads((VSCODE / lang["configuration"]).read_text())
    assert conf["comments"]["lineComment"] == "#"
    inc = re.compile(conf["indentationRules"]["increaseIndentPattern"])
    assert inc.match("contract x {") and inc.match("  ensure for b in [a, b]:") and not inc.match("  by bank1")
    assert (VSCODE / "package-lock.json").is_file()


def test_python_vsix_builder_packs_the_extension(tmp_path):
    _need("npm")
    if not (VSCODE / "node_modules" / "vscode-languageclient").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=VSCODE, check=True, capture_output=True)
    out = _load("build_vsix").build(tmp_path / "dsc.vsix")
    _assert_vsix(out)


def test_package_sh_writes_a_vsix(tmp_path):
    _need("bash", "npm", "npx")
    out = tmp_path / "dsc.vsix"
    proc = subprocess.run(["bash", str(VSCODE / "scripts" / "package.sh"), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_vsix(out)


def _assert_vsix(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        pkg = json.loads(z.read("extension/package.json"))
        manifest = z.read("extension.vsixmanifest").decode()
    assert {"extension.vsixmanifest", "[Content_Types].xml", "extension/package.json",
            "extension/language-configuration.json", "extension/extension.js",
            "extension/syntaxes/dsc.tmLanguage.json",
            "extension/syntaxes/dsc-markdown-injection.tmLanguage.json",
            "extension/node_modules/vscode-languageclient/package.json"} <= names
    assert pkg["name"] == "dsc" and f'Version="{pkg["version"]}"' in manifest
    # sources, tests and dev tools stay out of the package
    assert not any(n.endswith(".yaml") or "/tests/" in n[:20] or "vscode-tmgrammar-test" in n for n in names)


def test_grammar_snapshots_and_scopes():
    """Runs editors/vscode/scripts/test.sh (scope assertions and snapshots of every example)."""
    _need("bash", "node", "npm")
    proc = subprocess.run(["bash", str(VSCODE / "scripts" / "test.sh")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert re.search(r"^grammar: \d+ passed, 0 failed$", proc.stdout, re.M)
