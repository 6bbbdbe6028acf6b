"""The system feed against real databases: the same fixture rows and hand-counted numbers on each."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from jx_collectors.system_feed import SystemFeed
from jxcore.errors import DataError, SchemeError
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import Node, NodeKind, Period, PluginRef, Unit, UnitTable

D = dt.date
UNITS = UnitTable.from_units([Unit("a", "A", staff=2, entities=10), Unit("b", "B", staff=4, entities=20),
                              Unit("c", "C", staff=1, entities=5)])
PERIOD = Period.for_year(2010)
AS_OF = D(2010, 6, 30)

# unit, kind, due, inspected_on, fine; unit c has no rows, zz is no unit of the scheme.
ENT_ROWS = [
    ("a", "co", True, D(2010, 3, 10), 100),
    ("a", "co", True, D(2010, 6, 30), 50),     # the as-of day itself counts
    ("a", "ind", True, D(2010, 7, 1), None),   # after the as-of date
    ("a", "ind", True, None, 30),
    ("a", "co", False, D(2009, 12, 31), 20),   # before the period
    ("b", "co", True, D(2010, 1, 1), 200),     # the first day counts
    ("b", "ind", False, None, None),
    ("b", "ind", True, D(2010, 5, 5), 10),
    ("zz", "co", True, D(2010, 2, 2), 5),
]
CASE_ROWS = [("a", D(2010, 2, 1)), ("b", D(2010, 3, 1)), ("b", D(2010, 4, 1))]


def _reachable_or_skip(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI", "").lower() in ("true", "1"):  # CI must reach every server
            raise
        pytest.skip(f"server not reachable: {exc.orig}")
    return engine


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def source(request, tmp_path):
    """(engine, schema prefix) holding tables ``ent`` and ``cases`` with the fixture rows."""
    kind = request.param
    schema = None
    if kind == "duckdb":
        engine = sa.create_engine(f"duckdb:///{tmp_path / 'feed.duckdb'}")
    elif kind == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'feed.sqlite'}")
    else:
        url = (os.environ.get("JX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
               if kind == "postgres" else
               os.environ.get("JX_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"))
        engine = _reachable_or_skip(url)
        schema = f"jx_feed_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema(schema))
    meta = sa.MetaData(schema=schema)
    ent = sa.Table("ent", meta, sa.Column("unit_code", sa.String(20)), sa.Column("kind", sa.String(10)),
                   sa.Column("due", sa.Boolean), sa.Column("inspected_on", sa.Date),
                   sa.Column("fine", sa.Numeric(12, 2)))
    cases = sa.Table("cases", meta, sa.Column("unit_code", sa.String(20)), sa.Column("opened_on", sa.Date))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(ent.insert(), [dict(zip(("unit_code", "kind", "due", "inspected_on", "fine"), r))
                                    for r in ENT_ROWS])
        conn.execute(cases.insert(), [{"unit_code": u, "opened_on": d} for u, d in CASE_ROWS])
    yield engine, f"{schema}." if schema else ""
    if schema:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=kind == "postgres"))
    engine.dispose()


def _request(code: str, **params) -> CollectRequest:
    node = Node(code, code, NodeKind.INDICATOR, "item", 1000, collector=PluginRef("system_feed", params))
    return CollectRequest(node, params)


def _ctx(engine) -> CollectContext:
    return CollectContext(scheme=None, units=UNITS, period=PERIOD, as_of=AS_OF, open_source=lambda name: engine)


def _requests(prefix: str) -> list[CollectRequest]:
    ent, cases = f"{prefix}ent", f"{prefix}cases"
    return [
        _request("rate", table=ent, aggregate="rate", where={"due": True},
                 numerator={"inspected_on": {"is null": False}}, window="inspected_on"),
        _request("rate_dw", table=ent, aggregate="rate", where={"due": True},
                 numerator={"inspected_on": {"is null": False}}, window="inspected_on", denominator_window=True),
        _request("percent", table=ent, aggregate="rate", where={"due": True},
                 numerator={"inspected_on": {"is null": False}}, window="inspected_on", multiply=100),
        _request("not_ind", table=ent, where={"kind": {"not in": ["ind"]}}),
        _request("uninspected", table=ent, where={"inspected_on": {"is null": True}}),
        _request("before", table=ent, where={"inspected_on": {"<": "{start}"}}),
        _request("in_window", table=ent, window="inspected_on"),
        _request("fines", table=ent, aggregate="sum", column="fine"),
        _request("avg_ind", table=ent, aggregate="avg", column="fine", where={"kind": "ind"}),
        _request("max_since", table=ent, aggregate="max", column="fine", where={"inspected_on": {">=": "{start}"}}),
        _request("min_co", table=ent, aggregate="min", column="fine", where={"kind": ["co"]}),
        _request("kinds", table=ent, aggregate="count_distinct", column="kind"),
        _request("per_head", table=ent, divide_by="staff"),
        _request("cases", table=cases, window="opened_on"),
        _request("raw", sql=f"SELECT unit_code AS unit, count(*) AS value, sum(fine) AS fines FROM {ent} "
                            "WHERE inspected_on BETWEEN :start AND :as_of GROUP BY unit_code"),
    ]


NAN = np.nan
EXPECTED = {  # hand-counted from ENT_ROWS / CASE_ROWS, units a, b, c
    "rate": [0.5, 1.0, NAN],
    "rate_dw": [1.0, 1.0, NAN],
    "percent": [50.0, 100.0, NAN],
    "not_ind": [3, 1, 0],
    "uninspected": [1, 1, 0],
    "before": [1, 0, 0],
    "in_window": [2, 2, 0],
    "fines": [200, 210, 0],
    "avg_ind": [30, 10, NAN],
    "max_since": [100, 200, NAN],
    "min_co": [20, 200, NAN],
    "kinds": [2, 2, 0],
    "per_head": [2.5, 0.75, 0],
    "cases": [1, 2, 0],
    "raw": [2, 2, NAN],
}


def test_every_aggregate_gives_the_hand_counted_numbers(source):
    engine, prefix = source
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, stmt, *args: statements.append(stmt))
    measures = SystemFeed().collect(_ctx(engine), _requests(prefix))

    assert set(measures) == set(EXPECTED)
    for code, expected in EXPECTED.items():
        np.testing.assert_allclose(measures[code].value, expected, err_msg=code)
    # a branch head sees "2 of 4"
    np.testing.assert_array_equal(measures["rate"].columns["numerator"], [2, 2, 0])
    np.testing.assert_array_equal(measures["rate"].columns["denominator"], [4, 2, 0])
    np.testing.assert_array_equal(measures["per_head"].columns["total"], [5, 3, 0])
    np.testing.assert_allclose(measures["raw"].columns["fines"], [150, 210, NAN])
    # one scan per table: the fused queries of ent and cases, plus the raw SQL measure
    fused = [s for s in statements if re.search(r"\bm0_", s)]
    assert len(fused) == 2
    assert sum("GROUP BY" in s.upper() for s in statements) == 3


def test_source_shows_the_sql_with_the_window_dates_and_the_ignored_units(source):
    engine, prefix = source
    measures = SystemFeed().collect(_ctx(engine), _requests(prefix))
    text = measures["rate"].source
    assert "2010-01-01" in text and "2010-07-01" in text
    assert "GROUP BY" in text
    assert "ignored 1 result rows for unknown unit codes: zz" in text
    assert "numerator = m0_numerator" in text


@pytest.mark.parametrize(("params", "says"), [
    ({"table": "ent", "aggregate": "sum"}, "aggregate sum needs column"),
    ({"table": "ent", "aggregate": "rate"}, "aggregate rate needs numerator"),
    ({"table": "ent", "sql": "SELECT 1"}, "sql is given, so table cannot be"),
    ({}, "neither table nor sql is given"),
    ({"table": "ent", "numerator": {"x": 1}}, "numerator is only for aggregate rate"),
    ({"table": "ent", "where": {"d": {"~": 1}}}, "unknown operator '~'"),
    ({"table": "ent", "where": {"d": {">=": "{today}"}}}, "unknown placeholder '{today}'"),
    ({"table": "ent", "window": "d", "denominator_window": True}, "denominator_window needs aggregate rate"),
    ({"table": "ent", "aggregate": "median"}, "parameter 'aggregate' = 'median' is not one of"),
    ({"table": "ent", "tabel": "x"}, "unknown parameter 'tabel'"),
])
def test_bad_params_are_a_scheme_error_before_any_database_is_opened(params, says):
    def no_database(name):
        raise AssertionError("the database was opened")

    ctx = CollectContext(scheme=None, units=UNITS, period=PERIOD, as_of=AS_OF, open_source=no_database)
    with pytest.raises(SchemeError, match=re.escape(says)) as info:
        SystemFeed().collect(ctx, [_request("ind1", **params), _request("ok", table="ent")])
    assert info.value.problems[0].location.node == "ind1"
    assert len(info.value.problems) == 1


def test_params_with_defaults_filled_in_by_the_engine_are_accepted(tmp_path):
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'x.duckdb'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ent AS SELECT * FROM (VALUES ('a'), ('a'), ('b')) v(unit_code)"))
    filled = {param.name: param.default for param in SystemFeed.params} | {"table": "ent"}
    measures = SystemFeed().collect(_ctx(engine), [_request("n", **filled)])
    np.testing.assert_array_equal(measures["n"].value, [2, 1, 0])


def test_every_missing_table_and_column_is_reported_at_once(tmp_path):
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'x.duckdb'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ent (unit_code VARCHAR, kind VARCHAR)"))
    requests = [_request("i1", table="nope"), _request("i2", table="ent", aggregate="sum", column="fine"),
                _request("i3", table="ent", where={"kind": "co"})]
    with pytest.raises(DataError) as info:
        SystemFeed().collect(_ctx(engine), requests)
    messages = [str(p) for p in info.value.problems]
    assert len(messages) == 2
    assert "i1: table 'nope' does not exist in source 'business'" in messages[0]
    assert "i2: column 'fine' does not exist in table 'ent' of source 'business'" in messages[1]
    assert "unit_code, kind" in messages[1]


def test_fused_sql_compiles_for_trino():
    from trino.sqlalchemy.dialect import TrinoDialect

    columns = {"ent": ["unit_code", "kind", "due", "inspected_on", "fine"], "cases": ["unit_code", "opened_on"]}
    requests = [r for r in _requests("") if "sql" not in r.params]
    texts = SystemFeed().compile(requests, columns, PERIOD, AS_OF, TrinoDialect())
    assert len(texts) == 2
    ent_sql = texts[0]
    assert "FILTER" not in ent_sql
    assert "sum(CASE WHEN (ent.due = true AND ent.inspected_on >= DATE '2010-01-01'" in ent_sql
    assert "count(DISTINCT ent.kind) AS m11_value" in ent_sql
    assert ent_sql.rstrip().endswith("GROUP BY ent.unit_code")


def test_registered_through_the_entry_point():
    from jxcore.plugins import Registry, get_plugin_manager

    registry = Registry.from_plugin_manager(get_plugin_manager(block=["rules", "outputs"]))
    assert isinstance(registry.collector("system_feed"), SystemFeed)


def test_a_source_whose_units_are_all_unknown_is_a_data_error_not_zeros(tmp_path):
    """A source that names units differently (names, not codes) must not score every unit zero."""
    import sqlalchemy as sa

    from jxcore.errors import DataError
    from jxcore.interfaces import CollectContext, CollectRequest
    from jxcore.models import Period
    from jxcore.testing import build_scheme

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'src.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE cases (unit_code TEXT, opened_on DATE)"))
        conn.execute(sa.text("INSERT INTO cases VALUES ('虎门', '2010-03-01'), ('洪梅', '2010-04-01')"))
    rule = {"name": "base_score", "params": {"target": 1, "per_step_below": 1}}
    collector = {"name": "system_feed", "params": {"table": "cases"}}
    scheme = build_scheme({"scale": 10, "nodes": [{"code": "A", "name": "cases", "points": 10,
                                                   "rule": rule, "collector": collector}]})
    node = scheme.nodes["A"]
    ctx = CollectContext(scheme=scheme, units=scheme.unit_table(), period=Period.for_year(2010),
                         as_of=Period.for_year(2010).end, open_source=lambda name: engine)
    from jx_collectors.system_feed import SystemFeed

    feed = SystemFeed()
    params = {p.name: p.default for p in feed.params if not p.required} | {"table": "cases", "source": "business"}
    with pytest.raises(DataError, match="none of the 2 unit codes the source returned is a unit of the scheme"):
        feed.collect(ctx, [CollectRequest(node, params)])
