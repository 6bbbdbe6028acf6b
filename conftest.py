"""Test-session set-up shared by every test directory.

Each session (and each pytest-xdist worker of ``make test``) runs with a ``JX_HOME`` of its own, so
no test reads or writes the developer's real one and two workers never meet in the same store,
demo database or cache. Tests that need another home still set their own.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HOME: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    home = tempfile.mkdtemp(prefix="jx-test-home-")
    _HOME.append(home)
    os.environ["JX_HOME"] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    for home in _HOME:
        shutil.rmtree(home, ignore_errors=True)
