"""The storing phase of an import, made cheaper, stores the same values: payload JSON assembled
key by key is the text ``json.dumps`` gives, columns a chunk leaves empty are stored as NULL, and
the stage holds each entry as before on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import test_entries_store
from jxcore.store import NewEntry, bulk
from jxcore.store.entries import Stage, stage_table


def dumped(dicts) -> list[str]:
    """What an entry's payload was stored as before: one json.dumps a row."""
    return [json.dumps(dict(d), ensure_ascii=False, sort_keys=True) for d in dicts]


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=6)
CODES = st.lists(st.sampled_from(["beyond_authority", "超越职权", 'a "quoted"\ncode', ""]), max_size=3)
#: how one key's values vary down a chunk: text, ints, lists of codes, or anything JSON takes
COLUMN = st.sampled_from([st.text(), st.integers(), CODES, VALUES])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_payloads_of_one_kind_are_the_text_json_dumps_gives(data):
    names = data.draw(st.lists(st.text(max_size=5), min_size=1, max_size=5, unique=True))
    kinds = {name: data.draw(COLUMN) for name in names}
    dicts = data.draw(st.lists(st.fixed_dictionaries(kinds), max_size=30))
    assert list(bulk.json_dicts()(dicts)) == dumped(dicts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "档案"]), VALUES, max_size=3), max_size=20))
def test_payloads_with_differing_keys_are_the_text_json_dumps_gives(dicts):
    assert list(bulk.json_dicts()(dicts)) == dumped(dicts)


@pytest.mark.parametrize("dicts", [
    [],
    [{}, {}],
    [{"x": 0.0}, {"x": -0.0}, {"x": float("nan")}],  # equal floats that encode differently
    [{"x": 1}, {"x": True}, {"x": 1.0}],  # equal values of three types
    [{"x": [1]}, {"x": [True]}, {"x": ["1"]}],
    [{"x": ["a", "b"]}, {"x": ["a", "b"]}, {"x": []}, {"x": ["a"]}],
    [{"x": "\x00\t\u2028é", "y": None}, {"x": "虎门", "y": "note"}],
    [{"b": 1, "a": 2}, {"a": 3, "b": 4}],  # key order differs: sorted either way
    [{"a": 1, "b": 2}, {"a": 1, "c": 2}],  # same size, other keys
    [types.MappingProxyType({"a": 1}), {"a": 2}],  # a mapping that is not a dict
])
def test_payload_edge_cases_are_the_text_json_dumps_gives(dicts):
    assert list(bulk.json_dicts()(dicts)) == dumped(dicts)


def test_a_column_of_none_only_takes_its_default(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (a INTEGER, b TEXT DEFAULT 'left out', c TEXT DEFAULT 'left out')")
        written = bulk.insert_columns(connection, "t", {"a": range(3), "b": [None, None, None], "c": [None, "z", None]})
        assert written == 3
        assert connection.exec_driver_sql("SELECT a, b, c FROM t ORDER BY a").all() == [
            (0, "left out", None), (1, "left out", "z"), (2, "left out", None)]


store = test_entries_store.store  # the same fixture: a store on SQLite and on PostgreSQL


def test_the_stage_holds_every_entry_as_given_chunk_after_chunk(store):
    plain = [NewEntry("humen", dt.date(2010, 3, i + 1), {"archive": "case", "file_no": f"F{i}", "defects": ["x"] * i},
                      source_row=i + 2) for i in range(3)]
    corrections = [NewEntry("changan", dt.date(2010, 4, 1), {"finding": "late", "note": None}, source_row=9,
                            supersedes=7, reason="wrong unit"),
                   NewEntry("humen", dt.date(2010, 4, 2), {"finding": "absent", "note": "窗口"})]
    with store.engine.begin() as connection:
        stage = Stage(connection)
        stage.add(plain, ["k0", "k1", "k2"])
        stage.add([], [])
        stage.add(corrections, ["k3", None])
        s = stage_table().c
        got = connection.execute(sa.select(s.seq, s.unit_code, s.entry_date, s.payload, s.source_row, s.supersedes,
                                           s.reason, s.natural_key).order_by(s.seq)).all()
        stage.drop()
    rows = plain + corrections
    assert stage.rows == 5
    assert [tuple(r) for r in got] == [
        (i, r.unit_code, r.entry_date, text, r.source_row, r.supersedes, r.reason, key)
        for i, (r, text, key) in enumerate(zip(rows, dumped(r.payload for r in rows), ["k0", "k1", "k2", "k3", None]))]
