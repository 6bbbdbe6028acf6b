"""Shared fixtures: throw-away databases on the local PostgreSQL and MariaDB servers.

``postgres_url`` / ``mariadb_url`` give one fresh database per test session (dropped afterwards);
``make_postgres_url()`` / ``make_mariadb_url()`` make another fresh one, for tests that need an
empty database. Tests using them are marked ``postgres`` / ``mariadb`` automatically. When the
server is unreachable the test is skipped, except under CI (``CI=true``), where it fails.
Override the servers with ``JX_TEST_POSTGRES_URL`` / ``JX_TEST_MARIADB_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("JX_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("JX_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SERVER_FIXTURES = {"postgres": ("postgres_url", "make_postgres_url"),
                   "mariadb": ("mariadb_url", "make_mariadb_url")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker, fixtures in SERVER_FIXTURES.items():
            if any(name in getattr(item, "fixturenames", ()) for name in fixtures):
                item.add_marker(getattr(pytest.mark, marker))


def _unreachable(url: sa.URL, exc: Exception) -> None:
    message = f"database server {url.render_as_string(hide_password=True)} unreachable: {exc}"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _database_factory(server_url: str, create: str, drop: str) -> Iterator[Callable[[], str]]:
    """Create databases named ``jx_test_<hex>`` on the server on demand; drop them all at the end."""
    url = sa.make_url(server_url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    made: list[str] = []

    def make() -> str:
        name = f"jx_test_{uuid.uuid4().hex[:12]}"
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(create.format(name=name))
        except sa.exc.OperationalError as exc:
            _unreachable(url, exc)
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    if made:
        with engine.connect() as connection:
            for name in made:
                connection.exec_driver_sql(drop.format(name=name))
    engine.dispose()


@pytest.fixture(scope="session")
def make_postgres_url() -> Iterator[Callable[[], str]]:
    """Call it to get the URL of a new, empty PostgreSQL database (dropped after the session)."""
    yield from _database_factory(POSTGRES_URL, 'CREATE DATABASE "{name}"',
                                 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(make_postgres_url: Callable[[], str]) -> str:
    """URL of a PostgreSQL database of its own for this test session."""
    return make_postgres_url()


@pytest.fixture(scope="session")
def make_mariadb_url() -> Iterator[Callable[[], str]]:
    """Call it to get the URL of a new, empty MariaDB database (dropped after the session)."""
    yield from _database_factory(MARIADB_URL, "CREATE DATABASE `{name}`",
                                 "DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def mariadb_url(make_mariadb_url: Callable[[], str]) -> str:
    """URL of a MariaDB database of its own for this test session."""
    return make_mariadb_url()
