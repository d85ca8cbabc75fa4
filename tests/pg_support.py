"""A real PostgreSQL server for the store tests: `DSC_TEST_POSTGRES_URL` (`.ci/start-postgres.sh`
starts one and prints it; `.ci/run` exports it). Each test gets a schema of its own in that
database, dropped afterwards. Without a server the PostgreSQL variants skip, except under
CI=true, where they fail."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

ENV = "DSC_TEST_POSTGRES_URL"
_checked: dict[str, str] = {}  # URL -> "" when reachable, else why not


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}")
    pytest.skip(reason)


def server_url() -> str:
    """The test server's URL, checked once per session (skip/fail as above when there is none)."""
    url = os.environ.get(ENV)
    if not url:
        unavailable(f"{ENV} is not set (run `bash .ci/start-postgres.sh` and export what it prints)")
    if _checked.get(url) is None:
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            _checked[url] = ""
        except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
            _checked[url] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if _checked[url]:
        unavailable(f"cannot connect to the PostgreSQL server of {ENV}: {_checked[url]}")
    return url


def with_schema(url: str, schema: str) -> str:
    """`url` with `schema` as the connection's search_path (libpq `options`)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


class Schema:
    """A fresh schema in the test database, dropped by `drop()`."""

    def __init__(self, base_url: str):
        import psycopg

        self.base_url = base_url
        self.name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")
        self.url = with_schema(base_url, self.name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


@pytest.fixture
def postgres_url():
    """A postgresql:// URL of an empty schema of its own on the test server."""
    schema = Schema(server_url())
    yield schema.url
    schema.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Each test that uses it runs on both stores."""
    return request.param


def store_section(request, backend: str, **sqlite) -> dict:
    """The config `store:` section of `backend` (the PostgreSQL one needs the `postgres_url` fixture)."""
    if backend == "postgresql":
        return {"url": request.getfixturevalue("postgres_url")}
    return dict(sqlite)
