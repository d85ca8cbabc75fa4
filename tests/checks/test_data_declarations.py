"""data_declarations: DSC055 format, DSC056 column type, DSC057 column twice, DSC058 missing file (warning)."""

from checks_helpers import codes, expect, severity

USE = 'use "lib.py"\nagent a\n'
TAIL = "contract c { by a compute size(a.x) to a }\n"


def test_unknown_format_suggests_a_known_one():
    (d,) = expect("DSC055", USE + 'data a.x «cvs» "data.csv"\n' + TAIL)
    assert "csv" in d.help


def test_known_formats():
    for fmt in ("csv", "parquet", "json"):
        assert codes(USE + f'data a.x {fmt} "data.csv"\n' + TAIL) == []


def test_unknown_column_types():
    (d1, d2) = expect("DSC056", USE + 'data a.x csv "data.csv" { id: «integer», at: «timestamp», ok: bool }\n' + TAIL)
    assert "int" in d1.help


def test_every_column_type_is_known():
    schema = ", ".join(f"c{i}: {t}" for i, t in enumerate(["int", "float", "string", "bool", "date", "datetime"]))
    assert codes(USE + f'data a.x csv "data.csv" {{ {schema} }}\n' + TAIL) == []


def test_column_declared_twice():
    (d,) = expect("DSC057", USE + 'data a.x csv "data.csv" { id: int, amount: float, «id»: string }\n' + TAIL)
    assert [(r.span.line, r.span.column) for r in d.related] == [(3, 27)]


def test_missing_data_and_mock_files_are_warnings():
    src = USE + 'data a.x csv «"nowhere.csv"» mock «"nomock.csv"»\n' + TAIL
    expect("DSC058", src)
    assert severity("DSC058", src) == {"warning"}
