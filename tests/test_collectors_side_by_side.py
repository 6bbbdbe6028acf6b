"""Collectors run side by side in one run (the system feed's GROUP BY overlaps reading the entries)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from jxcore.engine import run_scheme
from jxcore.errors import DataError
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import scheme_from_dict
from jxcore.store import Store
from jxcore.store.entries import NewEntry

UNITS = [{"code": c, "name": c} for c in ("a", "b", "c")]
PLAN = {"scale": 20, "nodes": [{"code": "YW", "name": "业务", "points": 20, "children": [
    {"code": "YW.BJ", "name": "办结", "points": 10, "rule": {"name": "pass_fail", "params": {"target": 2}},
     "collector": {"name": "system_feed", "params": {"table": "cases"}}},
    {"code": "YW.DC", "name": "督察", "points": 10, "rule": {"name": "per_event", "params": {"deductions": {"F1": 3}}},
     "collector": {"name": "manual", "params": {"kind": "inspection"}}},
]}]}


@pytest.fixture
def scheme(tmp_path):
    path = tmp_path / "business.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE cases AS SELECT * FROM (VALUES ('a'), ('a'), ('b')) t(unit_code)")
    return scheme_from_dict(PLAN, units=UNITS, sources={"business": {"url": f"duckdb:///{path}"}})


def test_an_in_memory_store_is_seen_by_the_collector_on_another_thread(scheme):
    registry = Registry.from_plugin_manager(get_plugin_manager())
    with Store.open("sqlite://") as store:
        with store.transaction() as tx:
            tx.add_entries(scheme=scheme.name, period=2010, kind="inspection", source_file="dc.csv",
                           source_sha256="1" * 64, entered_by="t",
                           rows=[NewEntry(u, dt.date(2010, 3, 1), {"finding": "F1", "inspector": "z"})
                                 for u in ("b", "c", "c")])
        result = run_scheme(scheme, registry, as_of=dt.date(2010, 12, 31), store=store)
    assert result.measures["YW.BJ"].value.tolist() == [2.0, 1.0, 0.0]
    assert result.measures["YW.DC"].value.tolist() == [0.0, 1.0, 2.0]
    # a: 10 + 10; b: 0 + 7; c: 0 + 4 (milli-points)
    assert result.totals.tolist() == [20_000, 7_000, 4_000]


def test_an_error_on_the_other_thread_reaches_the_caller_unchanged(scheme):
    registry = Registry.from_plugin_manager(get_plugin_manager())
    with pytest.raises(DataError, match="reads the entries in the store, and this run has no store"):
        run_scheme(scheme, registry, as_of=dt.date(2010, 12, 31))
