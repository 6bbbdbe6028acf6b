"""``jx evaluate``: the evaluation of one scheme period, printed, as JSON, or as a workbook."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jxcore.cli_kit import console, output_dir, with_scheme


def register(cli: click.Group) -> None:
    @cli.command()
    @with_scheme
    @click.option("--variations", type=click.IntRange(min=10), metavar="N",
                  help="Monte Carlo variations of the plan (default settings.evaluation.variations, 1000).")
    @click.option("--seed", type=click.IntRange(min=0), metavar="S",
                  help="Seed of the variations (default settings.evaluation.seed, 0); "
                       "the same seed gives the same numbers.")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                  help="Directory for the workbook evaluation-<scheme>-<year>.xlsx (created if missing).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
    def evaluate(scheme, store, registry, variations: int | None, seed: int | None, out: Path | None,
                 as_json: bool) -> None:
        """Evaluate a scored period: robustness of ranks and sanctions, fairness to size, the plan by its data."""
        from jx_evaluation.analysis import evaluate as run_evaluation
        from jx_evaluation.report import document, tables, write_workbook

        if out:
            output_dir(out, "--out")  # before minutes of variations, not after
        ev = run_evaluation(store, registry, scheme, variations=variations, seed=seed)
        book = write_workbook(ev, out / f"evaluation-{scheme.name}-{scheme.period.year}.xlsx") if out else None
        if as_json:
            doc = document(ev)
            doc["workbook"] = str(book) if book else None
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        _print(ev, tables(ev))
        if book:
            click.echo(f"workbook: {book}")


def _print(ev, tables) -> None:
    """The tables that answer "how robust is each decision, does size drive the ranking"."""
    from rich.table import Table as RichTable

    out = console()
    rb = ev.robustness
    click.echo(f"{ev.scheme.name} {ev.scheme.period.year}: run {ev.baseline.stored_run_id} as of "
               f"{ev.baseline.result.run.as_of}, {rb.variations} variations (seed {rb.seed}), "
               f"{len(rb.varied_indicators)} indicators with varied rules")
    if ev.baseline.plan_differs:
        click.echo("note: the installed plan differs from the one that scored this run; the evaluation "
                   "uses the run's own plan")
    if ev.baseline.drift:
        click.echo(f"note: {ev.baseline.drift} unit(s) score differently now than in the stored run "
                   "(entries changed since); the evaluation uses today's scores")
    if rb.missing_years:
        click.echo("note: no final result for " + ", ".join(map(str, rb.missing_years)) +
                   "; the leadership review cannot look back that far")
    for table in tables:
        if table.key not in ("robustness", "decisions", "sensitivity", "items"):
            continue
        shown = RichTable(*table.header, title=table.title)
        for row in table.rows:
            shown.add_row(*["" if v is None else str(v) for v in row])
        out.print(shown)
    f = ev.fairness
    click.echo(f"size explains {f.size_share:.0%} of the ranking (R² of ranks on log staff and log entities); "
               f"threshold {f.threshold:.0%}: {'FLAGGED' if f.flagged else 'not flagged'}")
