"""Top-level code that no function's identity covers (DSC038), beside what is allowed."""

import os
from math import sqrt

LIMIT = 10
NAMES = ("a", "b")
BOTH = [LIMIT, NAMES, {"k": -1.5}]
WIDTH: int = 3
FIRST, SECOND = 1, 2


def size(data) -> int:
    """How many rows."""
    return len(data)


class Helper:
    """A class is allowed."""


if True:
    def size(data) -> int:
        return len(data.to_csv())

try:
    import numpy
except ImportError:
    numpy = None

os.environ["X"] = "1"
LIMIT += 1
TOTAL = sqrt(LIMIT)
print("loaded")

if __name__ == "__main__":
    print(size([]))
