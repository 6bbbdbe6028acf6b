"""A guangdong store with three runs and the demo accounts, shared by the web tests (one per session).

``web_home`` holds 2009's final result and two 2010 runs (as of 30 June and 30 September, so the
leaderboard has a previous day to move against); ``accounts`` maps each demo account to its
generated password. ``make_app`` builds an app on that store (or another); ``login`` signs a
TestClient in through the form, as a browser does.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from jx_web.app import create_app
from jx_web.commands import demo_accounts
from jxcore.cli import main
from jxcore.services.auth import Policy
from web_kit import POSTGRES_URL, chromium, login


@pytest.fixture(scope="session")
def web_home(tmp_path_factory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("jxhome-web")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JX_HOME", str(home))
        mp.delenv("JX_DATABASE_URL", raising=False)
        assert main(["run", "--scheme", "guangdong", "--period", "2009", "--final", "--json"]) == 0
        for day in ("2010-06-30", "2010-09-30"):
            assert main(["run", "--scheme", "guangdong", "--period", "2010", "--as-of", day, "--json"]) == 0
        yield {"home": home, "db": f"sqlite:///{home / 'jx.sqlite'}"}


@pytest.fixture(scope="session")
def web_app(web_home):
    return create_app(scheme="guangdong", period=2010, db=web_home["db"],
                      policy=Policy(account_failures=3, address_failures=6))


@pytest.fixture(scope="session")
def accounts(web_app) -> dict[str, str]:
    web = web_app.state.web
    return {name: password for name, _, password in demo_accounts(web.store, web.catalog.scheme)}


@pytest.fixture
def client_for(web_app, accounts) -> Callable[[str | None], TestClient]:
    """A TestClient signed in as the named demo account (None: anonymous)."""
    made = []

    def make(name: str | None) -> TestClient:
        client = TestClient(web_app, base_url="http://testserver")
        made.append(client)
        if name is not None:
            assert login(client, name, accounts[name]).status_code == 303
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def make_postgres_url() -> Iterator[Callable[[], str]]:
    """New empty PostgreSQL databases (dropped at the end); skipped without a server, failed under CI."""
    url = sa.make_url(POSTGRES_URL)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    made: list[str] = []

    def make() -> str:
        name = f"jx_web_{uuid.uuid4().hex[:12]}"
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError as exc:
            if os.environ.get("CI", "").lower() in ("true", "1"):
                pytest.fail(f"PostgreSQL unreachable: {exc}", pytrace=False)
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    with engine.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright (``executable_path``: no browser download)."""
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def _no_live_refresh_left_running():
    """A test's background re-scoring (jx_web.live) ends with the test: otherwise the next test's
    run meets it on the same demo DuckDB file (DuckDB refuses a second configuration of an open file)."""
    yield
    for thread in threading.enumerate():
        if thread.name == "jx-live-refresh":
            thread.join(600)
