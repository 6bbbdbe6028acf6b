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
from pathlib import Path
from typing import Any

import click

from jxcore import __version__
from jxcore.errors import JxError, UsageError
from jxcore.models import Scheme
from jxcore.plugins import JxPluginManager, Registry, get_plugin_manager
from jxcore.points import MILLI


class ExitCode(enum.IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2


class App:
    """What commands share: the plugin manager and registry, built once, on first use."""

    def __init__(self) -> None:
        self._pm: JxPluginManager | None = None
        self._registry: Registry | None = None

    @property
    def pm(self) -> JxPluginManager:
        if self._pm is None:
            self._pm = get_plugin_manager()
            for failure in self._pm.failures:
                where = f"{failure.distribution} {failure.version}" if failure.distribution else failure.module
                click.secho(f"Error: plugin {failure.name!r} ({where}) failed to load: {failure.error}",
                            fg="red", err=True)
        return self._pm

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.from_plugin_manager(self.pm)
        return self._registry

    def pack_path(self, name_or_path: str) -> Path:
        """A scheme given by pack name (installed) or by path (a pack directory or its scheme.yaml)."""
        path = Path(name_or_path)
        if path.exists():
            return path
        if os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml")):
            raise UsageError(f"no scheme pack at {name_or_path}", hint="give an installed scheme's name or an existing path")
        return self.registry.scheme_pack(name_or_path).path

    def load(self, name_or_path: str, period: int | None) -> Scheme:
        from jxcore.scheme import load_scheme

        return load_scheme(self.pack_path(name_or_path), period, self.registry)


def jx_console():
    """A rich Console; off a terminal (make demo piped, CI logs) 160 columns, not rich's 80, so
    wide Chinese tables are not cut."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def app() -> App:
    root = click.get_current_context().find_root()
    return root.meta.setdefault("jx.app", App())


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


class DateType(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2010-06-30", param, ctx)


scheme_option = click.option("--scheme", "scheme", required=True, metavar="NAME|PATH",
                             help="An installed scheme pack's name (see `jx schemes`) or a pack directory.")
period_option = click.option("--period", type=int, metavar="YEAR", help="The plan's year; default the latest.")


@click.group(cls=JxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="jx")
def cli(debug: bool) -> None:
    """jx: score grassroots units on an indicator tree, with plugins and scheme packs.

    Plugins: JX_DISABLE_PLUGIN_AUTOLOAD=1 loads none from entry points (JX_PLUGINS=module,… names
    some), JX_BLOCK_PLUGINS=name,… blocks named ones. Store: --db URL or JX_DATABASE_URL.
    """


@cli.command()
@scheme_option
@period_option
@click.option("--as-of", "as_of", type=DateType(), help="Score as of this date (default today, inside the period).")
@click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--final", is_flag=True, help="Mark this run as the period's final result.")
def run(scheme: str, period: int | None, as_of: dt.date | None, db: str | None, as_json: bool, final: bool) -> None:
    """Score every unit of a scheme and store the run."""

    from jxcore.engine import run_scheme
    from jxcore.store import Store

    a = app()
    loaded = a.load(scheme, period)
    store = Store.open(db)
    try:
        # Off a terminal (make demo piped, CI logs) rich would assume 80 columns and cut the table.
        console = None if as_json else jx_console()
        result = run_scheme(loaded, a.registry, as_of=as_of, store=store, console=console, final=final)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(run_document(result), ensure_ascii=False, indent=2))
    else:
        click.echo(f"run {result.run.id}: {loaded.name} {loaded.period.year} as of {result.run.as_of}, "
                   f"{len(result.units)} units, {len(loaded.indicators())} indicators")


def run_document(result) -> dict[str, Any]:
    """The JSON form of a run: scheme, period, as_of, run_id, units by rank with item scores."""
    scheme = result.scheme
    item_rows = {n.code: result.row(n.code) for n in scheme.items()}
    units = []
    for i in sorted(range(len(result.units)), key=lambda i: (result.ranks[i], i)):
        units.append({
            "code": result.units.codes[i],
            "name": result.units.names[i],
            "total": int(result.totals[i]) / MILLI,
            "rank": int(result.ranks[i]),
            "items": {code: int(result.scores[row, i]) / MILLI for code, row in item_rows.items()},
        })
    return {"scheme": scheme.name, "period": scheme.period.year, "as_of": result.run.as_of.isoformat(),
            "run_id": result.run.id, "final": result.run.final, "units": units}


@cli.command()
@scheme_option
def validate(scheme: str) -> None:
    """Check every plan of a scheme pack and list every problem (exit 2 if any)."""
    from jxcore.scheme import check_pack, load_pack

    a = app()
    path = a.pack_path(scheme)
    problems = check_pack(path, a.registry)
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
    if compare:
        from jxcore.scheme import load_pack

        a = app()
        plans = [a.load(scheme, year) for year in (years or load_pack(a.pack_path(scheme)).periods)]
        jx_console().print(*_weight_tables(plans))
        return
    loaded = app().load(scheme, period)

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
    row), then the items outside the 100 % with their caps. Items keep the plans' order: an item
    new in a year goes right before the next item of that year already listed."""
    from decimal import Decimal

    from rich.table import Table

    from jxcore.models import Scoring
    from jxcore.points import format_points

    def merged(codes_by_year: list[list[str]]) -> list[str]:
        order: list[str] = []
        for codes in codes_by_year:
            for i, code in enumerate(codes):
                if code in order:
                    continue
                after = [c for c in codes[i + 1:] if c in order]
                order.insert(order.index(after[0]) if after else len(order), code)
        return order

    def share(scheme: Scheme, points: int) -> str:
        text = f"{Decimal(points) * 100 / Decimal(scheme.scale):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    years = [p.period.year for p in plans]
    by_year = [{n.code: n for n in p.items()} for p in plans]
    tables = []
    for weighted in (True, False):
        codes = merged([[n.code for n in p.items() if (n.scoring is Scoring.WEIGHTED) is weighted] for p in plans])
        if not codes:
            continue
        title = "major items: share of the 100 %" if weighted else "outside the 100 %: cap in points"
        table = Table("item", *map(str, years), title=title)
        for code in codes:
            name = next(items[code].name for items in reversed(by_year) if code in items)
            cells = []
            for plan, items in zip(plans, by_year):
                node = items.get(code)
                if node is None or (node.scoring is Scoring.WEIGHTED) is not weighted:
                    cells.append("—")
                elif weighted:
                    cells.append(share(plan, node.points))
                else:
                    cells.append(f"{'+' if node.scoring is Scoring.REWARD else '−'}{format_points(node.cap)}")
            table.add_row(f"{code} {name}", *cells)
        if weighted:
            table.add_row("total", *(share(p, sum(n.points for n in p.items() if n.scoring is Scoring.WEIGHTED))
                                     for p in plans), end_section=True)
        tables.append(table)
    return tables


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
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
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
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
@scheme_option
@period_option
@click.option("--as-of", "as_of", type=DateType(), help="Collect as of this date (default today, inside the period).")
@click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
def collect_command(scheme: str, period: int | None, as_of: dt.date | None, db: str | None) -> None:
    """Show what each collector gathers (units with data, events, problems), without scoring."""
    from collections import defaultdict

    import numpy as np
    from rich.table import Table

    from jxcore.engine import checked_as_of, collect
    from jxcore.store import Store

    a = app()
    loaded = a.load(scheme, period)
    as_of = checked_as_of(loaded, as_of)
    units = loaded.unit_table()
    by_collector: dict[str, list[str]] = defaultdict(list)
    for node in loaded.indicators():
        by_collector[node.collector.name].append(node.code)
    table = Table("collector", "indicator", "units with data", "events", "problems")
    problems: list[str] = []
    with Store.open(db) as store:
        for name, codes in by_collector.items():
            try:
                measures = collect(loaded, a.registry, units, as_of, given={}, store=store, only={name})
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


# The records commands (user, lock, unlock, verify) live in their own module, which imports the
# options above: hence the import here, after them.
from jxcore.cli_records import add_record_commands  # noqa: E402

add_record_commands(cli)


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
