"""The ``jx`` command line (click).

Exit codes: 0 success, 1 a run failed, 2 bad input or usage. Errors are printed as
``error: <where>: <what> (<how to fix>)``; a traceback only with ``--debug``. Plugins add commands
through the ``jx_register_commands`` hook; a plugin that fails to load is reported and every other
command still works.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import sys
from typing import Any

import click

from jxcore import __version__
from jxcore.cli_kit import App, DateType, acting_user, app, as_option, period_option, scheme_option, with_scheme
from jxcore.cli_kit import console as jx_console
from jxcore.errors import JxError, UsageError
from jxcore.models import Scheme
from jxcore.plugins import JxPluginManager


class ExitCode(enum.IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2


class JxGroup(click.Group):
    """Adds plugin commands on first use; a plugin failing here is reported, not fatal.

    Commands are (re)added whenever a different plugin manager asks, so an embedding process (a
    test suite) that changes JX_PLUGINS between calls sees the commands of the plugins it has now.
    """

    _commands_of: JxPluginManager | None = None  # the plugin manager whose commands are added

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        pm = ctx.find_root().meta.setdefault("jx.app", App()).pm
        if self._commands_of is pm:
            return
        self._commands_of = pm
        for impl in pm.hook.jx_register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as exc:
                click.secho(f"Error: plugin {impl.plugin_name!r} failed to add its commands: "
                            f"{type(exc).__name__}: {exc}", fg="red", err=True)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=JxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="jx")
def cli(debug: bool) -> None:
    """jx: score grassroots units on an indicator tree, with plugins and scheme packs.

    Plugins: JX_DISABLE_PLUGIN_AUTOLOAD=1 loads none from entry points (JX_PLUGINS=module,… names
    some), JX_BLOCK_PLUGINS=name,… blocks named ones. Store: --db URL or JX_DATABASE_URL.
    """


@cli.command()
@with_scheme
@click.option("--as-of", "as_of", type=DateType(), help="Score as of this date (default today, inside the period).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--final", is_flag=True, help="Mark this run as the period's final result (an admin's act).")
@click.option("--all", "show_all", is_flag=True, help="Print every unit, not the top of the ranking.")
@click.option("--wide", is_flag=True, help="Also print a column per major item.")
@click.option("--unit", metavar="CODE", help="Also print this unit's row, marked.")
@as_option
def run(scheme: Scheme, store: Any, registry: Any, as_of: dt.date | None, as_json: bool, final: bool,
        show_all: bool, wide: bool, unit: str | None, user: str | None) -> None:
    """Score every unit of a scheme and store the run (replacing the same day's non-final run)."""
    from jxcore import services

    # Off a terminal (make demo piped, CI logs) rich would assume 80 columns and cut the table.
    display = {k: v for k, v in (("all", show_all), ("wide", wide), ("unit", unit)) if v}
    result = services.run(store, registry, scheme, as_of=as_of, final=final, actor=acting_user(user),
                          console=None if as_json else jx_console(wide), display=display)
    if as_json:
        view = services.RunView.from_result(result)
        click.echo(json.dumps(services.run_document(view), ensure_ascii=False, indent=2))
    else:
        click.echo(f"run {result.run.id}: {scheme.name} {scheme.period.year} as of {result.run.as_of}, "
                   f"{len(result.units)} units, {len(scheme.indicators())} indicators")


@cli.command()
@with_scheme
@click.option("--discard", "discard", metavar="RUN", help="Delete this non-final run instead of listing.")
@as_option
def runs(scheme: Scheme, store: Any, registry: Any, discard: str | None, user: str | None) -> None:
    """List the stored runs of a scheme's period (as-of date, final, plan digest), or discard one."""
    from jxcore import services

    if discard:
        gone = services.discard_run(store, discard, actor=acting_user(user))
        click.echo(f"discarded run {gone.id} ({gone.scheme} {gone.period} as of {gone.as_of})")
        return
    found = services.list_runs(store, scheme.name, scheme.period.year)
    if not found:
        click.echo(f"no runs of {scheme.name} {scheme.period.year} yet (jx run --scheme {scheme.name})")
    from jxcore.engine import scheme_digest
    from jxcore.services.plans import version_numbers

    mine = scheme_digest(scheme)
    versions = version_numbers(store, scheme.name, [r.scheme_digest for r in found])
    for r in found:
        plan = r.scheme_digest[:12] + (f" = {versions[r.scheme_digest]}" if r.scheme_digest in versions else "")
        plan += "" if r.scheme_digest == mine else " (not the installed plan)"
        click.echo(f"{r.id}\tas of {r.as_of}\t{'final' if r.final else 'daily'}\t"
                   f"{r.started_at:%Y-%m-%d %H:%M} UTC\t{r.actor or '-'}\tplan {plan}")


@cli.command()
@scheme_option
def validate(scheme: str) -> None:
    """Check every plan of a scheme pack and list every problem (exit 2 if any)."""
    from jxcore.scheme import check_pack, load_pack

    from jxcore.services import pack_path

    registry = app().registry
    path = pack_path(registry, scheme)
    warnings: list = []
    problems = check_pack(path, registry, warnings=warnings)
    for warning in warnings:  # valid, and probably not meant (docs/scheme-format.md)
        click.echo(f"warning: {warning}", err=True)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise click.exceptions.Exit(ExitCode.USAGE)
    pack = load_pack(path)
    click.echo(f"ok: scheme {pack.name}: plans {', '.join(map(str, pack.periods))} are valid")


@cli.command()
@scheme_option
@period_option
@click.option("--compare", is_flag=True,
              help="Instead of one tree, the major items' weights (share of the 100 %) in each year given "
                   "(default: every plan), e.g. --compare 2007 2008 2009 2010.")
@click.argument("years", nargs=-1, type=int)
def tree(scheme: str, period: int | None, compare: bool, years: tuple[int, ...]) -> None:
    """Show a plan's indicator tree with points, rules and collectors (or --compare years' weights)."""
    from rich.tree import Tree

    from jxcore.models import NodeKind
    from jxcore.points import format_points

    if years and not compare:
        raise UsageError(f"unexpected years {' '.join(map(str, years))}",
                         hint="give --period YEAR for one plan, or --compare YEAR... to compare the weights")
    from jxcore.services import open_scheme, pack_path

    registry = app().registry
    if compare:
        from jxcore.scheme import load_pack

        plans = [open_scheme(registry, scheme, year) for year in (years or load_pack(pack_path(registry, scheme)).periods)]
        jx_console().print(*_weight_tables(plans))
        return
    loaded = open_scheme(registry, scheme, period)

    def label(node) -> str:
        text = f"[bold]{node.code}[/] {node.name}  {format_points(node.points)}"
        if node.cap is not None:
            text += f" ({node.scoring.value}, cap {format_points(node.cap)})"
        if node.kind is NodeKind.INDICATOR:
            text += f"  [dim]rule {node.rule.name}, collector {node.collector.name}"
            text += f", {node.department}[/]" if node.department else "[/]"
        return text

    root = loaded.nodes[loaded.root]
    shown = Tree(label(root))

    def grow(branch, node) -> None:
        for child in loaded.children(node.code):
            grow(branch.add(label(child)), child)

    grow(shown, root)
    jx_console().print(shown)


def _weight_tables(plans: list[Scheme]) -> list[Any]:
    """The year-over-year table of weighted items (share of the 100 %, "—" where absent, a total
    row), then the items outside the 100 % with their caps: one view of the plan diff
    (jxcore.services.plan_analysis.weight_table)."""
    from decimal import Decimal

    from rich.table import Table

    from jxcore.points import format_points
    from jxcore.services.plan_analysis import weight_table

    def share(scale: int, points: int) -> str:
        text = f"{Decimal(points) * 100 / Decimal(scale):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    weights = weight_table(plans)
    tables = []
    for rows, weighted in ((weights.weighted, True), (weights.outside, False)):
        if not rows:
            continue
        title = "major items: share of the 100 %" if weighted else "outside the 100 %: cap in points"
        table = Table("item", *map(str, weights.years), title=title)
        for row in rows:
            cells = ["—" if milli is None else share(scale, milli) if weighted else
                     f"{'+' if scoring == 'reward' else '−'}{format_points(milli)}"
                     for milli, scoring, scale in zip(row.cells, row.scoring, weights.scales)]
            table.add_row(f"{row.code} {row.name}", *cells)
        if weighted:
            table.add_row("total", *(share(scale, sum(r.cells[i] or 0 for r in rows))
                                     for i, scale in enumerate(weights.scales)), end_section=True)
        tables.append(table)
    return tables


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--params", "show_params", is_flag=True,
              help="Also list each rule's, collector's and output's declared parameters (type, range, default, meaning).")
def plugins(as_json: bool, show_params: bool) -> None:
    """List loaded plugins, their distributions, and what each provides."""
    a = app()
    reg = a.registry
    rows = []
    for name, info in sorted(a.pm.infos.items()):
        plugin = a.pm.get_plugin(name)
        provides = {kind: sorted(k for k, r in getattr(reg, kind).items() if r.plugin == name)
                    for kind in ("rules", "collectors", "outputs", "schemes")}
        hooks = sorted(h.name for h in a.pm.get_hookcallers(plugin) or [])
        rows.append({"name": name, "distribution": info.distribution, "version": info.version,
                     "module": info.module, "group": info.group, **provides, "hooks": hooks, "error": None})
    for failure in a.pm.failures:
        rows.append({"name": failure.name, "distribution": failure.distribution, "version": failure.version,
                     "module": failure.module, "group": failure.group, "rules": [], "collectors": [],
                     "outputs": [], "schemes": [], "hooks": [], "error": failure.error})
    declared = {kind: {key: [{"name": p.name, "type": p.type, "describe": p.describe(), "help": p.help}
                             for p in getattr(r.obj, "params", ())]
                       for key, r in sorted(getattr(reg, kind).items())}
                for kind in ("rules", "collectors", "outputs")}
    if as_json:
        click.echo(json.dumps({"plugins": rows, "params": declared} if show_params else rows,
                              ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table("plugin", "distribution", "provides")
    for row in rows:
        dist = f"{row['distribution']} {row['version']}" if row["distribution"] else row["module"]
        provides = "; ".join(f"{kind}: {', '.join(row[kind])}"
                             for kind in ("rules", "collectors", "outputs", "schemes") if row[kind])
        if row["error"]:
            provides = f"[red]failed to load: {row['error']}[/]"
        table.add_row(row["name"], dist, provides or "hooks: " + ", ".join(row["hooks"]))
    jx_console().print(table)
    if show_params:
        for kind, found in declared.items():
            for key, params in found.items():
                click.echo(f"{kind[:-1]} {key}:" + ("" if params else " no parameters"))
                for p in params:
                    click.echo(f"  {p['name']} ({p['describe']}): {p['help']}")


@cli.command()
def schemes() -> None:
    """List installed scheme packs and their plans."""
    from rich.table import Table

    from jxcore.scheme import load_pack

    reg = app().registry
    table = Table("scheme", "title", "plans", "plugin", "path")
    for name, registered in sorted(reg.schemes.items()):
        pack = registered.obj
        try:
            periods = ", ".join(map(str, load_pack(pack.path).periods))
        except JxError as exc:
            periods = f"[red]broken: {exc.problems[0]}[/]"
        table.add_row(name, pack.title, periods, registered.plugin, str(pack.path))
    jx_console().print(table)


@cli.command("collect")
@with_scheme
@click.option("--as-of", "as_of", type=DateType(), help="Collect as of this date (default today, inside the period).")
def collect_command(scheme: Scheme, store: Any, registry: Any, as_of: dt.date | None) -> None:
    """Show what each collector gathers (units with data, events, problems), without scoring."""
    from collections import defaultdict

    import numpy as np
    from rich.table import Table

    from jxcore.engine import checked_as_of, collect

    loaded = scheme
    as_of = checked_as_of(loaded, as_of)
    units = loaded.unit_table()
    by_collector: dict[str, list[str]] = defaultdict(list)
    for node in loaded.indicators():
        by_collector[node.collector.name].append(node.code)
    table = Table("collector", "indicator", "units with data", "events", "problems")
    problems: list[str] = []
    for name, codes in by_collector.items():
        try:
            measures = collect(loaded, registry, units, as_of, given={}, store=store, only={name})
        except JxError as exc:  # shown, not fatal: the other collectors are still listed
            table.add_row(name, ", ".join(codes), "-", "-", str(len(exc.problems)))
            problems += [f"{name}: {p}" for p in exc.problems]
            continue
        for code in codes:
            m = measures[code]
            if m.events is not None:
                with_data = len(np.unique(m.events["unit"]))
                events = str(len(m.events["unit"]))
            else:
                with_data, events = int((~np.isnan(np.asarray(m.value, dtype=float))).sum()), "-"
            table.add_row(name, code, f"{with_data} of {len(units)}", events, "0")
    click.echo(f"{loaded.name} {loaded.period.year} as of {as_of}: {len(loaded.indicators())} indicators, "
               f"{len(by_collector)} collectors")
    jx_console().print(table)
    for problem in problems:
        click.echo(f"problem: {problem}")


# The records commands (user, lock, unlock, verify) and the entry commands (import, entry) live in
# their own modules.
from jxcore.cli_entries import entry_group, import_command  # noqa: E402
from jxcore.cli_records import add_record_commands  # noqa: E402
from jxcore.cli_plans import plan_group  # noqa: E402

add_record_commands(cli)
from jxcore.cli_heads import add_heads_commands  # noqa: E402
add_heads_commands(cli)
cli.add_command(import_command)
cli.add_command(entry_group)
cli.add_command(plan_group)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning jx errors into messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("JX_DEBUG") == "1"
    try:
        returned = cli.main(args=args, prog_name="jx", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return ExitCode.RUN_FAILED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE
    except JxError as exc:
        if debug:
            raise
        for i, line in enumerate(exc.render().splitlines()):
            click.echo(f"error: {line}" if i == 0 else line, err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
                   err=True)
        return ExitCode.RUN_FAILED
    # Without standalone mode click hands back the code of a `click.exceptions.Exit` it caught.
    return returned if isinstance(returned, int) else ExitCode.OK


def entry() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
