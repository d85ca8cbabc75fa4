"""A readable preview of a released result (`dsc result`, `dsc run`): a table's shape and first
rows, a model's summary, pretty JSON. The bytes are decoded by `datastation.stdlib.serialize`
(Parquet or JSON, never pickle); every text shown is escaped for the terminal."""

from __future__ import annotations

import json

ROWS = 10  # table rows shown
JSON_LINES = 40  # lines of pretty JSON shown
FEATURES = 20  # model features shown
CELL = 40  # characters of a cell shown


def decode(kind: str, data: bytes):
    """The value of a released result (`SerializeError` for bytes that are not of their kind)."""
    from datastation.stdlib.serialize import from_bytes

    return from_bytes(kind, data)


def _cut(text: str, width: int = CELL) -> str:
    from .common import safe_text

    text = safe_text(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def describe(kind: str, value) -> str:
    """One line: what the result is (`table: 2,000 rows × 8 columns`)."""
    if kind == "table":
        return f"table: {_plural(len(value), 'row')} × {_plural(len(value.columns), 'column')}"
    if kind == "model":
        return (f"model: linear classifier of {_cut(value.label)} over {_plural(len(value.features), 'feature')}, "
                f"classes {', '.join(_cut(repr(c)) for c in value.classes)}")
    if isinstance(value, dict):
        return f"json: an object with {_plural(len(value), 'key')}"
    if isinstance(value, list):
        return f"json: a list of {_plural(len(value), 'item')}"
    return f"json: {type(value).__name__ if value is not None else 'null'}"


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"  # a preview: -o FILE keeps every digit
    return str(v)


def _table(frame, rows: int):
    from rich.table import Table
    from rich.text import Text

    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0))
    for col in frame.columns:
        t.add_column(Text(f"{_cut(str(col))}\n{frame[col].dtype}"))
    for record in frame.head(rows).itertuples(index=False, name=None):
        t.add_row(*(Text(_cut(_cell(v))) for v in record))
    return t


def _model(model, features: int):
    from rich.table import Table
    from rich.text import Text

    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0))
    t.add_column("feature")
    heads = [f"coef ({_cut(repr(model.classes[-1]))})"] if len(model.coef) == 1 else \
        [f"coef ({_cut(repr(c))})" for c in model.classes]
    for h in heads:
        t.add_column(h, justify="right")
    t.add_column("mean", justify="right")
    t.add_column("scale", justify="right")
    order = sorted(range(len(model.features)), key=lambda i: -max(abs(row[i]) for row in model.coef))
    for i in order[:features]:
        t.add_row(Text(_cut(model.features[i])), *(f"{row[i]:+.4g}" for row in model.coef),
                  f"{model.mean[i]:.4g}", f"{model.scale[i]:.4g}")
    t.add_row(Text("(intercept)", style="dim"), *(f"{b:+.4g}" for b in model.intercept), "", "")
    return t


def preview(kind: str, value, *, rows: int = ROWS) -> list:
    """Rich renderables showing `value` (a decoded result of `kind`), shortest first."""
    from rich.text import Text

    from .common import safe_text

    out: list = [Text(describe(kind, value), style="bold")]
    if kind == "table":
        if len(value.columns):
            out.append(_table(value, rows))
        if len(value) > rows:
            out.append(Text(f"… {_plural(len(value) - rows, 'more row')} (-o FILE writes the whole table)",
                            style="dim"))
    elif kind == "model":
        out.append(_model(value, FEATURES))
        if len(value.features) > FEATURES:
            out.append(Text(f"… {_plural(len(value.features) - FEATURES, 'more feature')} (by |coef|)", style="dim"))
    else:
        lines = json.dumps(value, indent=2, ensure_ascii=False).splitlines()
        out.append(Text("\n".join(safe_text(line) for line in lines[:JSON_LINES])))
        if len(lines) > JSON_LINES:
            out.append(Text(f"… {_plural(len(lines) - JSON_LINES, 'more line')} (-o FILE writes it all)", style="dim"))
    return out


def print_preview(console, kind: str, value, *, indent: int = 0, rows: int = ROWS) -> None:
    """Print `preview(kind, value)` on a rich console, indented by `indent` spaces."""
    from rich.padding import Padding

    for r in preview(kind, value, rows=rows):
        console.print(Padding(r, (0, 0, 0, indent), expand=False) if indent else r)
