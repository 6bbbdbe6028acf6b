"""Bulk inserts of many rows given as tuples, the fastest way each backend offers.

SQLite: one ``executemany`` of the driver (no SQLAlchemy parameter processing per row);
PostgreSQL (psycopg 3): ``COPY … FROM STDIN``, rows streamed to the server; any other backend:
SQLAlchemy Core's executemany. All inside the caller's transaction, and the values are written
as given: the caller passes what the database stores (dates as ISO text on SQLite, as
``datetime.date`` on PostgreSQL; see :func:`date_value`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice, repeat
from operator import is_, itemgetter
from typing import Any

import sqlalchemy as sa

_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # the C encoder json.dumps uses
_BATCH = 10_000  #: rows per executemany on the generic path
_SORTER_KIB = 32_768  #: SQLite's page cache while :func:`indexes_deferred` sorts: what each sort holds in memory


def insert_rows(connection: sa.Connection, table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """INSERT ``rows`` (tuples of the columns ``names``) into ``table``; how many were written.

    ``rows`` may be a one-shot iterator: it is consumed once, a batch at a time where a batch is
    needed, so memory does not grow with it.
    """
    dialect = connection.dialect.name
    columns = ", ".join(names)
    driver: Any = connection.connection.driver_connection  # inside the transaction SQLAlchemy began
    if dialect == "sqlite":
        cursor = driver.cursor()
        try:
            before = driver.total_changes
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})", rows)
            return driver.total_changes - before
        finally:
            cursor.close()
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        written = 0
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written
    target = sa.table(table, *[sa.column(n) for n in names])
    written = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        connection.execute(target.insert(), [dict(zip(names, row)) for row in batch])
        written += len(batch)
    return written


def insert_columns(connection: sa.Connection, table: str, columns: Mapping[str, Sequence[Any]]) -> int:
    """:func:`insert_rows` of rows given column by column (equally long). A column holding only
    None is left out of the INSERT, so it takes its default (NULL for the columns this is used
    for): the SQLite driver looks for an adapter for each None it binds, which costs about as much
    as binding the rest of an entry's row."""
    kept = {name: values for name, values in columns.items() if not all(map(is_, values, repeat(None)))}
    return insert_rows(connection, table, list(kept), zip(*kept.values()))


@contextmanager
def indexes_deferred(connection: sa.Connection, table: str, rows: int, stored: int) -> Iterator[None]:
    """On SQLite, when the ``rows`` about to be written are at least the ``stored`` rows of
    ``table`` (an upper bound such as its largest integer id will do), drop the table's own indexes
    for the duration and make them again afterwards: one sort per index instead of a B-tree insert
    per row and index (an import of a million entries into a small store: its INSERT about a third
    faster). Elsewhere, or for a write smaller than the table, nothing changes.

    Inside the caller's transaction: the indexes are dropped and made again in it, so readers
    (their own WAL snapshot) and a crash or rollback never see the table without them. Only the
    success path remakes them; an error is expected to end the transaction (rolled back, the
    indexes come back with it). Indexes that back a constraint (``sqlite_autoindex_…``) stay.
    """
    if connection.dialect.name != "sqlite" or not rows:
        yield
        return
    driver: Any = connection.connection.driver_connection
    made = [] if rows < stored else driver.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,)).fetchall()
    for name, _ in made:
        driver.execute(f'DROP INDEX "{name}"')
    yield
    if not made:
        return
    cache = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size = -{_SORTER_KIB}")  # a sort holds up to the page cache's size beside it
    for _, sql in made:
        driver.execute(sql)
    driver.execute(f"PRAGMA cache_size = {int(cache)}")


def date_values(connection: sa.Connection) -> Callable[[Iterable[dt.date]], Iterable[Any]]:
    """How a column of ``datetime.date`` is passed to :func:`insert_rows` on this backend: ISO
    text on SQLite (as SQLAlchemy's Date stores it), the dates themselves elsewhere."""
    if connection.dialect.name == "sqlite":
        return lambda days: map(dt.date.isoformat, days)
    return lambda days: days


def json_encoder(*, sort_keys: bool = False, separators: tuple[str, str] = (", ", ": "),
                 default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.dumps(obj, ensure_ascii=False, sort_keys=…, separators=…, default=…)`` as one
    function whose C encoder is made once: ``json.dumps`` with any argument makes a new encoder
    a call, which costs more than encoding a small row. Same text (no check for circular
    references: for rows of plain values)."""
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=sort_keys, separators=separators, default=default)
    if _c_make_encoder is None:  # pragma: no cover
        return encoder.encode
    make = _c_make_encoder(None, encoder.default, json.encoder.encode_basestring, None, separators[1], separators[0],
                           sort_keys, False, True)
    join = "".join

    def encode(obj: Any) -> str:
        return join(make(obj, 0))

    return encode


def json_dicts() -> Callable[[Sequence[Mapping[str, Any]]], Iterable[str]]:
    """``[json.dumps(dict(d), ensure_ascii=False, sort_keys=True) for d in dicts]`` (the same
    texts), column by column where the dicts share their keys, as the rows of one kind do: each
    key's values are encoded with one C-level ``map`` (text with the encoder's own string function,
    a list of codes once per distinct list), and each row's text is
    joined from them; other dicts one at a time. About twice as fast for a chunk of an import."""
    one = json_encoder(sort_keys=True)
    text = json.encoder.encode_basestring  # what the encoder writes for a str (ensure_ascii=False)

    def column(values: Sequence[Any]) -> Iterable[str]:
        kinds = set(map(type, values))
        if kinds == {str}:
            return map(text, values)
        if kinds == {int}:
            return map(int.__repr__, values)  # what the encoder writes for an int
        if kinds == {list} and set(map(type, chain.from_iterable(values))) <= {str}:  # lists of codes
            keys = list(map(tuple, values))  # equal lists of text encode alike; a tuple as its list
            known = {k: one(k) for k in set(keys)}
            return map(known.__getitem__, keys)
        return map(one, values)

    def encode(dicts: Sequence[Mapping[str, Any]]) -> Iterable[str]:
        names = sorted(dicts[0]) if dicts and set(map(type, dicts)) == {dict} else None
        if not names or set(map(len, dicts)) != {len(names)} or set(map(type, names)) != {str}:
            return map(one, dicts if names is not None else map(dict, dicts))
        try:  # same size and every name in each: the same keys
            columns = [list(map(itemgetter(name), dicts)) for name in names]
        except KeyError:
            return map(one, dicts)
        joints = ["{" + text(names[0]) + ": ", *(", " + text(n) + ": " for n in names[1:]), "}"]
        pieces = [p for joint, texts in zip(joints, map(column, columns)) for p in (repeat(joint), texts)]
        return map("".join, zip(*pieces, repeat(joints[-1])))

    return encode
