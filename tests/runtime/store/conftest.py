import pytest

from datastation.runtime.config import config_from_dict
from pg_support import backend, postgres_url, store_section  # noqa: F401 - fixtures


@pytest.fixture
def config(tmp_path, backend, request):  # noqa: F811 - `backend` is the fixture
    """An escrow configuration in tmp_path, on SQLite and on PostgreSQL (each test runs on both)."""
    store = store_section(request, backend, synchronous="NORMAL")
    return config_from_dict({"store": store}, tmp_path).with_root(tmp_path / "escrow")
