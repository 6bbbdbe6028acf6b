"""Spark SQL as a source: the SQLAlchemy dialect ``spark+connect://`` over Spark Connect.

A scheme's source URL ``spark+connect://[user[:token]@]host[:port]/[database][?use_ssl=true]``
makes the system feed send its fused ``GROUP BY`` queries to a Spark Connect endpoint (Spark ≥ 3.5;
the client is ``pyspark``, installed by ``jx-collectors[spark]``). Spark Connect is part of Apache
Spark and released with it; the Thrift route's Python client (PyHive) is unmaintained, see
docs/spark.md.

This module is both the dialect and its DB-API 2.0 driver (``import_dbapi`` returns the module).
Statements are sent as Spark SQL with named parameters (``:name`` markers, passed to
``SparkSession.sql(args=…)``), so values are never spliced into the text; results come back as
Arrow and are handed to the system feed as numpy columns (``Cursor.fetchnumpy``). What Spark needs
differently from the generic dialect: ``true``/``false`` for booleans (ANSI mode refuses ``= 1``),
backtick-quoted identifiers, backslash-escaped string literals in the SQL shown to users, and the
table listing from ``SHOW TABLES``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import default, reflection
from sqlalchemy.sql import compiler

#: Spark Connect's default port
DEFAULT_PORT = 15002
#: connection attempts before an unreachable endpoint is an error (Spark's own default waits ~10 min)
DEFAULT_RETRIES = 3

# ---------------------------------------------------------------- DB-API 2.0 module attributes

apilevel = "2.0"
threadsafety = 2  # connections may be shared between threads (a Spark session is thread-safe)
paramstyle = "named"


class Warning(Exception):
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def connect(remote: str, *, database: str | None = None, retries: int = DEFAULT_RETRIES) -> Connection:
    """A connection: one Spark Connect session at ``remote`` (an ``sc://`` string)."""
    return Connection(remote, database=database, retries=retries)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


def _translated(exc: Exception) -> Error:
    """A pyspark exception as the PEP 249 error SQLAlchemy expects (it then wraps it as DBAPIError)."""
    from pyspark.errors import AnalysisException

    if isinstance(exc, AnalysisException):  # unknown table/column, syntax (ParseException)
        return ProgrammingError(_first_line(exc))
    if "UNAVAILABLE" in str(exc) or "RETRIES_EXCEEDED" in str(exc):  # refused or dropped connection
        return OperationalError(f"Spark Connect endpoint unreachable: {_first_line(exc)}")
    return DatabaseError(_first_line(exc))


class Connection:
    """A Spark Connect session; commit and rollback do nothing (the system feed only reads)."""

    def __init__(self, remote: str, *, database: str | None, retries: int):
        from pyspark.logger import PySparkLogger
        from pyspark.sql.connect.client.retries import DefaultPolicy
        from pyspark.sql.connect.session import SparkSession

        # pyspark logs every failed query's JVM stack trace; the error itself reaches the caller.
        PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        # ... and warns before it raises a connection error: that error is what the caller sees.
        warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
        try:
            self.session = SparkSession.builder.remote(remote).create()
        except Exception as exc:  # a malformed sc:// string
            raise InterfaceError(_first_line(exc)) from exc
        self.session.client.set_retry_policies([DefaultPolicy(max_retries=retries, max_backoff=2000)])
        if database:
            try:
                self.run(f"USE {_quote(database)}", None)
            except Error:
                self.close()
                raise

    def run(self, sql: str, parameters: Mapping[str, Any] | None):
        """Run one statement and return its result as an Arrow table."""
        try:
            return self.session.sql(sql, args=dict(parameters) if parameters else None).toArrow()
        except Exception as exc:
            raise _translated(exc) from exc

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the server is gone: nothing left to release
            self.session.stop()


class Cursor:
    """Results are held as one Arrow table; rows are made only for ``fetch*`` calls."""

    arraysize = 1

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self._table = None
        self._at = 0

    def execute(self, operation: str, parameters: Mapping[str, Any] | None = None) -> None:
        table = self.connection.run(operation, parameters)
        self._table, self._at = table, 0
        self.description = [(f.name, str(f.type), None, None, None, None, f.nullable)
                            for f in table.schema] or None
        self.rowcount = table.num_rows if self.description else -1

    def executemany(self, operation: str, seq_of_parameters: Sequence[Mapping[str, Any]]) -> None:
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)

    def _take(self, n: int | None) -> list[tuple]:
        if self._table is None or not self.description:
            raise ProgrammingError("no result set: execute a query first")
        stop = self._table.num_rows if n is None else min(self._at + n, self._table.num_rows)
        part = self._table.slice(self._at, stop - self._at)
        self._at = stop
        return list(zip(*(column.to_pylist() for column in part.columns)))

    def fetchone(self) -> tuple | None:
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return self._take(size or self.arraysize)

    def fetchall(self) -> list[tuple]:
        return self._take(None)

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """The remaining rows as one numpy array per column (numbers with NULL become NaN), keyed by
        position-unique names, as DuckDB's cursor gives them to the system feed."""
        if self._table is None or not self.description:
            raise ProgrammingError("no result set: execute a query first")
        part = self._table.slice(self._at)
        self._at = self._table.num_rows
        return {f"{i}_{name}": column.to_numpy(zero_copy_only=False)
                for i, (name, column) in enumerate(zip(part.column_names, part.columns))}

    def close(self) -> None:
        self._table = None

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# ---------------------------------------------------------------- the SQLAlchemy dialect

class SparkCompiler(compiler.SQLCompiler):
    def render_literal_value(self, value: Any, type_: Any) -> str:
        """Spark string literals treat a backslash as an escape: double it (shown SQL, literal binds)."""
        text = super().render_literal_value(value, type_)
        return text.replace("\\", "\\\\") if isinstance(value, str) else text


class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    def __init__(self, dialect: Any):
        super().__init__(dialect, initial_quote="`", escape_quote="`")


class SparkConnectDialect(default.DefaultDialect):
    """Spark SQL through Spark Connect (``spark+connect://host:15002/database``)."""

    name = "spark"
    driver = "connect"
    statement_compiler = SparkCompiler
    preparer = SparkIdentifierPreparer
    default_paramstyle = "named"
    supports_native_boolean = True
    supports_native_decimal = True
    supports_statement_cache = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    returns_native_bytes = True

    @classmethod
    def import_dbapi(cls):
        return sys.modules[__name__]

    def create_connect_args(self, url) -> tuple[list, dict]:
        """``spark+connect://user:token@host:port/db?use_ssl=true&retries=4`` → an ``sc://`` string."""
        query = dict(url.query)
        retries = query.pop("retries", str(DEFAULT_RETRIES))
        if not str(retries).isdigit():
            raise ValueError(f"retries={retries} in the URL is not a whole number of attempts")
        params = {**({"user_id": url.username} if url.username else {}),
                  **({"token": url.password} if url.password else {}), **query}
        remote = f"sc://{url.host or '127.0.0.1'}:{url.port or DEFAULT_PORT}"
        if params:
            remote += "/;" + ";".join(f"{k}={v}" for k, v in params.items())
        return [remote], {"database": url.database or None, "retries": int(retries)}

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def _get_default_schema_name(self, connection: Any) -> str:
        return connection.exec_driver_sql("SELECT current_database()").scalar()

    @reflection.cache  # one SHOW TABLES per inspector, not one per table checked
    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        sql = "SHOW TABLES" + (f" IN {_quote(schema)}" if schema else "")
        return [row[1] for row in connection.exec_driver_sql(sql)]

    def has_table(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> bool:
        """Tables and views alike (Spark's names are case-insensitive)."""
        wanted = table_name.lower()
        names = self.get_table_names(connection, schema, info_cache=kw.get("info_cache"))
        return any(name.lower() == wanted for name in names)
