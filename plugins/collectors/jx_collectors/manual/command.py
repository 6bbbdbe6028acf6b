"""``jx import KIND FILE``: check one CSV/XLSX file and store its rows as manual entries."""

from __future__ import annotations

from pathlib import Path

import click

from jx_collectors.manual.importer import describe, enter_one, import_file
from jx_collectors.manual.kinds import KINDS


@click.command("import", epilog="Kinds and their columns (? = optional):\n\n" + describe().replace("\n", "\n\n"))
@click.argument("kind", type=click.Choice(tuple(KINDS)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scheme", "scheme", required=True, metavar="NAME|PATH",
              help="An installed scheme pack's name (see `jx schemes`) or a pack directory.")
@click.option("--period", type=int, metavar="YEAR", help="The plan's year; default the latest.")
@click.option("--sheet", metavar="NAME", help="The XLSX sheet to read (default the first).")
@click.option("--as", "user", metavar="NAME", help="Who imports (default JX_USER, else the OS user).")
@click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
def import_command(kind: str, file: Path, scheme: str, period: int | None, sheet: str | None,
                   user: str | None, db: str | None) -> None:
    """Import one CSV or XLSX file of manual data (all rows or, on any problem, none)."""
    from jxcore.cli import app
    from jxcore.store import Store

    loaded = app().load(scheme, period)
    with Store.open(db) as store:
        report = import_file(store, loaded, kind, file, user=user, sheet=sheet)
    if report.encoding == "GBK":
        click.echo(f"note: {report.file} was read as GBK (GB18030)")
    click.echo(f"imported {report.rows} rows of {report.kind} from {report.file} "
               f"(sha256 {report.sha256}) as {report.user}")


@click.group("entry")
def entry_command() -> None:
    """Single manual entries (one inspection finding, one correction)."""


@entry_command.command("add", epilog="Kinds and their columns (? = optional):\n\n" + describe().replace("\n", "\n\n"))
@click.argument("kind", type=click.Choice(tuple(KINDS)))
@click.argument("fields", nargs=-1, required=True, metavar="COLUMN=VALUE...")
@click.option("--scheme", "scheme", required=True, metavar="NAME|PATH",
              help="An installed scheme pack's name (see `jx schemes`) or a pack directory.")
@click.option("--period", type=int, metavar="YEAR", help="The plan's year; default the latest.")
@click.option("--supersedes", type=int, metavar="ID", help="The entry this one corrects (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why the superseded entry is corrected.")
@click.option("--as", "user", metavar="NAME", help="Who enters (default JX_USER, else the OS user).")
@click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
def entry_add(kind: str, fields: tuple[str, ...], scheme: str, period: int | None, supersedes: int | None,
              reason: str | None, user: str | None, db: str | None) -> None:
    """Enter one record, e.g. `jx entry add inspection date=2010-03-01 unit=虎门 finding=absent inspector=张三`."""
    from jxcore.cli import app
    from jxcore.store import Store

    values = {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{field!r} is not COLUMN=VALUE", param_hint="FIELDS")
        values[name.strip()] = value
    loaded = app().load(scheme, period)
    with Store.open(db) as store:
        report = enter_one(store, loaded, kind, values, user=user, supersedes=supersedes, reason=reason)
        entry_id = store.entries(loaded.name, loaded.period.year, kinds=[kind])
    new = next((e.id for e in reversed(entry_id) if e.batch_id == report.batch_id), None)
    click.echo(f"entered {report.kind} #{new} as {report.user}"
               + (f", superseding #{supersedes}" if supersedes else ""))
