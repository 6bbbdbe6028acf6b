"""What the web tests share besides fixtures (a module of its own: the suite has several conftest.py)."""

from __future__ import annotations

import os
import re

from fastapi.testclient import TestClient

POSTGRES_URL = os.environ.get("JX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BRANCH, OTHER_UNIT = "branch-humen", "changan"


def login(client: TestClient, name: str, password: str, *, follow: bool = False):
    """Sign in through the form (GET for the CSRF token, then POST); the response of the POST."""
    form = client.get("/login")
    token = re.search(r'id="login-csrf" name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/login", data={"csrf": token, "name": name, "password": password, "next": "/"},
                       follow_redirects=follow)


def csrf_of(client: TestClient) -> str:
    """The signed-in session's CSRF token, read from a page's sign-out form."""
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
