"""A plain DuckDB source (``duckdb:///file``) is read with duckdb itself, without duckdb-engine and a
SQLAlchemy connection: the measures, their SQL and the errors are those of the engine path."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa

from jx_collectors.system_feed import SystemFeed
from jxcore import hookimpl
from jxcore.engine import run_scheme
from jxcore.errors import DataError
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import Node, NodeKind, Period, PluginRef, Source, Unit, UnitTable
from jxcore.params import check_params
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import scheme_from_dict

UNITS = UnitTable.from_units([Unit("a", "A", staff=2, entities=4), Unit("b", "B", staff=1, entities=1),
                              Unit("c", "C", staff=3, entities=3)])
AS_OF = dt.date(2010, 6, 30)
#: Values a dialect could mangle when it writes them into SQL: a quote, percent signs, a colon.
ROWS = [("a", "2010-03-01", "50%", 3.5, True), ("a", "2010-05-02", "it's", 1.0, False),
        ("a", "2010-09-01", "50%", 8.0, True), ("b", "2010-02-01", "a:b", 2.0, True),
        ("b", "2010-04-01", "50%", None, False), ("zz", "2010-04-01", "50%", 1.0, True)]
REQUESTS = {
    "cnt": {"table": "ent", "window": "on_day"},
    "pct": {"table": "ent", "where": {"kind": "50%"}},
    "quote": {"table": "ent", "where": {"kind": {"in": ["it's", "a:b"]}}},
    "rate": {"table": "ent", "aggregate": "rate", "numerator": {"ok": True}, "window": "on_day",
             "denominator_window": True},
    "avg": {"table": "ent", "aggregate": "avg", "column": "amount", "window": "on_day"},
    "dist": {"table": "ent", "aggregate": "count_distinct", "column": "kind", "divide_by": "staff"},
    "big": {"table": "ent", "aggregate": "max", "column": "amount", "where": {"amount": {">=": 2}},
            "multiply": 100},
    "raw": {"sql": "SELECT unit_code AS unit, sum(amount)::DOUBLE AS value, count(*) AS n FROM ent "
                   "WHERE kind LIKE '%5%' AND on_day BETWEEN :start AND :as_of GROUP BY unit_code"},
}


@pytest.fixture
def source(tmp_path, monkeypatch) -> Source:
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    path = tmp_path / "business.duckdb"
    engine = sa.create_engine(f"duckdb:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ent (unit_code VARCHAR, on_day DATE, kind VARCHAR, amount DOUBLE, "
                             "ok BOOLEAN)"))
        conn.execute(sa.text("INSERT INTO ent VALUES (:u, :d, :k, :a, :o)"),
                     [dict(zip("udkao", row)) for row in ROWS])
    engine.dispose()
    return Source("business", f"duckdb:///{path}")


class Engines:
    """The engines a run opens, counting the connections made through SQLAlchemy."""

    def __init__(self, source: Source):
        self.source, self.engine, self.connections = source, None, 0

    def open(self, name: str) -> sa.Engine:
        if self.engine is None:
            self.engine = sa.create_engine(self.source.url, **self.source.engine_options())  # as a run opens it
            sa.event.listen(self.engine, "connect", lambda *args: setattr(self, "connections", self.connections + 1))
        return self.engine

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def collect(source: Source, *, native: bool, requests: dict = REQUESTS) -> tuple[dict, int]:
    """The measures of ``requests``, and how many SQLAlchemy connections were made; ``native``
    gives the context the source's settings (as a run does), else only engines (as tests do)."""
    feed = SystemFeed()
    made = []
    for code, params in requests.items():
        node = Node(code, code, NodeKind.INDICATOR, "item", 1000, collector=PluginRef("system_feed", params))
        made.append(CollectRequest(node, check_params(feed.params, params)[0]))
    engines = Engines(source)
    ctx = CollectContext(scheme=None, units=UNITS, period=Period.for_year(2010), as_of=AS_OF,
                         open_source=engines.open, describe_source=(lambda name: source) if native else None)
    try:
        return feed.collect(ctx, made), engines.connections
    finally:
        engines.dispose()


def assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for code, measure in want.items():
        np.testing.assert_array_equal(got[code].value, measure.value, err_msg=code)
        assert got[code].columns.keys() == measure.columns.keys(), code
        for name, values in measure.columns.items():
            np.testing.assert_array_equal(got[code].columns[name], values, err_msg=f"{code}.{name}")
        assert got[code].source == measure.source, code


def test_a_duckdb_file_is_read_without_sqlalchemy_and_gives_the_engines_measures(source):
    want, connected = collect(source, native=False)
    assert connected >= 1
    np.testing.assert_array_equal(want["pct"].value, [2, 1, 0])  # '50%' written as it is
    np.testing.assert_array_equal(want["quote"].value, [1, 1, 0])
    np.testing.assert_array_equal(want["raw"].value, [3.5, np.nan, np.nan])  # b: a NULL amount
    assert "LIKE '%5%'" in want["raw"].source and "'50%'" in want["pct"].source

    first, connected = collect(source, native=True)  # the texts compiled (the engine's dialect, no connection)
    assert connected == 0
    assert_same(first, want)
    again, connected = collect(source, native=True)  # the texts read back from JX_HOME/cache/sql
    assert connected == 0
    assert_same(again, want)


WRITES = {"raw": {"sql": "INSERT INTO ent VALUES ('c', DATE '2010-01-01', 'x', 1, true); "
                         "SELECT unit_code AS unit, count(*) AS value FROM ent GROUP BY unit_code"}}


def test_a_scheme_written_sql_cannot_write_to_the_file(source):
    """A DuckDB file is opened read-only unless the source says otherwise."""
    for native in (True, False):
        with pytest.raises(DataError, match=r"the SQL of raw failed: .*read-only mode"):
            collect(source, native=native, requests=WRITES)
    counted, _ = collect(source, native=True, requests={"n": {"table": "ent"}})
    np.testing.assert_array_equal(counted["n"].value, [3, 2, 0])


def test_a_scheme_written_sql_is_rolled_back_on_a_writable_file_too(source):
    writable = Source(source.name, source.url, {"connect_args": {"read_only": False}})
    for native in (True, False):
        got, _ = collect(writable, native=native, requests=WRITES)
        np.testing.assert_array_equal(got["raw"].value, [3, 2, 1])  # the row it wrote, seen inside
    counted, _ = collect(writable, native=True, requests={"n": {"table": "ent"}})
    np.testing.assert_array_equal(counted["n"].value, [3, 2, 0])  # and gone afterwards


def test_the_file_is_read_while_another_process_holds_it(source):
    """Read-only, as every run opens it: runs, the web app and explanations in other processes read
    the file at the same time (a writable open would take DuckDB's exclusive lock, and fail here)."""
    path = source.url.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
                               "print('held', flush=True); sys.stdin.read()", path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for native in (True, False):
            got, _ = collect(source, native=native, requests={"n": {"table": "ent"}})
            np.testing.assert_array_equal(got["n"].value, [3, 2, 0])
    finally:
        holder.communicate("")


@pytest.mark.parametrize(("url", "options", "want"), [
    ("duckdb:////data/b.duckdb", {}, {"connect_args": {"read_only": True}}),
    ("duckdb:///b.duckdb?threads=1", {"pool_pre_ping": True},
     {"pool_pre_ping": True, "connect_args": {"read_only": True}}),
    ("duckdb:////data/b.duckdb", {"connect_args": {"read_only": False, "config": {"threads": 1}}},
     {"connect_args": {"read_only": False, "config": {"threads": 1}}}),
    ("duckdb:///:memory:", {}, {}),
    ("duckdb:///md:my_db", {}, {}),
    ("postgresql+psycopg://u@h/db", {"pool_size": 2}, {"pool_size": 2}),
    ("duckdb:////data/b.duckdb", {"connect_args": "bad"}, {"connect_args": "bad"}),  # create_engine says why
])
def test_engine_options_open_a_duckdb_file_read_only_unless_told(url, options, want):
    assert Source("business", url, options).engine_options() == want


@pytest.mark.parametrize(("requests", "message"), [
    ({"t": {"table": "no_such"}}, "table 'no_such' does not exist in source 'business'"),
    ({"c": {"table": "ent", "aggregate": "sum", "column": "no_col"}},
     "column 'no_col' does not exist in table 'ent' of source 'business'"),
    ({"f": {"table": "ent", "where": {"on_day": "not a date"}}}, "the query of table ent (indicators f) failed"),
    ({"r": {"sql": "SELECT unit_code AS unit FROM ent"}}, "the SQL of r returns no column value"),
])
def test_the_file_and_the_engine_give_the_same_errors(source, requests, message):
    errors = []
    for native in (True, False):
        with pytest.raises(DataError) as caught:
            collect(source, native=native, requests=requests)
        errors.append((str(caught.value), caught.value.hint))
    assert message in errors[0][0]
    assert errors[0] == errors[1]


@pytest.mark.parametrize("change", [
    {"options": {"pool_pre_ping": True}},
    {"url_query": "?threads=1"},
    {"options": {"connect_args": {"preload_extensions": []}}},
    {"options": {"connect_args": {"config": {"threads": 1}}}},
])
def test_a_source_with_engine_options_is_read_through_sqlalchemy(source, change):
    changed = Source(source.name, source.url + change.get("url_query", ""), change.get("options", {}))
    got, connected = collect(changed, native=True, requests={"n": {"table": "ent"}})
    assert connected >= 1
    np.testing.assert_array_equal(got["n"].value, [3, 2, 0])


def test_a_read_only_file_is_read_natively(source):
    changed = Source(source.name, source.url, {"connect_args": {"read_only": True}})
    got, connected = collect(changed, native=True, requests={"n": {"table": "ent"}})
    assert connected == 0
    np.testing.assert_array_equal(got["n"].value, [3, 2, 0])


def test_the_file_and_an_engine_read_it_side_by_side_in_one_process(source):
    """As in the web app: a live refresh reads the file natively while an explanation holds an
    engine connection to it (DuckDB refuses a second configuration of one file in a process)."""
    engine = sa.create_engine(source.url, **source.engine_options())
    with engine.connect() as held:
        got, connected = collect(source, native=True, requests={"n": {"table": "ent"}})
        assert connected == 0
        np.testing.assert_array_equal(got["n"].value, [3, 2, 0])
        assert held.exec_driver_sql("SELECT count(*) FROM ent").scalar() == 6
    engine.dispose()


def test_a_file_that_cannot_be_opened_is_a_data_error_naming_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    (tmp_path / "not-duckdb.duckdb").write_text("this is not a database")
    source = Source("business", f"duckdb:///{tmp_path / 'not-duckdb.duckdb'}")
    with pytest.raises(DataError, match=r"cannot open source 'business' \(duckdb:///.*not-duckdb.duckdb\)"):
        collect(source, native=True, requests={"n": {"table": "ent"}})


class PreparesTheFile:
    """A pack's jx_prepare_source that writes the business file on first use (as the demo does)."""

    def __init__(self):
        self.calls = 0

    @hookimpl
    def jx_prepare_source(self, scheme, source):
        self.calls += 1
        path = source.url.removeprefix("duckdb:///")
        with duckdb.connect(path) as con:
            con.execute("CREATE TABLE IF NOT EXISTS cases AS SELECT * FROM (VALUES ('a'), ('a'), ('b')) t(unit_code)")


@pytest.mark.parametrize("options", [{}, {"pool_pre_ping": True}])
def test_jx_prepare_source_runs_once_before_the_file_is_read(tmp_path, monkeypatch, options):
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    indicator = {"name": "pass_fail", "params": {"target": 2, "missing": "zero"}}
    plan = {"scale": 20, "nodes": [{"code": "YW", "name": "业务", "points": 20, "children": [
        {"code": "YW.BJ", "name": "办结", "points": 10, "rule": indicator,
         "collector": {"name": "system_feed", "params": {"table": "cases"}}},
        {"code": "YW.SQL", "name": "办结 SQL", "points": 10, "rule": indicator,
         "collector": {"name": "system_feed", "params": {
             "sql": "SELECT unit_code AS unit, count(*) AS value FROM cases GROUP BY 1"}}}]}]}
    url = f"duckdb:///{tmp_path / 'made-on-first-use.duckdb'}"
    scheme = scheme_from_dict(plan, units=[{"code": c, "name": c} for c in "abc"],
                              sources={"business": {"url": url, "options": options}})
    hook = PreparesTheFile()
    result = run_scheme(scheme, Registry.from_plugin_manager(get_plugin_manager(plugins=[hook])),
                        as_of=dt.date(2010, 12, 31))
    assert hook.calls == 1
    assert result.measures["YW.BJ"].value.tolist() == [2, 1, 0]
    np.testing.assert_array_equal(result.measures["YW.SQL"].value, [2, 1, np.nan])  # c: no row


def test_queries_of_several_tables_run_side_by_side_and_answer_in_order(source):
    path = source.url.removeprefix("duckdb:///")
    with duckdb.connect(path) as con:
        for n in range(6):  # six more tables, each a query of its own
            con.execute(f"CREATE TABLE t{n} AS SELECT * FROM ent WHERE amount IS NULL OR amount > {n / 2}")
    requests = {f"n{n}": {"table": f"t{n}", "aggregate": "sum", "column": "amount"} for n in range(6)}
    requests |= {"e": {"table": "ent"}}
    want, _ = collect(source, native=False, requests=requests)
    got, connected = collect(source, native=True, requests=requests)
    assert connected == 0
    assert_same(got, want)
    broken = {f"b{n}": {"table": f"t{n}", "where": {"on_day": "not a date"}} for n in (4, 1, 5)}
    with pytest.raises(DataError, match=r"the query of table t4 \(indicators b4\) failed"):
        collect(source, native=True, requests=broken)  # the plan's first failure, whichever ends first
