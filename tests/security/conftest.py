"""The Docker fixtures (`tests/docker_support.py`) for the no-trust attacks: FAIL under CI=true without an engine."""

from docker_support import *  # noqa: F401,F403
