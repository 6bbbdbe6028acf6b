"""The system feed's SQL on the embedded engines: each fused statement runs as its SQL text, which
is kept in JX_HOME/cache/sql and read back while the plan's requests and the window stay the same."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from jx_collectors import system_feed_sql
from jx_collectors.system_feed import SystemFeed
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import Node, NodeKind, Period, PluginRef, Unit, UnitTable

UNITS = UnitTable.from_units([Unit("a", "A", staff=1, entities=1), Unit("b", "B", staff=2, entities=2)])
ROWS = "('a', '2010-03-01', 'co'), ('a', '2010-08-01', 'it''s'), ('b', '2010-05-01', 'co')"


@pytest.fixture(params=["duckdb", "sqlite"])
def engine(request, tmp_path):
    engine = sa.create_engine(f"{request.param}:///{tmp_path / 'source.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ent (unit_code VARCHAR(10), on_day DATE, kind VARCHAR(10))"))
        conn.execute(sa.text(f"INSERT INTO ent VALUES {ROWS}"))
    yield engine
    engine.dispose()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JX_CACHE", raising=False)
    return tmp_path / "home" / "cache" / "sql"


@pytest.fixture
def built(monkeypatch) -> list:
    """The fused statements built with SQLAlchemy (not read from the cache)."""
    seen: list = []
    real = system_feed_sql._statement
    monkeypatch.setattr(system_feed_sql, "_statement", lambda *args: seen.append(args) or real(*args))
    return seen


def collect(engine, as_of: dt.date, kind: str = "it's") -> dict:
    requests = []
    for code, params in (("n", {"table": "ent", "window": "on_day"}), ("k", {"table": "ent", "where": {"kind": kind}})):
        node = Node(code, code, NodeKind.INDICATOR, "item", 1000, collector=PluginRef("system_feed", params))
        requests.append(CollectRequest(node, params))
    ctx = CollectContext(scheme=None, units=UNITS, period=Period.for_year(2010), as_of=as_of,
                         open_source=lambda name: engine)
    return SystemFeed().collect(ctx, requests)


def test_the_sql_text_is_kept_and_read_back_for_the_same_window(engine, home, built):
    first = collect(engine, dt.date(2010, 6, 30))
    assert len(built) == 1 and len(list(home.iterdir())) == 1
    np.testing.assert_array_equal(first["n"].value, [1, 1])
    np.testing.assert_array_equal(first["k"].value, [1, 0])  # the quote in it's is written as SQL
    assert "'2010-07-01'" in first["n"].source and "'it''s'" in first["k"].source

    again = collect(engine, dt.date(2010, 6, 30))
    assert len(built) == 1  # not built again
    for code in ("n", "k"):
        np.testing.assert_array_equal(again[code].value, first[code].value)
        assert again[code].source == first[code].source

    later = collect(engine, dt.date(2010, 12, 31))  # another window: built, and kept in place of the first
    assert len(built) == 2 and len(list(home.iterdir())) == 1
    np.testing.assert_array_equal(later["n"].value, [2, 1])
    assert "'2011-01-01'" in later["n"].source

    other = collect(engine, dt.date(2010, 12, 31), kind="co")  # other requests: a file of their own
    assert len(built) == 3 and len(list(home.iterdir())) == 2
    np.testing.assert_array_equal(other["k"].value, [1, 1])


def test_jx_cache_0_builds_every_time_and_keeps_nothing(engine, home, built, monkeypatch):
    monkeypatch.setenv("JX_CACHE", "0")
    for _ in range(2):
        np.testing.assert_array_equal(collect(engine, dt.date(2010, 6, 30))["n"].value, [1, 1])
    assert len(built) == 2 and not home.exists()


def test_a_damaged_cache_file_is_built_again(engine, home, built):
    first = collect(engine, dt.date(2010, 6, 30))
    (cached,) = home.iterdir()
    cached.write_text("{not json", encoding="utf-8")
    again = collect(engine, dt.date(2010, 6, 30))
    assert len(built) == 2 and again["k"].source == first["k"].source
