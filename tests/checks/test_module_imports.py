"""module_imports: DSC039, a `use` module importing another local module."""

from checks_helpers import codes, expect

BODY = 'agent a\ndata a.x csv "data.csv"\ncontract c { by a compute f(a.x) to a }\n'


def _setup(tmp_path, **files):
    """Write `files` (a `/` in a name is spelled `__`) beside the program."""
    (tmp_path / "data.csv").write_text("x\n")
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/").replace("/init/", "/__init__")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_import_of_another_use_module(tmp_path):
    _setup(tmp_path, **{"m.py": "from helpers import g\n\n\ndef f(x):\n    return g(x)\n",
                        "helpers.py": "def g(x):\n    return x\n"})
    (d,) = expect("DSC039", 'use «"m.py"»\nuse "helpers.py"\n' + BODY, base=tmp_path)
    assert d.is_error and "line 1" in d.message
    assert [(r.span.line, r.span.column) for r in d.related] == [(1, 1)]


def test_import_of_a_use_module_in_a_subfolder(tmp_path):
    _setup(tmp_path, **{"m.py": "import lib.helpers\n\n\ndef f(x):\n    return x\n",
                        "lib__helpers.py": "def g(x):\n    return x\n"})
    assert codes('use "m.py"\nuse "lib/helpers.py"\n' + BODY, base=tmp_path).count("DSC039") == 1


def test_import_inside_a_function(tmp_path):
    _setup(tmp_path, **{"m.py": "def f(x):\n    import helpers\n    return helpers.g(x)\n",
                        "helpers.py": "def g(x):\n    return x\n"})
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == ["DSC039"]  # a local file, not in the proposal


def test_relative_import(tmp_path):
    _setup(tmp_path, **{"m.py": "from . import helpers\n\n\ndef f(x):\n    return x\n"})
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == ["DSC039"]


def test_module_importing_itself(tmp_path):
    _setup(tmp_path, **{"m.py": "import m\n\n\ndef f(x):\n    return x\n"})
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == ["DSC039"]


def test_local_package_beside_the_module(tmp_path):
    _setup(tmp_path, **{"m.py": "from tools.clean import g\n\n\ndef f(x):\n    return x\n",
                        "tools__init__.py": "", "tools__clean.py": "def g(x):\n    return x\n"})
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == ["DSC039"]


def test_installed_libraries_are_the_environment(tmp_path):
    _setup(tmp_path, **{"m.py": "import os\nimport pandas as pd\nfrom datastation.stdlib.types import Table\n"
                                "from collections import OrderedDict\n\n\ndef f(x):\n    import json\n    return x\n"})
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == []


def test_module_texts_of_a_proposal(tmp_path):
    """In the escrow, modules come as texts: an import of another module of the proposal is refused."""
    from datastation.dsl.check import _check_parsed  # noqa: F401
    from datastation.dsl.parser import parse
    from datastation.dsl.symbols import Symbols
    from datastation.dsl.checks import CheckContext, module_imports

    program = parse('use "m.py"\nuse "helpers.py"\n' + BODY, "t.dsc").program
    sym = Symbols(program, tmp_path, module_texts={"m.py": "import helpers\n\n\ndef f(x):\n    return x\n",
                                                   "helpers.py": "def g(x):\n    return x\n"})
    ctx = CheckContext(program=program, symbols=sym, base_dir=tmp_path)
    assert [d.code for d in module_imports.check(ctx)] == ["DSC039"]


def test_use_paths_without_a_file_name_are_diagnosed_not_raised(tmp_path):
    # `use ""`, `use "."`, `use "/"`: no module name to import by (found by the never-raises property)
    for path in ('""', '"."', '"/"'):
        found = codes(f"use {path}\n" + BODY, base=tmp_path)
        assert "DSC039" not in found and ("DSC031" in found or "DSC030" in found), found
