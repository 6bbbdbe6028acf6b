"""What the web tests share besides fixtures (a module of its own: the suite has several conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

POSTGRES_URL = os.environ.get("JX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BRANCH, OTHER_UNIT = "branch-humen", "changan"
ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "web"  #: browser screenshots (gitignored)


def chromium() -> str:
    """Debian's chromium (the Makefile installs it); CI fails where it is missing, elsewhere skips."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("chromium is not installed: the Makefile installs it (make browser)")
        pytest.skip("chromium is not installed (make browser); CI fails instead of skipping")
    return found


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1:``port`` in a thread of this process; its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def login(client: TestClient, name: str, password: str, *, follow: bool = False):
    """Sign in through the form (GET for the CSRF token, then POST); the response of the POST."""
    form = client.get("/login")
    token = re.search(r'id="login-csrf" name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/login", data={"csrf": token, "name": name, "password": password, "next": "/"},
                       follow_redirects=follow)


def csrf_of(client: TestClient) -> str:
    """The signed-in session's CSRF token, read from a page's sign-out form."""
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
