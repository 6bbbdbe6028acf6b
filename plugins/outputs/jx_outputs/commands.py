"""``jx report`` and ``jx explain``, added to the ``jx`` command line by this plugin.

Both read a stored run (the latest of the scheme's period, or ``--run ID``) and the scheme's plan
of that period, and recompute the applications from them: no extra tables in the store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from jxcore.cli_kit import app, period_option, scheme_option
from jxcore.cli_kit import console as jx_console

run_option = click.option("--run", "run_id", metavar="ID",
                          help="A stored run's id (default: the latest run of the period).")
db_option = click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")


def stored_view(scheme_name: str, period: int | None, run_id: str | None, db: str | None):
    """(store, view) of the asked run, read with the plan that scored it (jxcore.services)."""
    from jxcore import services
    from jxcore.store import Store

    registry = app().registry
    opened = services.open_scheme(registry, scheme_name, period)
    store = Store.open(db)
    try:
        view = services.stored_view(store, registry, opened, period, run_id=run_id)
    except BaseException:
        store.close()
        raise
    if view.plan_differs:
        click.secho(f"note: run {view.run_id} was scored with a plan that differs from the installed "
                    f"{view.scheme.name} {view.scheme.period.year} plan; shown with its own plan", fg="yellow",
                    err=True)
    return store, view


def register(cli: click.Group) -> None:
    @cli.command()
    @scheme_option
    @period_option
    @click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Directory for the workbook and the site (created if missing).")
    @run_option
    @db_option
    @click.option("--wide", is_flag=True, help="Print a column per major item in the ranking.")
    @click.option("--all", "all_units", is_flag=True, help="Print every unit, not only the top 10.")
    @click.option("--unit", "unit", metavar="CODE", help="Also print this unit's row, marked.")
    def report(scheme: str, period: int | None, out: Path, run_id: str | None, db: str | None, wide: bool,
               all_units: bool, unit: str | None) -> None:
        """Write the Excel workbook and the 绩效之窗 HTML site of a stored run, and print the top of the ranking."""
        from jx_outputs.outputs import move_in, print_leaderboard, stage_reports
        from jx_outputs.report import Report

        store, view = stored_view(scheme, period, run_id, db)
        console = jx_console()
        try:
            rep = Report(view, store)
            if unit:
                view.unit_position(unit)  # an unknown unit is refused before anything is written
            staging, index, book = stage_reports(rep, out, f"{view.run_id}-{os.getpid()}", console,
                                                 hint="give --out a directory you may write")
            move_in(staging, out)
            print_leaderboard(console, rep, wide=wide, all=all_units, highlight=unit)
        finally:
            store.close()
        click.echo(f"site: {index}")
        click.echo(f"workbook: {book}")

    @cli.command()
    @scheme_option
    @period_option
    @click.option("--unit", "unit", required=True, metavar="CODE", help="The unit's code, e.g. humen.")
    @click.option("--node", "node", metavar="CODE", help="Explain only this item, sub-item or indicator.")
    @run_option
    @db_option
    @click.option("--rows", "rows", type=click.IntRange(min=0), default=20, show_default=True, metavar="N",
                  help="Source rows or entries shown per indicator (0: none, and no source is read).")
    @click.option("--sql", is_flag=True, help="Also print the query each measure came from.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
    def explain(scheme: str, period: int | None, unit: str, node: str | None, run_id: str | None,
                db: str | None, rows: int, sql: bool, as_json: bool) -> None:
        """Show how a unit earned or lost every point: down to each measure, rule, source and source rows."""
        from jx_outputs.explain import explain_unit, render_text
        from jxcore.engine import SourceOpener
        from jxcore.services import source_rows

        registry = app().registry
        store, view = stored_view(scheme, period, run_id, db)
        rules = registry.rules

        def describe(name: str) -> str:
            return rules[name].obj.description if name in rules else ""

        try:
            with SourceOpener(view.scheme, registry) as opener:
                doc = explain_unit(view, unit, node, describe,
                                   source_rows(view, registry, store, opener, unit, rows) if rows else None)
        finally:
            store.close()
        if as_json:
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(render_text(doc, view.language, sql=sql))
