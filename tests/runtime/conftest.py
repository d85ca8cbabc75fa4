"""Fixtures shared by the escrow tests: `dsc` and `dsc_in` come from tests/conftest.py."""
