"""The preview of a released result: a table's shape and first rows, a model's summary, pretty
JSON; text from the result escaped for the terminal."""

import io

import pandas as pd
from rich.console import Console

from datastation.runtime.commands.result_view import decode, print_preview
from datastation.stdlib.models import LinearModel
from datastation.stdlib.serialize import to_bytes


def _shown(value, **kw) -> str:
    kind, data = to_bytes(value)
    con = Console(file=io.StringIO(), width=200, force_terminal=False)
    print_preview(con, kind, decode(kind, data), **kw)
    return con.file.getvalue()


def test_table_shape_columns_and_first_rows():
    frame = pd.DataFrame({"region": [f"r{i}" for i in range(25)], "n": range(25)})
    out = _shown(frame, rows=3)
    assert "table: 25 rows × 2 columns" in out and "22 more rows" in out
    assert "r0" in out and "r2" in out and "r3" not in out


def test_model_summary_names_label_features_and_coefficients():
    m = LinearModel(label="is_fraud", features=("amount", "hour"), classes=(False, True),
                    coef=((2.5, -0.125),), intercept=(-1.0,), mean=(10.0, 12.0), scale=(3.0, 5.0))
    out = _shown(m)
    assert "linear classifier of is_fraud over 2 features" in out
    assert out.index("amount") < out.index("hour")  # largest |coef| first
    assert "+2.5" in out and "-0.125" in out and "(intercept)" in out


def test_json_is_pretty_and_long_json_is_cut():
    out = _shown({"a": [1, 2], "b": "x"})
    assert '{\n  "a": [\n    1,' in out  # indented, one item a line
    assert "json: an object with 2 keys" in out
    long = _shown(list(range(100)))
    assert "json: a list of 100 items" in long and "more lines" in long


def test_control_characters_from_the_result_are_escaped():
    out = _shown(pd.DataFrame({"c": ["\x1b[2Jboom"]}))
    assert "\x1b" not in out and "\\x1b[2Jboom" in out
    out = _shown({"k": "\x1b]0;title\x07"})
    assert "\x1b" not in out and "\x07" not in out
