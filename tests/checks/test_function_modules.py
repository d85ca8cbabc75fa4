"""function_modules: DSC030 (missing module), DSC031 (not valid Python), DSC032 (hides a built-in)."""

from checks_helpers import codes, expect

BODY = 'agent a\ndata a.x csv "data.csv"\ncontract c { by a compute f(a.x) to a }\n'


def test_missing_module(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (d,) = expect("DSC030", 'use «"nothere.py"»\n' + BODY, base=tmp_path)
    assert d.is_error
    assert codes('use "nothere.py"\n' + BODY, base=tmp_path) == ["DSC030"]  # f is not also undefined


def test_module_with_a_python_syntax_error(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "bad.py").write_text("def f(x:\n    return x\n")
    (d,) = expect("DSC031", 'use «"bad.py"»\n' + BODY, base=tmp_path)
    assert "line 1" in d.message


def test_module_is_never_imported(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    marker = tmp_path / "imported"
    (tmp_path / "side.py").write_text(f"def f(x):\n    open({str(marker)!r}, 'w').close()\n    return x\n"
                                      f"f(1)\n")
    assert codes('use "side.py"\n' + BODY, base=tmp_path) == ["DSC038"]  # the top-level call, refused
    assert not marker.exists()


def test_function_hiding_a_builtin_is_an_error(tmp_path):
    """A user `rows` must never pass for the built-in a standing policy names."""
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "mine.py").write_text("def rows(data):\n    return 0\ndef f(x):\n    return x\n")
    (d,) = expect("DSC032", 'use «"mine.py"»\n' + BODY, base=tmp_path)
    assert d.is_error


def test_private_function_may_share_a_builtin_name(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "mine.py").write_text("def _rows(data):\n    return 0\ndef f(x):\n    return _rows(x)\n")
    assert codes('use "mine.py"\n' + BODY, base=tmp_path) == []


def test_private_functions_are_not_visible(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "m.py").write_text("def _f(x):\n    return x\n")
    assert codes('use "m.py"\n' + BODY, base=tmp_path) == ["DSC022"]
