"""``jx import KIND FILE``: check one CSV/XLSX file and store its rows as manual entries."""

from __future__ import annotations

from pathlib import Path

import click

from jx_collectors.manual.importer import describe, import_file
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
