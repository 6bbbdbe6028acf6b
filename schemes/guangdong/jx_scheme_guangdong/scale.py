"""Synthetic business systems of any size: ``jx demo generate --units N --entities M``.

The tables and columns are exactly those of :mod:`jx_scheme_guangdong.demo` (the guangdong plans'
SQL runs against them unchanged); only the units are synthetic (``u000001`` …, sizes drawn from a
log-normal spread like Dongguan's, summing to exactly M market entities). The units are generated
in chunks of about :data:`CHUNK_ENTITIES` entities, each with its own random stream, so memory stays
bounded (a national 30,000 units × 100M entities takes a few GB at most) and the result depends only
on N, M, the years and the seed. Ids stay unique across chunks.

``jx demo`` is declared in the ``jx.commands`` entry-point group (``demo =
jx_scheme_guangdong.scale:demo_group``): this module, DuckDB and SQLAlchemy are imported only when it runs.

``--pack DIR`` also writes a scheme pack (the guangdong scheme with these units and its source
pointing at the generated data), ready for ``jx run --scheme DIR``. :func:`add_synthetic_entries`
(``jx demo entries``) gives its units manual entries (spot checks, inspections, mystery-shopper
visits …) for every manual indicator of its plan, written straight into the store in one batch
per kind.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from jx_scheme_guangdong import PACK_DIR
from jxcore.cli_kit import output_dir
from jxcore.errors import UsageError
from jxcore.models import Node, Scheme, Unit

if TYPE_CHECKING:  # DuckDB, SQLAlchemy, PyYAML and the demo generator are imported by what uses them
    import duckdb

#: entity rows per generation chunk: ~0.5 GB of numpy arrays at the peak
CHUNK_ENTITIES = 4_000_000
#: staff per 1,000 market entities, and the least staff of a unit (Dongguan: 1–3.5 per 1,000)
STAFF_PER_1000 = 1.2
MIN_STAFF = 5
ID_COLUMN = re.compile(r".+_id$")


def synthetic_units(n: int, entities: int, *, seed: int = 2010) -> list[Unit]:
    """``n`` units with log-normal sizes summing to exactly ``entities`` market entities.

    Each unit has at least a quarter of the mean size and :data:`MIN_STAFF` staff, so that every
    unit has rows in every table (a rate over no rows is no data, which the plan's rules refuse).
    """
    if n < 1 or entities < n:
        raise UsageError(f"cannot spread {entities} market entities over {n} units",
                         hint="give at least one unit and at least one entity per unit")
    rng = np.random.default_rng([seed, n])
    weight = rng.lognormal(0.0, 0.8, n)
    # Every unit has at least a quarter of the mean, so that each has complaints, cases … to rate.
    least = max(1, entities // (4 * n))
    share = least + weight / weight.sum() * (entities - least * n)
    counts = np.floor(share).astype(np.int64)
    # Largest remainders get the entities that flooring lost, so the sum is exact.
    counts[np.argsort(counts - share, kind="stable")[: entities - int(counts.sum())]] += 1
    staff = np.maximum(MIN_STAFF, np.rint(counts * STAFF_PER_1000 / 1000)).astype(np.int64)
    width = max(6, len(str(n)))
    return [Unit(f"u{i:0{width}d}", f"单位{i:0{width}d}", int(s), int(e))
            for i, (s, e) in enumerate(zip(staff.tolist(), counts.tolist()), start=1)]


def chunks(units: Sequence[Unit], size: int | None = None) -> list[slice]:
    """Consecutive unit ranges of about ``size`` (default CHUNK_ENTITIES) market entities each."""
    size = size or CHUNK_ENTITIES
    cum = np.cumsum([u.entities for u in units])
    ends = np.searchsorted(cum, np.arange(size, cum[-1] + size, size), side="left") + 1
    ends = np.unique(np.minimum(ends, len(units)))
    starts = np.r_[0, ends[:-1]]
    return [slice(int(a), int(b)) for a, b in zip(starts, ends) if b > a]


def generate(path: Path, units: Sequence[Unit], *, years: Sequence[int] = (2010,), seed: int = 2010,
             echo=None) -> dict[str, int]:
    """Write the business tables for ``units`` to the DuckDB file ``path``; row counts by table.

    Written to a temporary file first and renamed: a killed generation leaves no half file.
    """
    import duckdb

    from jx_scheme_guangdong import demo

    path = Path(path)
    units, years = list(units), list(years)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(demo.TABLES, 0)
    entities_before = 0
    try:
        with duckdb.connect(str(tmp)) as con:
            for i, part in enumerate(chunks(units)):
                started = time.perf_counter()
                quality = demo.qualities(units[part], years, seed=seed + 7919 * i)
                tables = demo._tables(np.random.default_rng([seed, 2, i]), units[part], years, quality)
                codes = np.array([u.code for u in units[part]], dtype=object)
                for name in demo.TABLES:
                    columns = tables.pop(name)
                    _offset_ids(columns, counts[name], entities_before)
                    _append(con, name, columns, codes, first=i == 0)
                    counts[name] += len(next(iter(columns.values())))
                entities_before += sum(u.entities for u in units[part])
                if echo:
                    echo(f"  units {part.start + 1}–{part.stop}: {time.perf_counter() - started:.1f} s")
            con.execute("CREATE TABLE demo_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.executemany("INSERT INTO demo_meta VALUES (?, ?)", [
                ("schema_version", str(demo.SCHEMA_VERSION)), ("seed", str(seed)),
                ("years", f"{years[0]}-{years[-1]}"), ("units", str(len(units))),
                ("entities", str(sum(u.entities for u in units)))])
            con.execute("CHECKPOINT")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return counts


def _offset_ids(columns: dict[str, np.ndarray], rows_before: int, entities_before: int) -> None:
    """Each chunk numbers its rows (entities) from 1: shift the ids past those already written."""
    for name, values in columns.items():
        if ID_COLUMN.fullmatch(name):
            values += entities_before if name == "entity_id" else rows_before


def _append(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray], codes: np.ndarray,
            *, first: bool) -> None:
    """demo's writer into a temporary table, then appended: one code path for the column types."""
    from jx_scheme_guangdong import demo

    if first:
        demo._write(con, name, columns, codes)
        return
    con.execute("ATTACH IF NOT EXISTS ':memory:' AS scratch")
    demo._write(con, "scratch._chunk", columns, codes)
    con.execute(f"INSERT INTO {name} SELECT * FROM scratch._chunk")
    con.execute("DROP TABLE scratch._chunk")


#: events a year per unit and kind of manual data counted per event (spot checks: files drawn)
EVENTS_PER_UNIT = {"spot_check": 3, "inspection": 3, "honour": 0.6, "major_case": 0.2, "discipline": 0.4}
#: entries per unit of a kind scored by its mean (mystery-shopper rounds, acceptances)
ROUNDS = {"mystery_shopper": 2, "acceptance": 1}


def synthetic_entries(scheme: Scheme, *, seed: int = 2010) -> dict[str, list]:
    """Manual entries (kind → NewEntry rows) that feed every ``manual`` indicator of ``scheme``.

    Each indicator gets entries matching its ``where`` (a value drawn from each listed field);
    kinds scored by a mean get :data:`ROUNDS` entries per unit and indicator, so every unit has
    data; counted kinds get a Poisson number (:data:`EVENTS_PER_UNIT`) spread over their
    indicators. Event codes (defects, findings, levels, severities) are drawn from the keys of the
    indicator's rule parameters (its ``deductions``, ``points_by_level`` …) that the checklist
    knows, so every event is one the rule scores. Arrays are drawn with numpy; only the rows'
    Python objects are built one by one.
    """
    from jx_collectors.manual.kinds import KINDS, checklist
    from jxcore.store.entries import NewEntry

    rng = np.random.default_rng([seed, 5, scheme.period.year])
    n = len(scheme.units)
    codes = np.array([str(u.code) for u in scheme.units], dtype=object)
    groups: dict[str, list[Node]] = {}
    for node in scheme.indicators():
        if node.collector is not None and node.collector.name == "manual":
            groups.setdefault(node.collector.params["kind"], []).append(node)
    first, last = scheme.period.start.toordinal(), scheme.period.end.toordinal() - 20
    out: dict[str, list] = {}
    for kind, nodes in sorted(groups.items()):
        spec = KINDS[kind]
        rows = []
        for k, node in enumerate(nodes):
            where = node.collector.params.get("where") or {}
            if kind in ROUNDS:
                unit = np.repeat(np.arange(n), ROUNDS[kind])
            else:
                unit = np.repeat(np.arange(n), rng.poisson(EVENTS_PER_UNIT.get(kind, 1) / len(nodes), n))
            m = len(unit)
            days = rng.integers(first, last + 1, m)
            columns: dict[str, list] = {}
            for col in spec.columns:
                if col.name in ("unit", "date"):
                    continue
                if col.name in where:
                    wanted = where[col.name]
                    choices = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
                    columns[col.name] = [choices[i] for i in rng.integers(len(choices), size=m)]
                elif col.type in ("code", "codes"):
                    known = sorted(set(checklist(scheme, col.checklist).values()))
                    scored = [c for c in _rule_keys(node) if c in known] or known
                    if col.type == "code":
                        columns[col.name] = [scored[i] for i in rng.integers(len(scored), size=m)]
                    else:  # a sheet with 0, 1 or 2 defects
                        picks = rng.integers(len(scored), size=(m, 2))
                        count = rng.choice(3, size=m, p=[0.7, 0.2, 0.1])
                        columns[col.name] = [sorted({scored[j] for j in p[:c]}) for p, c in zip(picks, count)]
                elif col.type == "text":
                    columns[col.name] = [f"{col.name}-{kind}-{k}-{i}" for i in range(m)]
                elif col.type == "integer":  # the round: 1, 2 … per unit
                    columns[col.name] = (np.arange(m) % ROUNDS.get(kind, 1) + 1).tolist()
                elif col.type == "number":
                    columns[col.name] = np.clip(rng.normal(82, 8, m), 0, 100).round(1).tolist()
                else:
                    columns[col.name] = (rng.random(m) < 0.8).tolist()
            names = list(columns)
            for u, day, values in zip(codes[unit].tolist(), days.tolist(), zip(*columns.values())):
                rows.append(NewEntry(u, dt.date.fromordinal(day), dict(zip(names, values))))
        out[kind] = rows
    return out


def _rule_keys(node: Node) -> list[str]:
    """The codes a rule's mapping parameters name (deductions, points_by_level …)."""
    params = node.rule.params if node.rule else {}
    return [str(key) for value in params.values() if isinstance(value, dict) for key in value]


def add_synthetic_entries(store, scheme: Scheme, *, seed: int = 2010, user: str = "scale") -> dict[str, int]:
    """Write :func:`synthetic_entries` into ``store``, one batch per kind, in one transaction."""
    made = synthetic_entries(scheme, seed=seed)
    with store.transaction() as tx:
        for kind, rows in made.items():
            tx.add_entries(scheme=scheme.name, period=scheme.period.year, kind=kind,
                           source_file=f"synthetic-{kind}.csv", source_sha256=f"{seed:064x}",
                           entered_by=user, rows=rows)
    return {kind: len(rows) for kind, rows in made.items()}


def copy_to_postgres(duckdb_path: Path, url: str, schema: str) -> None:
    """Copy every table of the DuckDB file into ``schema`` of a PostgreSQL database (COPY, in C)."""
    import duckdb
    import sqlalchemy as sa

    from jx_scheme_guangdong import demo

    engine = sa.create_engine(url)
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        raise UsageError(f"cannot write to {engine.url.render_as_string(hide_password=True)}",
                         hint="give a DuckDB file path or a postgresql+psycopg:// URL")
    types = {"BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision", "BOOLEAN": "boolean",
             "DATE": "date", "VARCHAR": "text"}
    quoted = '"' + schema.replace('"', '""') + '"'
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(duckdb_path), read_only=True) as src:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            for table in (*demo.TABLES, "demo_meta"):
                cols = src.execute(f"DESCRIBE {table}").fetchall()
                ddl = ", ".join(f"{c[0]} {types.get(c[1], 'text')}" for c in cols)
                cur.execute(f"DROP TABLE IF EXISTS {quoted}.{table}")
                cur.execute(f"CREATE TABLE {quoted}.{table} ({ddl})")
                csv = Path(tmp) / f"{table}.csv"
                src.execute(f"COPY {table} TO '{csv}' (HEADER false)")
                with csv.open("rb") as f, cur.copy(f"COPY {quoted}.{table} FROM STDIN (FORMAT csv)") as copy:
                    while block := f.read(1 << 20):
                        copy.write(block)
                csv.unlink()
                cur.execute(f"ANALYZE {quoted}.{table}")
            raw.commit()
        finally:
            raw.close()
            engine.dispose()


def export_parquet(duckdb_path: Path, out: Path, *, location: str | None = None,
                   database: str = "jx_business") -> dict[str, int]:
    """One Parquet file per business table under ``out/<table>/``, and ``out/register.sql``: the
    Spark SQL that registers them as external tables of ``database`` (read from ``location``, the
    URL where Spark sees ``out``: an hdfs:// or s3a:// copy, or by default ``out`` itself)."""
    import duckdb

    from jx_scheme_guangdong import demo

    out = Path(out).absolute()
    base = (location or out.as_uri()).rstrip("/")
    sql = [f"CREATE DATABASE IF NOT EXISTS {database};"]
    counts = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as src:
        for table in demo.TABLES:
            folder = out / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            src.execute(f"COPY {table} TO '{folder / (table + '.parquet')}' (FORMAT parquet)")
            counts[table] = src.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            sql += [f"DROP TABLE IF EXISTS {database}.{table};",
                    f"CREATE TABLE {database}.{table} USING parquet LOCATION '{base}/{table}';"]
    (out / "register.sql").write_text("\n".join(sql) + "\n", encoding="utf-8")
    return counts


def postgres_source_url(url: str, schema: str) -> str:
    """The URL a pack uses to read the tables in ``schema`` (search_path set at connect)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def write_pack(pack_dir: Path, units: Sequence[Unit], source_url: str, *, base: Path = PACK_DIR,
               outputs: Sequence[str] | None = None) -> Path:
    """A scheme pack at ``pack_dir``: ``base``'s scheme and plans, these units, the source at ``source_url``.

    ``outputs`` replaces every plan's outputs (e.g. only ``ranking`` for a national benchmark).
    """
    import yaml

    pack_dir = Path(pack_dir)
    pack_dir.mkdir(parents=True, exist_ok=True)
    scheme = yaml.safe_load((base / "scheme.yaml").read_text(encoding="utf-8"))
    scheme["name"] = pack_dir.name.lower().replace(".", "-") if re.fullmatch(r"[a-zA-Z0-9_.-]+", pack_dir.name) \
        else "scale"
    scheme["units"] = "units.csv"
    scheme["plans"] = "plans"
    scheme["sources"] = {"business": {"url": source_url}}
    (pack_dir / "scheme.yaml").write_text(yaml.safe_dump(scheme, allow_unicode=True, sort_keys=False),
                                          encoding="utf-8")
    write_units_csv(pack_dir / "units.csv", units)
    plans = pack_dir / "plans"
    shutil.rmtree(plans, ignore_errors=True)
    shutil.copytree(base / scheme_plans(base), plans)
    if outputs is not None:
        for plan in plans.glob("*.yaml"):
            data = yaml.safe_load(plan.read_text(encoding="utf-8"))
            data["outputs"] = list(outputs)
            plan.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return pack_dir


def scheme_plans(base: Path) -> str:
    import yaml

    return yaml.safe_load((base / "scheme.yaml").read_text(encoding="utf-8")).get("plans", "plans")


def write_units_csv(path: Path, units: Sequence[Unit]) -> None:
    lines = ["code,name,staff,entities"] + [f"{u.code},{u.name},{u.staff},{u.entities}" for u in units]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _years(text: str) -> list[int]:
    first, _, last = text.partition("-")
    try:
        return list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a year or a range like 2007-2010") from None


@click.group("demo")
def demo_group():
    """Demo and benchmark data."""


@demo_group.command("generate")
@click.option("--units", "n_units", type=click.IntRange(min=1), required=True, help="Number of units.")
@click.option("--entities", type=click.IntRange(min=1), required=True, help="Market entities in all.")
@click.option("--seed", type=int, default=2010, show_default=True)
@click.option("--years", default="2010", show_default=True, help="A year or a range, e.g. 2007-2010.")
@click.option("--out", default="jx-scale.duckdb", show_default=True, metavar="PATH|URL",
              help="A DuckDB file, or a postgresql+psycopg:// URL (the tables go into --schema).")
@click.option("--schema", default="jx_scale", show_default=True, help="PostgreSQL schema for the tables.")
@click.option("--pack", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a scheme pack here that reads the generated tables.")
def generate_command(n_units, entities, seed, years, out, schema, pack):
    """Write a synthetic business system of any size (the tables the guangdong plans read)."""
    to_postgres = "://" in out
    if not to_postgres:
        output_dir(Path(out).absolute().parent, "--out")
    if pack:
        output_dir(pack, "--pack")
    units = synthetic_units(n_units, entities, seed=seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.duckdb" if to_postgres else Path(out)
        counts = generate(path, units, years=_years(years), seed=seed, echo=click.echo)
        if to_postgres:
            copy_to_postgres(path, out, schema)
    where = f"{out} (schema {schema})" if to_postgres else str(Path(out).absolute())
    click.echo(f"wrote {sum(counts.values()):,} rows for {n_units:,} units to {where} "
               f"in {time.perf_counter() - started:.1f} s: "
               + ", ".join(f"{t} {c:,}" for t, c in counts.items()))
    if pack:
        url = postgres_source_url(out, schema) if to_postgres else f"duckdb:///{Path(out).absolute()}"
        write_pack(pack, units, url)
        click.echo(f"wrote scheme pack {pack}: jx run --scheme {pack}")


@demo_group.command("export")
@click.option("--parquet", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for one Parquet file per table and register.sql.")
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A DuckDB file from `jx demo generate` (default: the guangdong demo database).")
@click.option("--database", default="jx_business", show_default=True,
              help="The Spark database register.sql creates the tables in.")
@click.option("--location", metavar="URL",
              help="Where Spark reads the directory from (hdfs://…, s3a://…); default the directory itself.")
def export_command(out, source, database, location):
    """Write the business tables as Parquet, with the Spark SQL that registers them."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        raise UsageError(f"--database {database!r} is not a plain name", hint="use letters, digits and _")
    if source is None:
        from jx_scheme_guangdong import DEMO_URL, demo
        from jxcore.cli_kit import app
        from jxcore.config import expand
        from jxcore.services import open_scheme

        source = Path(expand(DEMO_URL).removeprefix("duckdb:///"))
        demo.ensure(source, open_scheme(app().registry, "guangdong").units)
    output_dir(out, "--parquet")
    started = time.perf_counter()
    counts = export_parquet(source, out, location=location, database=database)
    click.echo(f"wrote {sum(counts.values()):,} rows of {len(counts)} tables to {Path(out).absolute()} "
               f"in {time.perf_counter() - started:.1f} s; register them in Spark with "
               f"{Path(out).absolute() / 'register.sql'}")
