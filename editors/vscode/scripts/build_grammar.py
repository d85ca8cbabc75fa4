#!/usr/bin/env python3
"""Build the TextMate grammars (syntaxes/*.tmLanguage.json) from their YAML sources.

`{{name}}` inside any string is replaced by `variables[name]` (itself expanded), and the
`variables` table is dropped from the output. `--check` exits 1 when a committed JSON file
differs from what its YAML source generates.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

SYNTAXES = Path(__file__).resolve().parent.parent / "syntaxes"
_VAR = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")


def _expand(value, variables: dict[str, str]):
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name not in variables:
                raise SystemExit(f"build_grammar: undefined variable {{{{{name}}}}}")
            return variables[name]

        for _ in range(10):  # variables may refer to variables
            new = _VAR.sub(sub, value)
            if new == value:
                return new
            value = new
        raise SystemExit("build_grammar: variables nested too deeply")
    if isinstance(value, dict):
        return {k: _expand(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables) for v in value]
    return value


def generate(source: Path) -> str:
    """The JSON text generated from one YAML grammar source."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    variables = {k: str(v) for k, v in (data.pop("variables", None) or {}).items()}
    grammar = _expand(data, variables)
    return json.dumps(grammar, indent=2, ensure_ascii=False) + "\n"


def sources(directory: Path = SYNTAXES) -> list[Path]:
    return sorted(directory.glob("*.tmLanguage.yaml"))


def target(source: Path) -> Path:
    return source.with_name(source.name.removesuffix(".yaml") + ".json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a JSON grammar is out of date")
    args = parser.parse_args(argv)
    stale = []
    for src in sources():
        out, text = target(src), generate(src)
        if args.check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                stale.append(out.name)
        else:
            out.write_text(text, encoding="utf-8")
            print(f"wrote {out.relative_to(SYNTAXES.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python3 editors/vscode/scripts/build_grammar.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
