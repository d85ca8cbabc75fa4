"""module_top_level: DSC038, top-level code of a `use` module outside every function's identity."""

import pytest
from checks_helpers import codes, expect

from datastation.dsl.check import check_source

BODY = 'agent a\ndata a.x csv "data.csv"\ncontract c { by a compute f(a.x) to a }\n'
F = "def f(x):\n    return x\n"


def _codes(tmp_path, module: str) -> list[str]:
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "m.py").write_text(module)
    return codes('use "m.py"\n' + BODY, base=tmp_path)


@pytest.mark.parametrize("statement", [
    'if True:\n    def f(x):\n        return 0\n',
    'try:\n    def f(x):\n        return 0\nexcept Exception:\n    pass\n',
    'print("loaded")\n',
    'f(1)\n',
    'X = [1]\nX.append(2)\n',
    'import os\nos.environ["A"] = "1"\n',
    'D = {}\nD["k"] = 1\n',
    'X = 1\nX += 1\n',
    'import math\nY = math.sqrt(2)\n',
    'Y = len("abc")\n',
    'Y = UNDEFINED_NAME\n',
    'for i in range(3):\n    pass\n',
    'while False:\n    pass\n',
    'with open("x") as fh:\n    pass\n',
    'del F2\n',
    'assert True\n',
    'pass\n',
    '"""a string after the first statement is an expression, not the docstring"""\n',
    'W: int\n',
    'Z: list[print()] = []\n',
    'if __name__ == "__main__":\n    pass\nelse:\n    f(1)\n',
    'if __name__ != "__main__":\n    f(1)\n',
    'lambda: 0\n',
])
def test_code_outside_every_identity_is_refused(tmp_path, statement):
    assert _codes(tmp_path, F + statement).count("DSC038") == 1


@pytest.mark.parametrize("module", [
    '"""A docstring."""\n' + F,
    "import os\nfrom math import sqrt as s\nfrom __future__ import annotations\n" + F,
    F + "async def g(x):\n    return x\n",
    F + "class Helper:\n    value = 1\n    def run(self):\n        return print('fine inside a class body')\n",
    "A = 1\nB = -2.5\nC = 'text'\nD = b'bytes'\nE = None\nG = True\nH = (1, 'a')\nI = [A, B]\n"
    "J = {'k': A, 1: [C]}\nK = {1, 2}\nL = A\nM, N = 1, 2\nO: int = 3\nP: dict[str, int] = {}\n" + F,
    F + 'if __name__ == "__main__":\n    print(f(1))\n',
    F + 'if "__main__" == __name__:\n    print(f(1))\n',
])
def test_what_may_stand_at_top_level(tmp_path, module):
    assert "DSC038" not in _codes(tmp_path, module)


def test_reported_at_the_use_with_the_statement_related(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "m.py").write_text(F + "\nif True:\n    pass\n")
    (d,) = expect("DSC038", 'use «"m.py"»\n' + BODY, base=tmp_path)
    assert d.is_error
    assert "line 4" in d.message and "`if` block" in d.message
    (rel,) = d.related
    assert (rel.span.file, rel.span.line, rel.span.column, rel.span.end_line) == (str(tmp_path / "m.py"), 4, 1, 5)


def test_one_diagnostic_per_statement(tmp_path):
    assert _codes(tmp_path, F + "print(1)\nprint(2)\nX = f(3)\n").count("DSC038") == 3


def test_modules_given_as_text_are_checked_too(tmp_path):
    """The escrow checks a proposal's modules the same way."""
    from datastation.dsl.ir import Program  # noqa: F401 - the symbol table reads module texts
    from datastation.dsl.parser import parse
    from datastation.dsl.symbols import Symbols

    program = parse('use "m.py"\n' + BODY, "t.dsc").program
    sym = Symbols(program, tmp_path, module_texts={"m.py": F + "f(1)\n"})
    (m,) = sym.modules
    assert [s.line for s in m.outside] == [3]


def test_module_with_a_syntax_error_is_reported_once(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "m.py").write_text("if True\n")
    result = check_source('use "m.py"\n' + BODY, "t.dsc", base_dir=tmp_path)
    assert "DSC038" not in [d.code for d in result.diagnostics]
