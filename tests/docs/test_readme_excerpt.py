"""The README's contract excerpt is the one its Quickstart runs: it appears verbatim in that file."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_readme_excerpt_is_in_the_quickstart_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    excerpt = re.search(r"```dsc\n(.*?)```", readme, re.S).group(1)
    quickstart = readme[readme.index("## Quickstart"):]
    example = re.search(r"dsc run (\S+\.dsc)", quickstart).group(1)
    assert excerpt.strip() and excerpt in (ROOT / example).read_text(encoding="utf-8"), example
