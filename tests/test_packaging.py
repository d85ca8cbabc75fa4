"""Packaging: one import namespace, every sub-package listed, the console script and lexer registered."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUP = PYPROJECT["tool"]["setuptools"]


def test_only_the_datastation_namespace_is_installed():
    assert all(p.startswith("datastation.") for p in SETUP["packages"])
    assert all(k.startswith("datastation.") for k in SETUP["package-dir"])


def test_every_source_package_is_listed():
    listed = set(SETUP["packages"])
    for prefix, folder in SETUP["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "node_modules" in init.parts or "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join((prefix, *rel.parts)) if rel.parts else prefix
            assert name in listed, f"{name} ({init.parent}) is missing from pyproject's packages list"


def test_console_script_and_lexer_entry_point():
    assert PYPROJECT["project"]["scripts"]["dsc"] == "datastation.runtime.cli:main"
    assert PYPROJECT["project"]["entry-points"]["pygments.lexers"]["dsc"].startswith("datastation.dsl.")


def test_dependencies_have_lower_bounds():
    deps = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    assert all(">=" in d for d in deps), [d for d in deps if ">=" not in d]


def test_the_installed_package_maps_to_this_tree():
    import datastation.dsl

    assert Path(datastation.dsl.__file__).resolve().parent == ROOT / "dsl"


def test_the_review_page_files_are_package_data():
    from fnmatch import fnmatch

    globs = SETUP["package-data"]["datastation.runtime.server"]
    static = sorted((ROOT / "runtime" / "server" / "static").iterdir())
    assert {p.name for p in static} == {"review.js", "review.css"}
    assert all(any(fnmatch(f"static/{p.name}", g) for g in globs) for p in static)
