"""The store: round trips, ordering, atomicity and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from jxcore.errors import DataError, StoreError, UsageError
from jxcore.models import Measure, Node, NodeKind, Period, Run, RunResult, RunStatus, Scheme, Unit, UnitTable
from jxcore.store import Store
from jxcore.store.api import alembic_config
from jxcore.store.tables import metadata

UTC = dt.timezone.utc
NAN = float("nan")
NODES = (
    Node("R", "总分", NodeKind.ROOT, None, 100_000, children=("A", "B")),
    Node("A", "企业监管", NodeKind.ITEM, "R", 60_000, children=("A1", "A2")),
    Node("A1", "年检率", NodeKind.INDICATOR, "A", 40_000),
    Node("A2", "验照率", NodeKind.INDICATOR, "A", 20_000),
    Node("B", "登记注册", NodeKind.ITEM, "R", 40_000, children=("B1",)),
    Node("B1", "登记质量", NodeKind.INDICATOR, "B", 40_000),
)
SCHEME = Scheme(
    name="gd", title="东莞", period=Period.for_year(2024), root="R",
    nodes={n.code: n for n in NODES},
    units=(Unit("U1", "虎门"), Unit("U2", "长安"), Unit("U3", "洪梅")),
)
SCORES = np.array([
    [98_000, 85_500, 32_345],  # R
    [60_000, 45_500, 20_000],  # A
    [40_000, 35_500, 20_000],  # A1
    [20_000, 10_000, 0],       # A2
    [38_000, 40_000, 12_345],  # B
    [38_000, 40_000, 12_345],  # B1
], dtype=np.int64)
RANKS = np.array([1, 2, 3], dtype=np.int64)


def make_result(started: dt.datetime, *, scheme: Scheme = SCHEME, period: int = 2024,
                as_of: dt.date = dt.date(2024, 6, 30), scores: np.ndarray = SCORES,
                run_id: str | None = None) -> RunResult:
    return RunResult(
        run=Run(scheme.name, period, as_of, started, id=run_id),
        scheme=scheme,
        units=scheme.unit_table(),
        node_codes=tuple(n.code for n in NODES),
        scores=scores,
        ranks=RANKS,
        measures={
            "A1": Measure("A1", np.array([0.98, 0.9, NAN]), source="SELECT unit, avg(ok) FROM checks"),
            "A2": Measure("A2", np.array([1.0, 0.5, 0.0]), source="files: a2.xlsx"),
        },
    )


def at(day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(2024, 6, day, hour, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty store database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jx.sqlite'}"
    return request.getfixturevalue("make_postgres_url")()


@pytest.fixture
def store(store_url: str):
    with Store.open(store_url) as store:
        yield store


def save(store: Store, result: RunResult, **kwargs) -> str:
    with store.transaction() as tx:
        return tx.save_run(result, **kwargs)


def count_rows(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("runs", "run_units", "run_nodes")}


def test_round_trip_gives_back_every_array(store: Store, store_url: str):
    started = dt.datetime(2024, 7, 1, 10, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    run_id = save(store, make_result(started), scheme_digest="ab" * 32, final=True)

    with Store.open(store_url) as again:  # a new engine: the data is really in the database
        run = again.load_run(run_id)
        assert (run.id, run.scheme, run.period, run.as_of) == (run_id, "gd", 2024, dt.date(2024, 6, 30))
        assert run.started_at == dt.datetime(2024, 7, 1, 2, 0, 0, 250000, tzinfo=UTC)
        assert run.started_at.tzinfo == UTC
        assert run.finished_at is not None and run.finished_at.tzinfo == UTC
        assert run.status is RunStatus.FINISHED
        assert run.final is True
        assert run.scheme_digest == "ab" * 32
        assert (run.unit_count, run.node_count) == (3, 6)
        assert run.unit_codes == ("U1", "U2", "U3")
        assert run.unit_names == ("虎门", "长安", "洪梅")
        np.testing.assert_array_equal(run.totals, [98_000, 85_500, 32_345])
        np.testing.assert_array_equal(run.ranks, [1, 2, 3])
        assert run.node_codes == ("R", "A", "A1", "A2", "B", "B1")
        assert run.node_names == ("总分", "企业监管", "年检率", "验照率", "登记注册", "登记质量")
        assert run.node_kinds == ("root", "item", "indicator", "indicator", "item", "indicator")
        assert run.node_parents == (None, "R", "A", "A", "R", "B")
        np.testing.assert_array_equal(run.node_points, [100_000, 60_000, 40_000, 20_000, 40_000, 40_000])
        assert run.scores.dtype == np.int64
        np.testing.assert_array_equal(run.scores, SCORES)
        assert set(run.values) == {"A1", "A2"}
        np.testing.assert_array_equal(run.values["A1"], [0.98, 0.9, NAN])
        np.testing.assert_array_equal(run.values["A2"], [1.0, 0.5, 0.0])
        assert run.measure_sources == {"A1": "SELECT unit, avg(ok) FROM checks", "A2": "files: a2.xlsx"}
        np.testing.assert_array_equal(run.node_scores("B1"), [38_000, 40_000, 12_345])
        assert run.unit_scores("U2") == {"R": 85_500, "A": 45_500, "A1": 35_500, "A2": 10_000,
                                         "B": 40_000, "B1": 40_000}
        with pytest.raises(UsageError, match="unit 'U9' is not in run"):
            run.unit_scores("U9")


def test_runs_are_listed_newest_first_and_latest_run_finds_the_previous(store: Store):
    """The current run is the one with the latest as-of date; "previous" is the latest earlier
    as-of (the previous day's), not the run stored just before (a back-dated run is not it)."""
    other_scheme = Scheme("zj", "other", Period.for_year(2024), "R", SCHEME.nodes, SCHEME.units)
    first = save(store, make_result(at(1), as_of=dt.date(2024, 6, 1)), final=True)
    third = save(store, make_result(at(2), as_of=dt.date(2024, 6, 3)))
    second = save(store, make_result(at(3), as_of=dt.date(2024, 6, 2)))  # back-dated, stored last
    last_year = save(store, make_result(at(4), period=2023))
    save(store, make_result(at(5), scheme=other_scheme))

    assert [r.id for r in store.runs("gd")] == [last_year, second, third, first]
    assert [r.id for r in store.runs("gd", 2024)] == [second, third, first]
    assert store.runs("nope") == []
    assert store.latest_run("gd", 2024).id == third
    assert store.latest_run("gd", 2024, final_only=True).id == first
    assert store.latest_run("gd", 2024, before=third).id == second
    assert store.latest_run("gd", 2024, before=second).id == first
    assert store.latest_run("gd", 2024, before=first) is None
    assert store.latest_run("gd", 2024, final_only=True, before=first) is None
    assert store.latest_run("gd", 2022) is None


def test_a_transaction_sees_its_own_run_and_the_previous_one(store: Store):
    previous = save(store, make_result(at(1), as_of=dt.date(2024, 6, 29)))
    with store.transaction() as tx:
        run_id = tx.save_run(make_result(at(2), scores=SCORES * 0))
        assert tx.latest_run("gd", 2024).id == run_id
        before = tx.latest_run("gd", 2024, before=run_id)
        assert before.id == previous
        np.testing.assert_array_equal(before.totals, [98_000, 85_500, 32_345])
        np.testing.assert_array_equal(tx.load_run(run_id).totals, [0, 0, 0])
    assert [r.id for r in store.runs("gd")] == [run_id, previous]


def test_a_run_read_in_a_rolled_back_transaction_is_gone_afterwards(store: Store):
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            run = tx.load_run(tx.save_run(make_result(at(1))))
            raise RuntimeError("output failed")
    with pytest.raises(DataError, match=f"run {run.id} is not in the store"):
        _ = run.totals  # the lazy read fails


def test_an_exception_in_the_transaction_stores_nothing_of_the_run(store: Store):
    kept = save(store, make_result(at(1)))
    with pytest.raises(RuntimeError, match="output failed"):
        with store.transaction() as tx:
            tx.save_run(make_result(at(2)))
            raise RuntimeError("output failed")
    assert [r.id for r in store.runs("gd")] == [kept]
    assert count_rows(store) == {"runs": 1, "run_units": 3, "run_nodes": 6}


def test_a_database_failure_while_writing_is_a_store_error_and_rolls_back(store: Store):
    with pytest.raises(StoreError, match="cannot write to the store") as info:
        with store.transaction() as tx:
            tx.save_run(make_result(at(1), run_id="a" * 32))
            tx.save_run(make_result(at(2), run_id="a" * 32))
    assert "nothing of this transaction was stored" in str(info.value)
    assert count_rows(store) == {"runs": 0, "run_units": 0, "run_nodes": 0}


def test_what_a_transaction_registers_is_undone_only_if_it_rolls_back(store: Store):
    undone = []
    with store.transaction() as tx:
        tx.on_rollback(lambda: undone.append("committed"))
        tx.save_run(make_result(at(1)))
    with pytest.raises(StoreError):  # a database failure, and an output's error: undone, latest first
        with store.transaction() as tx:
            tx.on_rollback(lambda: undone.append("first"))
            tx.on_rollback(lambda: 1 / 0)  # a failing undo does not hide the transaction's error
            tx.on_rollback(lambda: undone.append("last"))
            tx.save_run(make_result(at(2), run_id="a" * 32))
            tx.save_run(make_result(at(3), run_id="a" * 32))
    with pytest.raises(RuntimeError, match="output failed"):
        with store.transaction() as tx:
            tx.on_rollback(lambda: undone.append("output"))
            raise RuntimeError("output failed")
    assert undone == ["last", "first", "output"]


def test_a_result_with_misshapen_arrays_is_refused(store: Store):
    with pytest.raises(StoreError, match=r"scores of shape \(2, 3\).*6 nodes × 3 units"):
        save(store, make_result(at(1), scores=SCORES[:2]))
    assert count_rows(store)["runs"] == 0


def test_an_unknown_run_id_is_a_usage_error_naming_it(store: Store):
    with pytest.raises(UsageError, match="no stored run has the id 'deadbeef'"):
        store.load_run("deadbeef")
    with pytest.raises(UsageError, match="'deadbeef'"):
        store.latest_run("gd", 2024, before="deadbeef")


def current_and_head(store: Store) -> tuple[str | None, str | None]:
    with store.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
    return current, head


def test_opening_an_empty_database_migrates_it_to_head_and_reopening_changes_nothing(store_url: str):
    with Store.open(store_url) as store:
        assert set(sa.inspect(store.engine).get_table_names()) >= {"alembic_version", "runs",
                                                                   "run_units", "run_nodes"}
        current, head = current_and_head(store)
        assert current == head and head is not None
        run_id = save(store, make_result(at(1)))
        with store.engine.connect() as connection:  # the migrated tables are what the code uses
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert diff == []
    with Store.open(store_url) as store:
        assert current_and_head(store) == (head, head)
        assert [r.id for r in store.runs("gd")] == [run_id]


def test_a_mariadb_store_is_migrated_to_what_the_code_uses(make_mariadb_url):
    with Store.open(make_mariadb_url()) as store:
        save(store, make_result(at(1)))
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            types = {c["name"]: str(c["type"]) for c in sa.inspect(connection).get_columns("run_nodes")}
        assert types["scores"] == "LONGBLOB"  # a national node's scores are 240 kB


def test_the_natural_key_index_goes_back_and_forth_with_0011(store_url: str):
    from alembic import command

    Store.open(store_url).close()
    engine = sa.create_engine(store_url, poolclass=sa.NullPool)

    def entry_indexes() -> dict[str, list[str]]:
        with engine.connect() as connection:
            return {i["name"]: i["column_names"] for i in sa.inspect(connection).get_indexes("entries")}

    def natural_key_method() -> str | None:  # tables.py does not state it (autogenerate cannot see it)
        with engine.connect() as connection:
            found = [i for i in sa.inspect(connection).get_indexes("entries") if i["name"] == "ix_entries_natural_key"]
        return found[0].get("dialect_options", {}).get("postgresql_using")

    assert entry_indexes()["ix_entries_natural_key"] == ["natural_key"]
    assert natural_key_method() == ("hash" if engine.dialect.name == "postgresql" else None)
    assert "ix_entries_scheme_period_kind_natural_key" not in entry_indexes()
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
    assert entry_indexes()["ix_entries_scheme_period_kind_natural_key"] == ["scheme", "period", "kind",
                                                                            "natural_key"]
    assert "ix_entries_natural_key" not in entry_indexes()
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    assert entry_indexes()["ix_entries_natural_key"] == ["natural_key"]
    assert natural_key_method() == ("hash" if engine.dialect.name == "postgresql" else None)
    engine.dispose()


def test_a_store_migrated_by_a_newer_jx_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    Store.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="cannot migrate the store.*upgrade jx"):
        Store.open(url)


@pytest.mark.parametrize(("url", "expected"), [
    ("not a url", "is not valid"),
    ("nosuchdb://host/x", "is not valid"),
    ("sqlite:////nonexistent-dir/sub/jx.sqlite", "cannot open the store at sqlite:////nonexistent-dir"),
    ("postgresql+psycopg://jx:s3cret@127.0.0.1:1/jx", "cannot open the store at postgresql"),
])
def test_a_bad_url_is_a_store_error_with_the_password_masked(url: str, expected: str):
    with pytest.raises(StoreError, match=expected) as info:
        Store.open(url)
    assert "s3cret" not in str(info.value)
    assert info.value.hint


def test_the_store_url_defaults_to_a_sqlite_file_in_jx_home(tmp_path, monkeypatch):
    monkeypatch.delenv("JX_DATABASE_URL", raising=False)
    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    with Store.open() as store:
        assert store.url == f"sqlite:///{tmp_path / 'home' / 'jx.sqlite'}"
        save(store, make_result(at(1)))
    assert (tmp_path / "home" / "jx.sqlite").exists()


def test_the_server_fixtures_give_fresh_empty_databases(make_postgres_url, make_mariadb_url):
    for make in (make_postgres_url, make_mariadb_url):
        first, second = make(), make()
        assert sa.make_url(first).database != sa.make_url(second).database
        engine = sa.create_engine(first, poolclass=sa.NullPool)
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()


@pytest.mark.slow
def test_a_national_run_round_trips_exactly(store_url: str):
    """A national run (30,000 units × 230 nodes) is written and read back exactly; how fast is
    bench/scale.py's business (no wall-clock assertion here: the machine is shared)."""
    n_units, n_nodes = 30_000, 230
    nodes = [Node("R", "root", NodeKind.ROOT, None, 100_000)]
    nodes += [Node(f"N{i}", f"node {i}", NodeKind.INDICATOR, "R", 1_000) for i in range(1, n_nodes)]
    units = tuple(Unit(f"U{i:05d}", f"unit {i}") for i in range(n_units))
    scheme = Scheme("cn", "national", Period.for_year(2024), "R", {n.code: n for n in nodes}, units)
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 100_000, size=(n_nodes, n_units), dtype=np.int64)
    result = RunResult(
        run=Run("cn", 2024, dt.date(2024, 6, 30), at(1)), scheme=scheme,
        units=UnitTable.from_units(units), node_codes=tuple(scheme.nodes), scores=scores,
        ranks=np.arange(1, n_units + 1, dtype=np.int64),
        measures={n.code: Measure(n.code, rng.random(n_units), source="SELECT 1") for n in nodes[1:]},
    )
    with Store.open(store_url) as store:
        run_id = save(store, result)
        run = store.load_run(run_id)
        np.testing.assert_array_equal(run.scores, scores)
        np.testing.assert_array_equal(run.values["N7"], result.measures["N7"].value)
        assert run.unit_codes == tuple(u.code for u in units)


def test_opening_an_up_to_date_store_skips_alembic(tmp_path):
    """Alembic costs a tenth of a second at every jx command; an up-to-date store needs none of it."""
    import subprocess
    import sys

    from jxcore.store.api import head_revision

    url = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    with Store.open(url) as store:
        assert head_revision() == current_and_head(store)[1]
    code = ("import sys; from jxcore.store import Store; Store.open(sys.argv[1]).close(); "
            "print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
