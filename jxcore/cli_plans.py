"""``jx plan …``: plan versions, consultation, approval, diffs, what-if and lint (docs/plans.md).

Thin: every command parses, calls jxcore.services.plans / plan_analysis and prints. A plan is
named ``YEAR`` (the period's published version, else its newest) or ``YEARvN`` (version N).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from jxcore.cli_kit import (
    DateType,
    acting_user,
    as_option,
    console,
    scheme_option,
    with_store,
)

REF = click.argument("ref", metavar="YEAR[vN]")


def _workbook_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """``--xlsx FILE``: a trailing ``/`` names a directory, and would have written a file named like it."""
    if value is not None and value.endswith(("/", os.sep)):
        raise click.BadParameter(f"{value!r} names a directory; give a file name, e.g. {value}plan.xlsx")
    return None if value is None else Path(value)


def xlsx_option(help: str) -> Any:
    """The ``--xlsx FILE`` option of the commands that also write a workbook."""
    return click.option("--xlsx", type=click.Path(dir_okay=False), callback=_workbook_file, metavar="FILE",
                        help=help)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}"


def _points(milli: int | None) -> str:
    from jxcore.points import format_points

    return "—" if milli is None else format_points(milli)


def _version(store: Any, registry: Any, scheme: str, ref: str):
    from jxcore.services import plans

    period, number = plans.parse_ref(ref)
    return plans.get_version(store, plans.pack_name(registry, scheme), period, number)


def _said(version: Any) -> str:
    return f"plan {version.scheme} {version.label}: {version.state.value}"


@click.group("plan")
def plan_group() -> None:
    """Plan versions: draft, consult the branches, approve, publish; diff, what-if, lint."""


@plan_group.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@scheme_option
@as_option
@with_store
def import_command(file: Path | None, scheme: str, user: str | None, store: Any, registry: Any) -> None:
    """Import a plan file as a new draft, or (no FILE) the pack's plans as the published record."""
    from jxcore.services import plans

    if file is not None:
        version = plans.import_file(store, registry, scheme, file, user=acting_user(user))
        click.echo(f"{_said(version)} (version {version.number}, from {file})")
        return
    for done in plans.import_pack(store, registry, scheme, user=acting_user(user)):
        click.echo(f"{_said(done.version)}: {done.note}")


@plan_group.command("new")
@click.argument("year", type=int)
@click.option("--from", "source", required=True, metavar="YEAR[vN]",
              help="The version to start from: last year's plan, or this year's for a mid-year change.")
@scheme_option
@as_option
@with_store
def new_command(year: int, source: str, scheme: str, user: str | None, store: Any, registry: Any) -> None:
    """Start a draft of YEAR from another version (renumbered to YEAR)."""
    from jxcore.services import plans

    version = plans.new_version(store, registry, scheme, year, source=source, user=acting_user(user))
    click.echo(f"{_said(version)} ({version.origin})")


@plan_group.command("export")
@REF
@scheme_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plan file here (default: print it).")
@click.option("--pack", "pack_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write a whole pack directory (scheme.yaml, units.yaml, plans/YEAR.yaml) instead.")
@with_store
def export_command(ref: str, scheme: str, out: Path | None, pack_dir: Path | None, store: Any, registry: Any) -> None:
    """Export a version as YAML that loads back into the same plan (same digest)."""
    from jxcore.services import plans

    version = _version(store, registry, scheme, ref)
    if pack_dir is not None:
        click.echo(f"wrote {plans.export_pack(version, pack_dir)} ({_said(version)})")
    elif out is not None:
        out.write_text(plans.export_yaml(version), encoding="utf-8")
        click.echo(f"wrote {out} ({_said(version)})")
    else:
        click.echo(plans.export_yaml(version), nl=False)


@plan_group.command("list")
@scheme_option
@click.option("--period", type=int, metavar="YEAR", help="Only this year's versions.")
@with_store
def list_command(scheme: str, period: int | None, store: Any, registry: Any) -> None:
    """List the stored versions with their state, digest and origin."""
    from jxcore.services import plans

    found = plans.versions(store, plans.pack_name(registry, scheme), period)
    if not found:
        click.echo(f"no plan versions yet (jx plan import --scheme {scheme})")
    for v in found:
        parent = f"from v{v.parent}" if v.parent else "-"
        click.echo(f"{v.label}\t{v.state.value}\t{v.digest[:12]}\t{parent}\t{v.created_by}\t"
                   f"{v.created_at:%Y-%m-%d %H:%M} UTC\t{v.origin}")


@plan_group.command("show")
@REF
@scheme_option
@with_store
def show_command(ref: str, scheme: str, store: Any, registry: Any) -> None:
    """A version's record: transitions (who, when, why, meeting and minutes), comments and answers."""
    from jxcore.services import plans

    record = plans.record(store, _version(store, registry, scheme, ref))
    v = record.version
    click.echo(f"{_said(v)}\ndigest {v.digest}\norigin {v.origin}\n"
               f"made by {v.created_by} at {v.created_at:%Y-%m-%d %H:%M} UTC")
    for t in record.transitions:
        minutes = f" [{t.meeting}; {t.minutes_ref}]" if t.meeting else ""
        click.echo(f"  {t.at:%Y-%m-%d %H:%M}  {t.from_state.value if t.from_state else '—'} → {t.to_state.value}"
                   f"  by {t.by}{minutes}" + (f": {t.reason}" if t.reason else ""))
    for c in record.comments:
        who = f"{c.by}" + (f" ({c.unit})" if c.unit else "")
        head = f"    ↳ answer to #{c.answers}" if c.answers else f"  #{c.id} on {c.node}"
        click.echo(f"{head} by {who} at {c.at:%Y-%m-%d %H:%M}: {c.text}")
    for p in plans.check_document(registry, v):
        click.echo(f"problem: {p}")


@plan_group.command("submit")
@REF
@scheme_option
@click.option("--reason", metavar="TEXT")
@as_option
@with_store
def submit_command(ref: str, scheme: str, reason: str | None, user: str | None, store: Any, registry: Any) -> None:
    """Send a draft to the branches for comments (征求意见)."""
    from jxcore.services import plans

    version = _version(store, registry, scheme, ref)
    click.echo(_said(plans.submit(store, version, user=acting_user(user), reason=reason)))


@plan_group.command("comment")
@REF
@click.argument("node")
@click.argument("text")
@scheme_option
@as_option
@with_store
def comment_command(ref: str, node: str, text: str, scheme: str, user: str | None, store: Any, registry: Any) -> None:
    """A branch's comment on NODE (the plan's root code: the whole plan) while in consultation."""
    from jxcore.services import plans

    done = plans.comment(store, _version(store, registry, scheme, ref), node, text, user=acting_user(user))
    click.echo(f"comment #{done.id} on {done.node}")


@plan_group.command("answer")
@REF
@click.argument("comment_id", type=int)
@click.argument("text")
@scheme_option
@as_option
@with_store
def answer_command(ref: str, comment_id: int, text: str, scheme: str, user: str | None, store: Any,
                   registry: Any) -> None:
    """The drafting section's answer to comment COMMENT_ID."""
    from jxcore.services import plans

    done = plans.answer(store, _version(store, registry, scheme, ref), comment_id, text, user=acting_user(user))
    click.echo(f"answer #{done.id} to comment #{comment_id}")


@plan_group.command("approve")
@REF
@scheme_option
@click.option("--meeting", required=True, metavar="TEXT", help="The bureau meeting that decided (局务会议).")
@click.option("--minutes", "minutes_ref", required=True, metavar="REF", help="The minutes' reference (会议纪要).")
@click.option("--reason", metavar="TEXT")
@as_option
@with_store
def approve_command(ref: str, scheme: str, meeting: str, minutes_ref: str, reason: str | None, user: str | None,
                    store: Any, registry: Any) -> None:
    """Record the bureau meeting's approval (an admin's act)."""
    from jxcore.services import plans

    click.echo(_said(plans.approve(store, _version(store, registry, scheme, ref), user=acting_user(user),
                                   meeting=meeting, minutes_ref=minutes_ref, reason=reason)))


@plan_group.command("publish")
@REF
@scheme_option
@click.option("--reason", metavar="TEXT")
@as_option
@with_store
def publish_command(ref: str, scheme: str, reason: str | None, user: str | None, store: Any, registry: Any) -> None:
    """Put an approved version in force (the published one of its year is superseded)."""
    from jxcore.services import plans

    click.echo(_said(plans.publish(store, _version(store, registry, scheme, ref), user=acting_user(user),
                                   reason=reason)))


@plan_group.command("run")
@REF
@scheme_option
@click.option("--as-of", "as_of", type=DateType(), help="Score as of this date (default today, inside the period).")
@click.option("--final", is_flag=True, help="Mark the run as the period's final result (an admin's act).")
@as_option
@with_store
def run_command(ref: str, scheme: str, as_of: dt.date | None, final: bool, user: str | None, store: Any,
                registry: Any) -> None:
    """Score with a published version (a mid-year change in force) and store the run."""
    from jxcore.services import plans

    version = _version(store, registry, scheme, ref)
    result = plans.run_version(store, registry, version, as_of=as_of, final=final, actor=acting_user(user),
                               console=console())
    click.echo(f"run {result.run.id}: {version.scheme} {version.label} as of {result.run.as_of}")


@plan_group.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@scheme_option
@click.option("--all", "show_all", is_flag=True, help="Every node, not only the items and what changed.")
@xlsx_option("Also write the diff as a workbook.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@with_store
def diff_command(a: str, b: str, scheme: str, show_all: bool, xlsx: Path | None, as_json: bool, store: Any,
                 registry: Any) -> None:
    """Compare two plans (YEAR or YEARvN): nodes added, removed, moved, renamed; points, weights, rules,
    parameters; each node's effective weight (share of the variance of last year's final totals)."""
    import attrs

    from jxcore.services import plan_analysis

    result = plan_analysis.diff_refs(store, registry, scheme, a, b)
    if xlsx is not None:
        plan_analysis.diff_workbook(result, xlsx)
    if as_json:
        click.echo(json.dumps({"a": result.a_label, "b": result.b_label, "reference": result.reference,
                               "plan": list(result.plan), "nodes": [attrs.asdict(n) for n in result.nodes]},
                              ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table("node", "name", "change", f"points {result.a_label} → {result.b_label}",
                  "weight %", "effective %", "details",
                  title=f"{scheme}: {result.a_label} → {result.b_label}")
    for n in result.nodes:
        if not (show_all or n.changes or n.depth == 1):
            continue
        weight = (f"{_pct(n.share_a)} → {_pct(n.share_b)}" if n.scoring == "weighted"
                  else f"cap {_points(n.cap_a)} → {_points(n.cap_b)}")
        table.add_row("  " * max(n.depth - 1, 0) + n.code, n.name, ", ".join(n.changes),
                      f"{_points(n.points_a)} → {_points(n.points_b)}", weight, _pct(n.effective),
                      "; ".join(n.details))
    out = console()
    out.print(table)
    counts = ", ".join(f"{result.count(k)} {k}" for k in ("added", "removed", "moved", "renamed", "points", "rule",
                                                           "collector") if result.count(k))
    click.echo(f"{counts or 'no node changed'}" + "".join(f"\nplan: {line}" for line in result.plan))
    click.echo(f"effective weights: {result.reference}" if result.reference else
               "effective weights: no final run before these years in the store (jx run --final)")
    if xlsx is not None:
        click.echo(f"wrote {xlsx}")


@plan_group.command("whatif")
@REF
@scheme_option
@click.option("--data", type=click.Choice(["to-date", "last-year"]), default="to-date", show_default=True,
              help="This year's data to date, or last year's final data (the draft renumbered to that year).")
@click.option("--beside", metavar="YEAR[vN]", help="The plan to compare with (default: the one in force).")
@click.option("--as-of", "as_of", type=DateType(), help="Score as of this date.")
@click.option("--all", "show_all", is_flag=True, help="Every unit, not only those whose status changes.")
@xlsx_option("Also write a workbook.")
@with_store
def whatif_command(ref: str, scheme: str, data: str, beside: str | None, as_of: dt.date | None, show_all: bool,
                   xlsx: Path | None, store: Any, registry: Any) -> None:
    """Score a draft beside the plan in force on the same data: totals, ranks, status changes and the
    indicators that moved each unit. Nothing is stored."""
    from rich.table import Table

    from jxcore.services import plan_analysis

    result = plan_analysis.whatif_for(store, registry, scheme, ref, data=data, baseline_ref=beside, as_of=as_of)
    if xlsx is not None:
        plan_analysis.whatif_workbook(result, xlsx)
    table = Table("unit", f"{result.baseline_label}", "rank", f"{result.draft_label}", "rank", "gains", "loses",
                  "moved by", title=f"what-if as of {result.as_of}")
    for u in result.units:
        if not (show_all or u.gained or u.lost):
            continue
        table.add_row(f"{u.code} {u.name}", _points(u.total_before), str(u.rank_before), _points(u.total_after),
                      str(u.rank_after), ", ".join(u.gained), ", ".join(u.lost),
                      "; ".join(f"{c} {'+' if d > 0 else ''}{_points(d)}" for c, d in u.movers))
    console().print(table)
    moved = sum(u.rank_before != u.rank_after for u in result.units)
    click.echo(f"{len(result.changed_status())} units change status ({', '.join(result.statuses) or 'no statuses'}); "
               f"{moved} of {len(result.units)} change rank")
    if xlsx is not None:
        click.echo(f"wrote {xlsx}")


@plan_group.command("lint")
@REF
@scheme_option
@click.option("--max-indicators", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--max-item-share", type=click.FloatRange(0, 1, min_open=True), default=0.35, show_default=True,
              help="The largest share of the scale one item may hold.")
@click.option("--same-score", "same_score", type=click.FloatRange(0, 1, min_open=True), default=0.9,
              show_default=True,
              help="An indicator on which this share of units scored the same did not separate them.")
@with_store
def lint_command(ref: str, scheme: str, max_indicators: int, max_item_share: float, same_score: float, store: Any,
                 registry: Any) -> None:
    """Warnings about a plan, each naming the node and the lecture's reason (exit 0)."""
    from jxcore.services import plan_analysis

    found = plan_analysis.lint_ref(store, registry, scheme, ref, max_indicators=max_indicators,
                           max_item_share=max_item_share, same_score_share=same_score)
    for warning in found:
        click.echo(f"warning: {warning}")
    click.echo(f"{len(found)} warnings")
