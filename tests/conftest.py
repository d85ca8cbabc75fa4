"""Makes the shared test helpers under tests/ importable (`from harness import World`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
