"""Shared by the entry, records and administration tests: an app on a private copy of the web
tests' store (so locks, entries and users made here never reach the other tests), and a signed-in
TestClient with its CSRF token."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from jx_web.app import create_app
from web_kit import login


def copied_app(web_home: dict, folder: Path):
    """An app on a copy of ``web_home``'s store (its demo accounts and runs included)."""
    copy = folder / "copy.sqlite"
    with sqlite3.connect(web_home["home"] / "jx.sqlite") as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the WAL's commits too
    return create_app(scheme="guangdong", period=2010, db=f"sqlite:///{copy}")


def signed(app, name: str, password: str) -> tuple[TestClient, str]:
    """A client signed in as ``name`` and its session's CSRF token."""
    client = TestClient(app, base_url="http://testserver")
    assert login(client, name, password).status_code == 303
    page = client.get("/announcement").text  # a page of these modules
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client, token
