"""policy_functions: DSC064, a policy naming a function that is neither a built-in nor a function
of a module the file `use`s."""

from checks_helpers import PRELUDE, codes, expect


def test_unknown_function_and_unknown_except():
    (a, b) = expect("DSC064", PRELUDE + "policy bank1 { allow «shar_schema» on bank1.* except «sizee» }\n")
    assert "share_schema" in a.help and "size" in b.help
    assert a.is_error


def test_builtins_and_use_functions_resolve():
    assert "DSC064" not in codes(PRELUDE + "policy bank1 { allow schema on bank1.* except size, rows }\n")


def test_wildcards_name_no_function():
    assert "DSC064" not in codes(PRELUDE + "policy bank1 { deny any on bank1.*\n allow * on bank1.train }\n")


def test_no_report_when_a_module_cannot_be_read(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    src = 'use "missing.py"\nagent a\ndata a.x csv "data.csv"\npolicy a { allow my_function on a.* }\n'
    assert "DSC064" not in codes(src, base=tmp_path) and "DSC030" in codes(src, base=tmp_path)


def test_help_names_where_functions_come_from(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    (d,) = expect("DSC064", 'agent a\ndata a.x csv "data.csv"\npolicy a { allow «zzz_unrelated» on a.* }\n',
                  base=tmp_path)
    assert "`use`" in d.help
