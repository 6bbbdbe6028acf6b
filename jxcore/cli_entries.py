"""``jx import`` and ``jx entry``: manual entries from files or one at a time, corrections,
withdrawals, and their history (docs/imports.md). Thin: parse, call jxcore.services, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from jxcore.cli_kit import acting_user, as_option, progress_line, with_scheme


def _fed(report: Any) -> str:
    if not report.feeds:
        return ""
    return "; counts in " + ", ".join(f"{code} ({n})" for code, n in sorted(report.feeds.items()))


@click.command("import")
@click.argument("kind", required=False)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@with_scheme
@click.option("--sheet", metavar="NAME", help="The XLSX sheet to read (default the first).")
@click.option("--preview", is_flag=True, help="Check everything and show what would be stored; store nothing.")
@click.option("--withdraw", "withdraw_batch", metavar="BATCH",
              help="Instead of importing, withdraw every live entry of this batch (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why the batch is withdrawn.")
@as_option
def import_command(kind: str | None, file: Path | None, scheme: Any, store: Any, registry: Any, sheet: str | None,
                   preview: bool, withdraw_batch: str | None, reason: str | None, user: str | None) -> None:
    """Import one CSV or XLSX file of manual data of KIND (all rows or, on any problem, none).

    Rows may correct earlier entries with the optional columns `supersedes` (the entry's id) and
    `reason`. The kinds and their columns are in docs/imports.md (`jx entry kinds` lists the kinds).
    """
    from jxcore import services

    who = acting_user(user)
    if withdraw_batch:
        if kind or file:
            from jxcore.errors import UsageError

            raise UsageError("--withdraw takes no KIND or FILE", hint="jx import --withdraw BATCH --reason TEXT")
        done = services.withdraw(store, registry, scheme, batch_id=withdraw_batch, reason=reason or "", user=who)
        click.echo(f"withdrew {len(done.entry_ids)} entries of batch {withdraw_batch} as {who}{_fed(done)}")
        return
    if not kind or not file:
        from jxcore.errors import UsageError

        raise UsageError("give KIND and FILE", hint="e.g. jx import inspection findings.xlsx --scheme guangdong")
    steps = {"checked": "checked {rows:,} rows of {file}",
             "storing": "storing {rows:,} entries of {file} (entries, indexes, audit chain)"}
    with progress_line("reading {file}", steps, file=file.name) as progress:
        report = services.import_file(store, registry, scheme, kind, file, user=who, sheet=sheet, preview=preview,
                                      progress=progress)
    if report.encoding and report.encoding.upper() not in ("UTF-8", "UTF-8-SIG"):
        click.echo(f"note: {report.file} was read as {report.encoding}")
    verb = "would import" if preview else "imported"
    click.echo(f"{verb} {report.rows} rows of {report.kind} from {report.file} (sha256 {report.sha256}) as "
               f"{report.user}, {len(report.units)} units{_fed(report)}")
    if report.batch_id:
        click.echo(f"batch {report.batch_id}, entries #{report.entry_ids[0]}…#{report.entry_ids[-1]}")


@click.group("entry")
def entry_group() -> None:
    """Single manual entries: add, correct, withdraw, list, show their history."""


@entry_group.command("add")
@click.argument("kind")
@click.argument("fields", nargs=-1, required=True, metavar="COLUMN=VALUE...")
@with_scheme
@click.option("--supersedes", type=int, metavar="ID", help="The entry this one corrects (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why the superseded entry is corrected.")
@click.option("--preview", is_flag=True, help="Check and show what the entry would count in; store nothing.")
@as_option
def entry_add(kind: str, fields: tuple[str, ...], scheme: Any, store: Any, registry: Any, supersedes: int | None,
              reason: str | None, preview: bool, user: str | None) -> None:
    """Enter one record, e.g. `jx entry add inspection date=2010-03-01 unit=虎门 finding=absent inspector=张三`."""
    from jxcore import services

    values = {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{field!r} is not COLUMN=VALUE", param_hint="FIELDS")
        values[name.strip()] = value
    report = services.enter(store, registry, scheme, kind, values, user=acting_user(user), supersedes=supersedes,
                            reason=reason, preview=preview)
    if preview:
        click.echo(f"would enter {report.kind} for {', '.join(report.units)}{_fed(report)}")
        return
    click.echo(f"entered {report.kind} #{report.entry_ids[0]} as {report.user}"
               + (f", superseding #{supersedes}" if supersedes else "") + _fed(report))


@entry_group.command("withdraw")
@click.argument("ids", nargs=-1, type=int, metavar="ID...")
@with_scheme
@click.option("--batch", "batch_id", metavar="BATCH", help="Withdraw every live entry of this batch instead.")
@click.option("--reason", metavar="TEXT", required=True, help="Why (kept in the record).")
@as_option
def entry_withdraw(ids: tuple[int, ...], scheme: Any, store: Any, registry: Any, batch_id: str | None, reason: str,
                   user: str | None) -> None:
    """Withdraw entries (or a whole batch): they stop counting; the record keeps them and why."""
    from jxcore import services

    if bool(ids) == bool(batch_id):
        from jxcore.errors import UsageError

        raise UsageError("give entry ids or --batch BATCH (one of them)", hint="jx entry list shows ids and batches")
    done = services.withdraw(store, registry, scheme, ids, batch_id=batch_id, reason=reason, user=acting_user(user))
    click.echo(f"withdrew {len(done.entry_ids)} entries ({', '.join(f'#{i}' for i in done.entry_ids[:20])}"
               f"{' …' if len(done.entry_ids) > 20 else ''}){_fed(done)}")


@entry_group.command("list")
@with_scheme
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only these kinds.")
@click.option("--unit", metavar="CODE", help="Only this unit's entries.")
@click.option("--all", "include_dead", is_flag=True, help="Also superseded and withdrawn entries.")
def entry_list(scheme: Any, store: Any, registry: Any, kinds: tuple[str, ...], unit: str | None,
               include_dead: bool) -> None:
    """List the period's entries (id, kind, date, unit, fields, file:row, who)."""
    from jxcore import services
    from jxcore.errors import UsageError

    known = services.entry_kinds(registry)
    unknown = [k for k in kinds if k not in known]
    if unknown:  # a mistyped filter would list nothing, as if there were no entries
        raise UsageError(f"unknown entry kind {unknown[0]!r}", hint="the kinds are: " + ", ".join(sorted(known)))
    if unit is not None:
        scheme.check_unit(unit)
    for e in services.list_entries(store, scheme, kinds=kinds or None, unit=unit, include_dead=include_dead):
        fields = " ".join(f"{k}={v}" for k, v in e.payload.items() if v not in (None, "", []))
        where = f"{e.source_file}:{e.source_row}" if e.source_row else e.source_file
        click.echo(f"#{e.id}\t{e.kind}\t{e.entry_date}\t{e.unit_code}\t{fields}\t{where}\t{e.entered_by}")


@entry_group.command("batches")
@with_scheme
def entry_batches(scheme: Any, store: Any, registry: Any) -> None:
    """List the period's batches: imported files and single entries."""
    from jxcore import services

    for b in services.batches(store, scheme):
        click.echo(f"{b.id}\t{b.kind}\t{b.row_count} rows\t{b.source_file}\t{b.entered_by}\t"
                   f"{b.entered_at:%Y-%m-%d %H:%M}")


@entry_group.command("show")
@click.argument("entry_id", type=int, metavar="ID")
@with_scheme
def entry_show(entry_id: int, scheme: Any, store: Any, registry: Any) -> None:
    """One entry's history: who entered it, when, from which file and row, what it corrected, what
    superseded or withdrew it."""
    from jxcore import services

    h = services.entry_history(store, entry_id)
    e = h.entry
    click.echo(f"#{e.id} {e.kind} {e.entry_date} {e.unit_code} "
               + " ".join(f"{k}={v}" for k, v in e.payload.items() if v not in (None, "", [])))
    click.echo(f"entered by {e.entered_by} at {e.entered_at:%Y-%m-%d %H:%M} UTC from {e.source_file}"
               + (f" row {e.source_row}" if e.source_row else "") + f" (batch {e.batch_id})")
    if h.supersedes:
        click.echo(f"corrects #{h.supersedes.id}: {e.reason}")
    if h.superseded_by:
        click.echo(f"superseded by #{h.superseded_by.id} ({h.superseded_by.entered_by}): {h.superseded_by.reason}")
    if h.withdrawn:
        click.echo(f"withdrawn by {h.withdrawn.by_user} at {h.withdrawn.at:%Y-%m-%d %H:%M} UTC: {h.withdrawn.reason}")
    click.echo("counts: " + ("yes" if h.live else "no"))


@entry_group.command("kinds")
def entry_kinds() -> None:
    """The kinds of entries the installed collectors read."""
    from jxcore import services
    from jxcore.cli_kit import app

    for kind, (collector, title) in sorted(services.entry_kinds(app().registry).items()):
        click.echo(f"{kind}\t{title}\t(collector {collector})")
