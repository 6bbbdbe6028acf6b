"""A fresh SQLite store per test."""

from __future__ import annotations

import pytest

from jxcore.store import Store


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as s:
        yield s
