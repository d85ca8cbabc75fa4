"""Red-team tests: attacks played with the documentation only, through `dsc`, the `Escrow`
facade, `dsc serve` and `datastation.client`. Each asserts that the escrow's promise holds; a
test that shows a real hole is marked `xfail(strict=True, reason="HOLE: ...")`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
