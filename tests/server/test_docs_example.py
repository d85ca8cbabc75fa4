"""The Python example of docs/server.md runs verbatim against a live `dsc serve`, with the names
it leaves to the reader (URL, TOKENS, HOMES, FRAUD) given here."""

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def example() -> str:
    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_notebook_example_runs(served, tmp_path):
    homes = {n: tmp_path / n for n in ("bank1", "bank2")}
    tokens = {n: served.invite(n) for n in homes}
    names = {"URL": served.url, "TOKENS": tokens, "HOMES": homes, "FRAUD": ROOT / "examples" / "fraud"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example(), "docs/server.md", "exec"), names)
    printed = out.getvalue()
    assert "executed [True, True]" in printed
    assert printed.strip().endswith("409 already_executed")
    assert (homes["bank2"] / "model.json").is_file()
    assert not (homes["bank1"] / "keys").joinpath("bank2.pem").exists()
    for c in (names["bank1"], names["bank2"]):
        c.close()
