"""An import is read, checked and written a chunk at a time, in one transaction (issue 12).

Structural, not timed: the import never holds more than the chunk it is working on (entries of
earlier chunks are garbage by the time the next one is read), a bad row in the last chunk — or a
clash with a stored entry, or a lock — leaves nothing written, and the fast leaf and head
computations of the audit chain give exactly the bytes ``jx verify`` recomputes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import hashlib
import itertools
import random
import weakref
from pathlib import Path

import pytest
import sqlalchemy as sa

from jxcore import services
from jxcore.errors import DataError, LockedError
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import scheme_from_dict
from jxcore.store import Store, ledger
from jxcore.store.entries import EntryIds

UNITS = [{"code": "humen", "name": "虎门", "staff": 50, "entities": 50000},
         {"code": "changan", "name": "长安", "staff": 30, "entities": 28000}]
PER_EVENT = {"name": "per_event", "params": {"deductions": {"beyond_authority": 2}}}
PLAN = {"scale": 20, "nodes": [{"code": "YW", "name": "业务", "points": 20, "children": [
    {"code": "DJCC", "name": "登记档案抽查", "points": 10, "department": "DJK", "rule": PER_EVENT,
     "collector": {"name": "manual", "params": {"kind": "spot_check", "where": {"archive": "registration"}}}},
    {"code": "AJCC", "name": "案件档案抽查", "points": 10, "department": "JCK", "rule": PER_EVENT,
     "collector": {"name": "manual", "params": {"kind": "spot_check", "where": {"archive": "case"}}}},
]}]}
CHUNK = 100  #: entries a chunk in these tests (the import's own default is 10,000)
ROWS = 2_450  #: 25 chunks, the last one partly filled


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager())


@pytest.fixture
def scheme():
    return scheme_from_dict(PLAN, units=UNITS, name="mini")


@pytest.fixture
def small_chunks(monkeypatch):
    """Files are read CHUNK entries at a time, and every chunk handed to the import is watched:
    returns the list of how many entries of earlier chunks were still alive as each chunk was read."""
    from jx_collectors.manual import importer

    chunks = importer.FileCheck.chunks
    alive_then: list[int] = []

    def watched(self, size: int = CHUNK):
        earlier: list[weakref.ref] = []
        for chunk in chunks(self, size=size):
            gc.collect()
            alive_then.append(sum(ref() is not None for ref in earlier))
            earlier = [weakref.ref(entry) for entry in chunk]
            yield chunk
            del chunk

    monkeypatch.setattr(importer.FileCheck, "chunks", watched)
    return alive_then


def spot_checks(path: Path, rows: int, *, last: str | None = None, start: int = 0) -> Path:
    lines = ["日期,单位,档案类别,档案号,瑕疵"]
    for i in range(start, start + rows):
        lines.append(f"2010-{1 + i % 12:02d}-{1 + i % 28:02d},{'虎门' if i % 2 else 'changan'},"
                     f"{'登记' if i % 3 else '案件'},DJ{i:08d},{'超越职权' if i % 7 == 0 else ''}")
    if last is not None:
        lines[-1] = last
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def counts(store: Store) -> tuple[int, int, int]:
    with store.engine.connect() as connection:
        return tuple(connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                     for t in ("entries", "entry_batches", "audit_chain"))


def _import_and_check(store: Store, registry, scheme, tmp_path, small_chunks) -> None:
    report = services.import_file(store, registry, scheme, "spot_check", spot_checks(tmp_path / "a.csv", ROWS),
                                  user="t")
    assert report.rows == ROWS and len(report.entry_ids) == ROWS
    assert report.feeds == {"DJCC": ROWS - ROWS // 3 - 1, "AJCC": ROWS // 3 + 1}
    assert len(small_chunks) == -(-ROWS // CHUNK)
    assert max(small_chunks) == 0, "entries of an earlier chunk were still held when the next was read"
    assert counts(store) == (ROWS, 1, 1 + -(-ROWS // ledger.PAGE_ROWS))  # the batch, a bundle per page
    assert [e.source_row for e in store.entries("mini", 2010)][:3] != []
    assert services.verify_store(store).ok


def test_an_import_holds_one_chunk_at_a_time_and_verifies(registry, scheme, tmp_path, small_chunks):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        _import_and_check(store, registry, scheme, tmp_path, small_chunks)
        with store.engine.connect() as connection:
            ids = EntryIds.of_batch(connection, services.batches(store, scheme)[0].id)
        assert isinstance(ids._ids, range)  # SQLite's ids are consecutive: no int per entry is kept
        assert ids == tuple(range(1, ROWS + 1)) and ids[0] == 1 and ids[-1] == ROWS


def test_an_import_holds_one_chunk_at_a_time_on_postgresql(registry, scheme, tmp_path, small_chunks,
                                                          make_postgres_url):
    with Store.open(make_postgres_url()) as store:
        _import_and_check(store, registry, scheme, tmp_path, small_chunks)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_bad_row_in_the_last_chunk_leaves_nothing_written(backend, registry, scheme, tmp_path, small_chunks,
                                                           request):
    url = (f"sqlite:///{tmp_path / 'jx.sqlite'}" if backend == "sqlite"
           else request.getfixturevalue("make_postgres_url")())
    with Store.open(url) as store:
        first = services.import_file(store, registry, scheme, "spot_check",
                                     spot_checks(tmp_path / "first.csv", 10, start=900_000), user="t")
        before = counts(store)
        bad = spot_checks(tmp_path / "bad.csv", ROWS, last="2010-12-30,无此单位,登记,DJ99999999,")
        with pytest.raises(DataError, match=f"row {ROWS + 1}.*unknown unit"):
            services.import_file(store, registry, scheme, "spot_check", bad, user="t")
        assert len(small_chunks) >= ROWS // CHUNK  # the bad row was met after the other chunks were staged
        assert counts(store) == before
        # a key stored already, in the last row: found in SQL after every chunk was staged
        clash = spot_checks(tmp_path / "clash.csv", ROWS, last="2010-12-30,虎门,案件,DJ00900003,")
        with pytest.raises(DataError, match=f"row {ROWS + 1}.*the same spot_check entry is stored already: "
                                            f"#{first.entry_ids[3]}"):
            services.import_file(store, registry, scheme, "spot_check", clash, user="t")
        assert counts(store) == before
        # a lock over the last row's date: refused, nothing written
        services.add_user(store, "admin", role="admin")
        services.lock(store, "mini", 2010, user="admin", until=dt.date(2010, 11, 30))
        locked = spot_checks(tmp_path / "locked.csv", 50, start=500_000)
        with pytest.raises(LockedError, match="entries are dated"):
            services.import_file(store, registry, scheme, "spot_check", locked, user="admin")
        after_lock = counts(store)
        assert after_lock[0] == before[0]
        # and the stage is gone: the same connection imports the next file
        late = tmp_path / "late.csv"
        late.write_text("日期,单位,档案类别,档案号\n2010-12-20,虎门,登记,DJ77777777\n", encoding="utf-8")
        assert services.import_file(store, registry, scheme, "spot_check", late, user="admin").rows == 1
        assert services.verify_store(store).ok


def test_a_file_bad_in_every_row_lists_its_first_problems_only(registry, scheme, tmp_path, small_chunks):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        lines = ["日期,单位,档案类别,档案号"] + [f"2010-01-01,nowhere{i},登记,X{i}" for i in range(ROWS)]
        path = tmp_path / "bad.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with pytest.raises(DataError) as caught:
            services.import_file(store, registry, scheme, "spot_check", path, user="t")
        text = str(caught.value)
        assert f"({ROWS} problems in all)" in text and "only the first 200 are listed" in text
        assert counts(store) == (0, 0, 0)


# --- the chain's fast paths give the bytes jx verify recomputes ------------------------------------

def _values(rnd: random.Random):
    texts = ["", "a", "虎门", 'quote " and \\ back', "tab\tline\nfeed", "\x00\x1f\x7f", "é\u2028\u2029", "{x}", "[1]"]
    return [rnd.choice(texts), rnd.randint(-5, 10**12), None, True, False, 1.5, float("nan"), decimal.Decimal("2.50"),
            dt.date(2010, 3, 1), dt.datetime(2010, 3, 1, 8, 30, 1, 5), b"\x00blob",
            dt.datetime(2010, 3, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))]


@pytest.mark.parametrize("tbl", ["entries", "runs", "access_log", "run_units"])
def test_leaf_hashes_are_leaf_hash(tbl):
    rnd = random.Random(tbl)
    names = ledger.columns(tbl)
    rows = []
    for _ in range(300):
        pool = _values(rnd)
        rows.append(tuple(rnd.choice(pool) for _ in names))
    rows += [tuple(None for _ in names), tuple(1 for _ in names), tuple(True for _ in names)]
    mixed = [tuple(v for _ in names) for v in (1, True, 1.0, decimal.Decimal(1), "1")]  # equal, encoded apart
    # equal values of one type that encode apart: a column of them is never encoded once
    signed = [tuple(v for _ in names) for v in (0.0, -0.0, 0.0)]
    places = [tuple(v for _ in names) for v in (decimal.Decimal("1.0"), decimal.Decimal("1.00"), None)]
    # every other column holds one value down the page (written into the page's template once)
    steady = [tuple(r[j] if j % 2 else rows[0][j] for j in range(len(names))) for r in rows]
    same = [rows[7]] * 5 + [tuple(None for _ in names)] * 3
    for page in (rows, mixed, signed, places, rows[:1], steady, same, same[:5], same[5:]):
        assert ledger.leaf_hashes(tbl, names, page) == [ledger.leaf_hash(tbl, dict(zip(names, r))) for r in page]
    assert ledger.leaf_hashes(tbl, names, []) == []
    # the steady columns given once (an import's batch columns), the others page by page; a late
    # column given as None is left out of the leaf as in a row
    for template, parity in itertools.product((rows[0], tuple(None for _ in names), rows[5]), (0, 1)):
        fixed = {name: template[j] for j, name in enumerate(names) if j % 2 == parity}
        varying = [name for name in names if name not in fixed]
        page = [tuple(r[j] for j in range(len(names)) if j % 2 != parity) for r in rows]
        whole = [dict(zip(names, (template[j] if j % 2 == parity else r[j] for j in range(len(names)))))
                 for r in rows]
        assert ([d.hex() for d in ledger.leaf_digests(tbl, varying, page, fixed)]
                == [ledger.leaf_hash(tbl, row) for row in whole])


def test_heads_extend_is_add_one_by_one():
    leaves = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(600)] + ["not hex"]
    for start in (0, 1, 2, 3, 8, 255, 256):
        one, many = ledger.Heads(), ledger.Heads()
        for leaf in leaves[:start]:
            one.add(leaf)
            many.add(leaf)
        assert many.extend(leaves[start:]) == [one.add(leaf) for leaf in leaves[start:]]
        assert many.state() == one.state() and many.head() == one.head()
    hexed = ledger.Heads()
    assert hexed.extend(leaves[:-1])[-1] == ledger.merkle_root(leaves[:-1])


def test_a_large_import_into_a_small_store_keeps_the_entries_indexes(registry, scheme, tmp_path):
    """SQLite: an import at least as large as the stored entries drops the entries' indexes inside
    its transaction and makes them again (one sort each); they are all there after it, and after a
    smaller import that leaves them in place."""
    def indexes(store: Store) -> list[tuple[str, str]]:
        with store.engine.connect() as connection:
            return sorted(connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'").all())

    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        before = indexes(store)
        assert {name for name, _ in before} >= {"ix_entries_natural_key",
                                                 "ix_entries_scheme_period_kind_entry_date"}
        services.import_file(store, registry, scheme, "spot_check", spot_checks(tmp_path / "a.csv", 300), user="t")
        assert indexes(store) == before
        services.import_file(store, registry, scheme, "spot_check", spot_checks(tmp_path / "b.csv", 20, start=300),
                             user="t")
        assert indexes(store) == before and counts(store) == (320, 2, 4)  # 2 batches, 2 bundles
        assert services.verify_store(store).ok


def test_progress_follows_the_rows_checked_then_the_storing(registry, scheme, tmp_path, small_chunks):
    told: list[tuple[str, int]] = []
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        services.import_file(store, registry, scheme, "spot_check", spot_checks(tmp_path / "a.csv", ROWS), user="t",
                             progress=lambda step, rows: told.append((step, rows)))
        bad = spot_checks(tmp_path / "bad.csv", 250, last="2010-12-30,无此单位,登记,DJ99999999,", start=5000)
        refused: list[tuple[str, int]] = []
        with pytest.raises(DataError):
            services.import_file(store, registry, scheme, "spot_check", bad, user="t",
                                 progress=lambda step, rows: refused.append((step, rows)))
    checked = [rows for step, rows in told if step == "checked"]
    assert checked == [min(CHUNK * (i + 1), ROWS) for i in range(-(-ROWS // CHUNK))]
    assert told[-1] == ("storing", ROWS) and [step for step, _ in told].count("storing") == 1
    # the reader refuses the file after its last chunk: the rows before were checked, nothing is stored
    assert refused == [("checked", 100), ("checked", 200)]


def test_jx_import_shows_its_progress_on_a_terminal_only(monkeypatch):
    import io

    from jxcore.cli_kit import progress_line

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    lines = {"checked": "checked {rows:,} rows of {file}", "storing": "storing {rows:,} entries of {file}"}
    with progress_line("reading {file}", lines, file="a.csv") as progress:  # pytest's stderr is no terminal
        assert progress is None
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_line("reading {file}", lines, file="a.csv") as progress:
        progress("checked", 20_000)
        progress("storing", 24_500)
    assert "storing 24,500 entries of a.csv" in screen.getvalue()


def test_an_import_keeps_the_heap_it_found_out_of_full_collections_and_gives_it_back(registry, scheme, tmp_path):
    """gc.freeze during the write (each full collection of a large import rescanned every module's
    objects), gc.unfreeze after it, whether it stored the file or refused it."""
    import gc

    frozen: list[int] = []
    before = gc.get_freeze_count()
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as store:
        services.import_file(store, registry, scheme, "spot_check", spot_checks(tmp_path / "a.csv", 30), user="t",
                             progress=lambda step, rows: frozen.append(gc.get_freeze_count()))
        assert gc.get_freeze_count() == before
        bad = spot_checks(tmp_path / "bad.csv", 5, last="2010-12-30,无此单位,登记,DJ99999999,", start=5000)
        with pytest.raises(DataError):
            services.import_file(store, registry, scheme, "spot_check", bad, user="t")
        assert gc.get_freeze_count() == before
    assert frozen and min(frozen) > before
