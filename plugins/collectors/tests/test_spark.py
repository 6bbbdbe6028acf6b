"""The system feed on a real Spark engine: one Spark Connect server started from pyspark's own jars
on 127.0.0.1 (ports 15000-15099), on a standalone master with two workers of one core each, shared
by every test here (the JVMs take most of a minute to start). The demo business data goes in as
``jx demo export --parquet`` writes it, registered with its ``register.sql``; the whole guangdong
2010 plan then runs on Spark and on DuckDB and every system-feed measure, score and rank must agree.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import attrs
import duckdb
import numpy as np
import pytest
import sqlalchemy as sa

from jx_collectors.spark import SparkConnectDialect
from jx_collectors.spark_local import SparkConnect, free_blocks, run_script
from jx_collectors.system_feed import SystemFeed
from jx_scheme_guangdong import PACK_DIR, demo, manual
from jxcore.cli import main
from jxcore.engine import run_scheme
from jxcore.errors import DataError
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import Node, NodeKind, PluginRef
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import load_scheme
from jxcore.store import Store

AS_OF = dt.date(2010, 6, 30)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager())


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory, registry):
    """The 2010 plan, the Dongguan demo database and its Parquet export (database ``business``)."""
    work = tmp_path_factory.mktemp("spark-demo")
    scheme = load_scheme(PACK_DIR, 2010, registry)
    duck = work / "business.duckdb"
    demo.ensure(duck, scheme.units)
    assert main(["demo", "export", "--parquet", str(work / "parquet"), "--from", str(duck),
                 "--database", "business"]) == 0
    return scheme, duck, work / "parquet"


@pytest.fixture(scope="session")
def store_url(tmp_path_factory, demo_data) -> str:
    """A store holding the demo's 2010 manual entries, so that whole runs can be compared."""
    work = tmp_path_factory.mktemp("spark-store")
    url = f"sqlite:///{work / 'store.sqlite'}"
    with Store.open(url) as store:
        manual.import_year(store, demo_data[0], work / "manual")
    return url


@pytest.fixture(scope="session")
def spark(tmp_path_factory, request):
    """The two-worker cluster and its Connect server, with the demo tables registered. The JVMs are
    launched first and boot while the demo data is generated and exported (all killed, process
    group and all, at the end of the session)."""
    cluster = SparkConnect(tmp_path_factory.mktemp("spark-cluster"), base_port=free_blocks(1)[0], workers=2,
                           executor_memory="512m", timeout=900)  # five JVMs boot slowly on a loaded machine
    cluster.launch()
    try:
        parquet = request.getfixturevalue("demo_data")[2]
        cluster.wait()
        assert run_script(cluster.url(), parquet / "register.sql") == 1 + 2 * len(demo.TABLES)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def on_duckdb(demo_data, store_url, registry):
    scheme, duck, _ = demo_data
    return _run(scheme, registry, f"duckdb:///{duck}", store_url)


def _run(scheme, registry, url: str, store_url: str):
    """A whole run (collect, score, aggregate, rank, store) with the business data at ``url``; the
    outputs are left out, they only publish what is compared here."""
    source = attrs.evolve(scheme.sources["business"], url=url)
    with Store.open(store_url) as store:
        return run_scheme(attrs.evolve(scheme, sources={**scheme.sources, "business": source}, outputs=()),
                          registry, as_of=AS_OF, store=store)


def _integer_columns(duck: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(duck), read_only=True) as con:
        return {(table, name) for table in demo.TABLES
                for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall() if "INT" in kind}


def _assert_same_results(on_spark, duck, duck_path: Path) -> None:
    """Counts, integer sums, minima and maxima exact; rates, averages, money sums (floating-point
    sums in another order) within 1e-12 relative; then every score and rank identical."""
    integers = _integer_columns(duck_path)
    nodes = [n for n in on_spark.scheme.indicators() if n.collector.name == SystemFeed.name]
    assert len(nodes) > 100
    exact = 0
    for node in nodes:
        p = node.collector.params
        got, want = on_spark.measures[node.code], duck.measures[node.code]
        agg = p.get("aggregate", "count")
        is_exact = not p.get("sql") and not p.get("divide_by") and p.get("multiply", 1) == 1 and (
            agg in ("count", "count_distinct", "min", "max")
            or agg == "sum" and (p["table"], p["column"]) in integers)
        if is_exact:
            exact += 1
            np.testing.assert_array_equal(got.value, want.value, err_msg=node.code)
        else:
            np.testing.assert_allclose(got.value, want.value, rtol=1e-12, atol=0, err_msg=node.code)
        assert set(got.columns) == set(want.columns), node.code
        for name in ("numerator", "denominator", "staff", "entities"):
            if name in want.columns:
                np.testing.assert_array_equal(got.columns[name], want.columns[name], err_msg=node.code)
    assert exact > 10
    assert "GROUP BY" in on_spark.measures[nodes[0].code].source
    np.testing.assert_array_equal(on_spark.scores, duck.scores)
    np.testing.assert_array_equal(on_spark.ranks, duck.ranks)


@pytest.mark.slow
def test_the_guangdong_plan_on_a_two_worker_cluster_equals_duckdb(spark, demo_data, store_url, on_duckdb, registry):
    scheme, duck, _ = demo_data
    on_spark = _run(scheme, registry, spark.url("business"), store_url)
    _assert_same_results(on_spark, on_duckdb, duck)
    log = (spark.work / "master.log").read_text(errors="replace")
    # each worker ran an executor of the server's application (one lost under load is launched again)
    assert len(set(re.findall(r"Launching executor \S+ on worker (\S+)", log))) == 2


def _ctx(scheme, url: str) -> CollectContext:
    engine = sa.create_engine(url)
    return CollectContext(scheme=scheme, units=scheme.unit_table(), period=scheme.period, as_of=AS_OF,
                          open_source=lambda name: engine)


def _request(code: str, **params) -> CollectRequest:
    node = Node(code, code, NodeKind.INDICATOR, "item", 1000, collector=PluginRef("system_feed", params))
    filled = {p.name: p.default for p in SystemFeed.params} | params
    return CollectRequest(node, filled)


@pytest.mark.slow
def test_a_missing_table_on_spark_names_it_and_lists_the_tables(spark, demo_data):
    ctx = _ctx(demo_data[0], spark.url("business"))
    with pytest.raises(DataError, match="table 'inspections' does not exist in source 'business'") as info:
        SystemFeed().collect(ctx, [_request("X", table="inspections")])
    assert "market_entities" in info.value.problems[0].hint


@pytest.mark.slow
def test_a_failing_query_on_spark_is_a_data_error_naming_the_indicators(spark, demo_data):
    ctx = _ctx(demo_data[0], spark.url("business"))
    failed = r"the query of table cases \(indicators X\) failed: \[CAST_INVALID_INPUT\]"
    with pytest.raises(DataError, match=failed) as info:
        SystemFeed().collect(ctx, [_request("X", table="cases", where={"kind": {">": 5}})])
    assert info.value.problems[0].location.node == "X"


def test_an_unreachable_spark_endpoint_is_a_data_error_naming_the_source(demo_data):
    ctx = _ctx(demo_data[0], "spark+connect://127.0.0.1:15099/business?retries=0")
    with pytest.raises(DataError, match=r"cannot open source 'business' \(spark\+connect://127.0.0.1:15099/"):
        SystemFeed().collect(ctx, [_request("X", table="cases")])


def test_spark_sql_spelling_booleans_backticks_and_backslashes():
    """What the generic dialect gets wrong on Spark: 1/0 for booleans (refused in ANSI mode),
    double quotes for identifiers, and string literals where a backslash escapes."""
    table = sa.table("t", sa.column("select"), sa.column("due"), sa.column("kind"))
    stmt = sa.select(sa.func.count()).where(table.c.due == sa.true(), table.c.kind == "a\\b'c")
    text = str(stmt.compile(dialect=SparkConnectDialect(), compile_kwargs={"literal_binds": True}))
    assert "t.due = true" in text
    assert r"t.kind = 'a\\b''c'" in text
    assert str(sa.select(table.c.select).compile(dialect=SparkConnectDialect())).startswith("SELECT t.`select`")


@pytest.mark.parametrize(("url", "remote", "kwargs"), [
    ("spark+connect://spark.example:443/biz?use_ssl=true", "sc://spark.example:443/;use_ssl=true",
     {"database": "biz", "retries": 3}),
    ("spark+connect://jx:s3cret@h/?retries=10", "sc://h:15002/;user_id=jx;token=s3cret",
     {"database": None, "retries": 10}),
])
def test_spark_urls_become_connect_strings(url, remote, kwargs):
    args, kw = SparkConnectDialect().create_connect_args(sa.make_url(url))
    assert args == [remote] and kw == kwargs


def test_jx_sql_prints_each_source_query_in_its_dialect(demo_data, capsys, monkeypatch):
    monkeypatch.setenv("JX_GUANGDONG_SOURCE_URL", "spark+connect://127.0.0.1:15002/business")
    assert main(["sql", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-06-30"]) == 0
    printed = capsys.readouterr().out
    blocks = [b for b in printed.split("\n\n") if b.strip()]
    fused = [b for b in blocks if ", table " in b.splitlines()[0]]
    assert len(fused) == len({n.collector.params["table"] for n in demo_data[0].indicators()
                              if n.collector.name == "system_feed" and "table" in n.collector.params})
    assert all(b.splitlines()[0].endswith("spark, as of 2010-06-30") for b in blocks)
    raw = next(b for b in blocks if "raw SQL of SCJG.XC.WCL" in b)
    assert "BETWEEN DATE '2010-01-01' AND DATE '2010-06-30'" in raw
    entities = next(b for b in fused if "FROM market_entities" in b)
    assert "< DATE '2010-07-01'" in entities and "= true" in entities and entities.rstrip().endswith(";")


def test_demo_export_writes_parquet_and_the_spark_sql_that_registers_it(demo_data):
    _, duck, parquet = demo_data
    script = (parquet / "register.sql").read_text(encoding="utf-8").splitlines()
    assert script[0] == "CREATE DATABASE IF NOT EXISTS business;"
    assert f"CREATE TABLE business.cases USING parquet LOCATION '{(parquet / 'cases').as_uri()}';" in script
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{duck}' AS src (READ_ONLY)")
        for table in demo.TABLES:  # the same column types, row count and, per column, sum of value hashes
            exported = f"'{parquet / table}/*.parquet'"
            digest = "SELECT count(*), sum(hash(COLUMNS(*))::HUGEINT) FROM {}"
            assert con.execute(digest.format(exported)).fetchall() == \
                con.execute(digest.format(f"src.{table}")).fetchall(), table
            described = con.execute(f"DESCRIBE FROM {exported}").fetchall()
            assert described == con.execute(f"DESCRIBE src.{table}").fetchall()


def test_demo_export_refuses_a_database_name_that_is_not_plain(tmp_path, capsys):
    assert main(["demo", "export", "--parquet", str(tmp_path), "--database", "biz; DROP"]) == 2
    assert "--database 'biz; DROP' is not a plain name" in capsys.readouterr().err
    assert not (tmp_path / "register.sql").exists()


@pytest.mark.slow
def test_jx_explain_rows_behind_a_rate_on_spark_equal_duckdb(spark, demo_data):
    """``source_rows`` (jx explain) sends its listing and count to Spark too."""
    scheme, duck, _ = demo_data
    node = next(n for n in scheme.indicators() if n.collector.name == "system_feed"
                and n.collector.params.get("aggregate") == "rate" and n.collector.params.get("window"))
    request = CollectRequest(node, {p.name: p.default for p in SystemFeed.params} | node.collector.params)
    unit = scheme.units[0].code
    on_spark = SystemFeed().source_rows(_ctx(scheme, spark.url("business")), request, unit, 5)
    on_duck = SystemFeed().source_rows(_ctx(scheme, f"duckdb:///{duck}"), request, unit, 5)
    assert (on_spark.total, on_spark.counted) == (on_duck.total, on_duck.counted)
    assert on_spark.total > 5 and len(on_spark.rows) == 5 and on_spark.columns == on_duck.columns
    assert on_spark.source.rstrip().endswith("LIMIT 5")


def test_demo_export_registers_the_tables_where_the_cluster_reads_them(demo_data, tmp_path, capsys):
    source = tmp_path / "business.duckdb"  # a copy: this process may hold the fixture's file open
    shutil.copyfile(demo_data[1], source)
    assert main(["demo", "export", "--parquet", str(tmp_path / "out"), "--from", str(source),
                 "--location", "hdfs:///data/jx/"]) == 0
    assert "register them in Spark with" in capsys.readouterr().out
    script = (tmp_path / "out" / "register.sql").read_text(encoding="utf-8")
    assert "CREATE TABLE jx_business.patrols USING parquet LOCATION 'hdfs:///data/jx/patrols';" in script
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*demo.TABLES, "register.sql"])
