"""The ``jx`` command line (click).

Exit codes: 0 success, 1 a run failed, 2 bad input or usage. Errors are printed as
``error: <where>: <what> (<how to fix>)``; a traceback only with ``--debug``.

Start-up is kept small: ``jx --help`` and ``jx plugins`` import no plugin, no SQLAlchemy, DuckDB or
numpy. Plugins declare their commands in the ``jx.commands`` entry-point group (name = command,
value = ``module:click_command``); a declared command's module is imported only when that command
runs or shows its help (:mod:`jxcore.plugin_meta`). Commands a plugin adds through the
``jx_register_commands`` hook (the slower path: every plugin is imported to find them) still run
when named. A plugin or command module that fails to load is reported by name and every other
command still works.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from jxcore import __version__, plugin_meta
from jxcore.cli_kit import (
    App,
    DateType,
    acting_user,
    app,
    as_option,
    period_option,
    progress_line,
    scheme_option,
    with_scheme,
)
from jxcore.cli_kit import console as jx_console

if TYPE_CHECKING:
    from jxcore.models import Scheme
    from jxcore.plugins import JxPluginManager


class ExitCode(enum.IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2


#: The core's commands that live in their own modules, imported (like a plugin's declared command)
#: only when they run or show their help; ``jx --help`` reads their help from the cache.
CORE_COMMANDS = {
    "import": "jxcore.cli_entries:import_command",
    "entry": "jxcore.cli_entries:entry_group",
    "plan": "jxcore.cli_plans:plan_group",
    "user": "jxcore.cli_records:user_group",
    "lock": "jxcore.cli_records:lock_command",
    "unlock": "jxcore.cli_records:unlock_command",
    "verify": "jxcore.cli_records:verify_command",
    "keys": "jxcore.cli_heads:keys_group",
    "heads": "jxcore.cli_heads:heads_group",
}


def _report(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)


class JxGroup(click.Group):
    """The core's commands, the commands plugins declare (``jx.commands``, imported when used) and
    those plugins add through the ``jx_register_commands`` hook (found when a name is not declared).

    Hook commands are kept per plugin manager, so an embedding process (a test suite) that changes
    JX_PLUGINS between calls sees the commands of the plugins it has now.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._declared_key: tuple | None = None
        self._declared_cache: dict[str, plugin_meta.DeclaredCommand] = {}
        self._loaded: dict[str, click.Command] = {}  # by entry-point value
        self._failed: dict[str, str] = {}  # entry-point value -> error, reported once
        self._hooked_of: JxPluginManager | None = None
        self._hooked: dict[str, click.Command] = {}
        self.hooked_by: dict[str, list[str]] = {}  # plugin -> the commands its hook added

    def declared(self) -> dict[str, plugin_meta.DeclaredCommand]:
        key = (tuple(sys.path), *(os.environ.get(v) for v in ("JX_DISABLE_PLUGIN_AUTOLOAD", "JX_BLOCK_PLUGINS",
                                                              "JX_PLUGINS")))
        if key != self._declared_key:
            core = {name: plugin_meta.DeclaredCommand(name, value, "jx", __version__)
                    for name, value in CORE_COMMANDS.items()}
            found = {n: c for n, c in plugin_meta.commands().items() if n not in self.commands and n not in core}
            self._declared_cache = {**core, **found}
            self._declared_key = key
        return self._declared_cache

    def _load_declared(self, command: plugin_meta.DeclaredCommand) -> click.Command | None:
        """The declared command, imported now; None (reported once) if its module fails."""
        if command.value in self._loaded:
            return self._loaded[command.value]
        if command.value in self._failed:
            return None
        try:
            obj = command.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take jx down
            self._failed[command.value] = error = f"{type(exc).__name__}: {exc}"
            _report(f"command {command.name!r} ({command.where()}, {command.value}) failed to load: {error}")
            return None
        self._loaded[command.value] = obj
        return obj

    def hooked(self, ctx: click.Context) -> dict[str, click.Command]:
        """Commands added through ``jx_register_commands`` (imports every plugin: the slower path)."""
        pm = ctx.find_root().meta.setdefault("jx.app", App()).pm
        if self._hooked_of is pm:
            return self._hooked
        scratch = click.Group()
        self.hooked_by = {}
        for impl in pm.hook.jx_register_commands.get_hookimpls():
            before = set(scratch.commands)
            try:
                impl.function(cli=scratch)
            except Exception as exc:  # noqa: BLE001 - one plugin's commands failing leaves the others
                _report(f"plugin {impl.plugin_name!r} failed to add its commands: {type(exc).__name__}: {exc}")
            self.hooked_by[impl.plugin_name] = sorted(set(scratch.commands) - before)
        self._hooked_of, self._hooked = pm, dict(scratch.commands)
        return self._hooked

    def _hooked_if_loaded(self, ctx: click.Context) -> dict[str, click.Command]:
        """Hook commands only when the plugins are loaded anyway (listing must not import them)."""
        found = ctx.find_root().meta.get("jx.app")
        if found is not None and found._pm is not None:
            return self.hooked(ctx)
        return {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands) | set(self.declared()) | set(self._hooked_if_loaded(ctx))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        declared = self.declared().get(cmd_name)
        if declared is not None:
            loaded = self._load_declared(declared)
            if loaded is None:
                from jxcore.errors import PluginError

                raise PluginError(f"command {cmd_name!r} of {declared.where()} failed to load: "
                                  f"{self._failed[declared.value]}",
                                  hint="reinstall that distribution, or block its plugin with JX_BLOCK_PLUGINS")
            return loaded
        return self.hooked(ctx).get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of ``jx --help``: declared commands' help from the cache (plugin_meta), no import."""
        declared = self.declared()
        helps = plugin_meta.short_helps({n: c for n, c in declared.items() if n not in self.commands},
                                        self._load_declared)
        rows: list[tuple[str, str | None, str]] = []  # name, short help, help
        hooked = self._hooked_if_loaded(ctx)
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or hooked.get(name)
            if cmd is not None:
                if not cmd.hidden:
                    rows.append((name, cmd.short_help, cmd.help or ""))
                continue
            if name in helps:
                short, text, hidden = helps[name]
                if not hidden:
                    rows.append((name, short, text))
            elif name in declared:
                rows.append((name, f"(failed to load: {self._failed.get(declared[name].value, 'unknown error')})", ""))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _, _ in rows)
        shown = [(name, click.Command(name, help=text, short_help=short or None).get_short_help_str(limit))
                 for name, short, text in rows]
        with formatter.section("Commands"):
            formatter.write_dl(shown)


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
    # On a terminal a line on stderr names the step under way (a national run collects for minutes);
    # it ends before the outputs print.
    steps = {"collecting": "{what}: collecting the measures", "scoring": "{what}: scoring", "storing": None}
    with progress_line("{what}", steps, what=f"{scheme.name} {scheme.period.year}") as progress:
        result = services.run(store, registry, scheme, as_of=as_of, final=final, actor=acting_user(user),
                              console=None if as_json else jx_console(wide), display=display, progress=progress)
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
    from rich.text import Text
    from rich.tree import Tree

    from jxcore.models import NodeKind
    from jxcore.points import format_points

    if years and not compare:
        from jxcore.errors import UsageError

        raise UsageError(f"unexpected years {' '.join(map(str, years))}",
                         hint="give --period YEAR for one plan, or --compare YEAR... to compare the weights")
    from jxcore.services import open_scheme, pack_path

    registry = app().registry
    if compare:
        from jxcore.scheme import load_pack

        chosen = years or load_pack(pack_path(registry, scheme)).periods
        plans = [open_scheme(registry, scheme, year) for year in chosen]
        jx_console().print(*_weight_tables(plans))
        return
    loaded = open_scheme(registry, scheme, period)

    def label(node) -> Text:
        text = Text.assemble((node.code, "bold"), f" {node.name}  {format_points(node.points)}")
        if node.cap is not None:
            text.append(f" ({node.scoring.value}, cap {format_points(node.cap)})")
        if node.kind is NodeKind.INDICATOR:
            department = f", {node.department}" if node.department else ""
            text.append(f"  rule {node.rule.name}, collector {node.collector.name}{department}", style="dim")
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
@click.option("--load", "load", is_flag=True,
              help="Import every plugin and also list what each provides (rules, collectors, outputs, scheme "
                   "packs, hooks) and the plugins that fail to load.")
@click.option("--params", "show_params", is_flag=True,
              help="Also list each rule's, collector's and output's declared parameters (type, range, default, "
                   "meaning); implies --load.")
def plugins(as_json: bool, load: bool, show_params: bool) -> None:
    """List installed plugins, their distributions and commands (--load: what each provides)."""
    if load or show_params:
        rows, declared = _loaded_plugin_rows()
    else:
        rows, declared = _declared_plugin_rows(), {}
    if as_json:
        click.echo(json.dumps({"plugins": rows, "params": declared} if show_params else rows,
                              ensure_ascii=False, indent=2))
        return
    header = ["plugin", "distribution", "entry point", "commands"]
    lines = []
    for row in rows:
        dist = f"{row['distribution']} {row['version']}" if row["distribution"] else "-"
        cells = [row["name"], dist, f"{row['group']}: {row['module']}", ", ".join(row["commands"]) or "-"]
        if row["loaded"]:
            provides = "; ".join(f"{kind}: {', '.join(row[kind])}"
                                 for kind in ("rules", "collectors", "outputs", "schemes") if row[kind])
            if row["error"]:
                provides = f"failed to load: {row['error']}"
            cells.append(provides or "hooks: " + ", ".join(row["hooks"]))
        lines.append(cells)
    if any(row["loaded"] for row in rows):
        header.append("provides")
    click.echo(_text_table(header, lines))
    if show_params:
        for kind, found in declared.items():
            for key, params in found.items():
                click.echo(f"{kind[:-1]} {key}:" + ("" if params else " no parameters"))
                for p in params:
                    click.echo(f"  {p['name']} ({p['describe']}): {p['help']}")


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    """Plain aligned columns (no rich: ``jx plugins`` stays quick); the last column is not padded."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    table = [header, *rows]
    widths = [max(width(r[i]) for r in table if i < len(r)) for i in range(len(header))]
    out = []
    for r in table:
        cells = [c + " " * (widths[i] - width(c)) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _commands_by_distribution() -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for name, command in plugin_meta.commands().items():
        found.setdefault(command.distribution, []).append(name)
    return found


def _declared_plugin_rows() -> list[dict[str, Any]]:
    """The plugins as their distributions declare them: nothing is imported."""
    rows: list[dict[str, Any]] = []
    commands = _commands_by_distribution()
    if plugin_meta.autoload():
        blocked = set(plugin_meta.env_list("JX_BLOCK_PLUGINS"))
        for plugin in plugin_meta.plugins():
            if plugin.name in blocked:
                continue
            rows.append({"name": plugin.name, "distribution": plugin.distribution, "version": plugin.version,
                         "module": plugin.module, "group": plugin.group,
                         "commands": commands.pop(plugin.distribution, []), "loaded": False})
    blocked = set(plugin_meta.env_list("JX_BLOCK_PLUGINS"))
    for module in plugin_meta.env_list("JX_PLUGINS"):
        if module not in blocked and all(row["name"] != module for row in rows):
            rows.append({"name": module, "distribution": None, "version": None, "module": module,
                         "group": "JX_PLUGINS", "commands": [], "loaded": False})
    for dist, names in commands.items():  # commands of a distribution without a plugin entry point
        rows.append({"name": dist or "-", "distribution": dist, "version": None, "module": "",
                     "group": plugin_meta.COMMANDS_GROUP, "commands": names, "loaded": False})
    return rows


def _loaded_plugin_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every plugin imported: what each provides, its hooks, and the plugins that failed to load."""
    a = app()
    reg = a.registry
    commands = _commands_by_distribution()
    group = click.get_current_context().find_root().command
    if isinstance(group, JxGroup):
        group.hooked(click.get_current_context())
    hooked_by = group.hooked_by if isinstance(group, JxGroup) else {}
    rows = []
    for name, info in sorted(a.pm.infos.items()):
        plugin = a.pm.get_plugin(name)
        provides = {kind: sorted(k for k, r in getattr(reg, kind).items() if r.plugin == name)
                    for kind in ("rules", "collectors", "outputs", "schemes")}
        hooks = sorted(h.name for h in a.pm.get_hookcallers(plugin) or [])
        mine = commands.pop(info.distribution, []) if info.distribution else []
        mine = sorted(set(mine) | set(hooked_by.get(name, ())))
        rows.append({"name": name, "distribution": info.distribution, "version": info.version,
                     "module": info.module, "group": info.group, "commands": mine, "loaded": True,
                     **provides, "hooks": hooks, "error": None})
    for failure in a.pm.failures:
        rows.append({"name": failure.name, "distribution": failure.distribution, "version": failure.version,
                     "module": failure.module, "group": failure.group, "commands": [], "loaded": True,
                     "rules": [], "collectors": [], "outputs": [], "schemes": [], "hooks": [], "error": failure.error})
    declared = {kind: {key: [{"name": p.name, "type": p.type, "describe": p.describe(), "help": p.help}
                             for p in getattr(r.obj, "params", ())]
                       for key, r in sorted(getattr(reg, kind).items())}
                for kind in ("rules", "collectors", "outputs")}
    return rows, declared


@cli.command()
def schemes() -> None:
    """List installed scheme packs and their plans."""
    from rich.table import Table
    from rich.text import Text

    from jxcore.errors import JxError
    from jxcore.scheme import load_pack

    reg = app().registry
    table = Table("scheme", "title", "plans", "plugin", "path")
    for name, registered in sorted(reg.schemes.items()):
        pack = registered.obj
        try:
            periods = Text(", ".join(map(str, load_pack(pack.path).periods)))
        except JxError as exc:
            periods = Text(f"broken: {exc.problems[0]}", style="red")
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
    from jxcore.errors import JxError

    loaded = scheme
    as_of = checked_as_of(loaded, as_of)
    units = loaded.unit_table()
    by_collector: dict[str, list[str]] = defaultdict(list)
    for node in loaded.indicators():
        if node.collector is not None:  # a checked plan's indicators all have one
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
    except Exception as exc:
        if debug:
            raise
        from jxcore.errors import (
            JxError,  # attrs: imported when an error is to be shown
        )

        if isinstance(exc, JxError):
            for i, line in enumerate(exc.render().splitlines()):
                click.echo(f"error: {line}" if i == 0 else line, err=True)
            return exc.exit_code
        if isinstance(exc, OSError) and exc.filename is not None:  # a path given or the disk, not a bug
            click.echo(f"error: cannot use {exc.filename}: {exc.strerror or exc} (check the path, that its "
                       "directory exists and that you may read or write there, and the free disk space)", err=True)
            return ExitCode.USAGE
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
                   err=True)
        return ExitCode.RUN_FAILED
    # Without standalone mode click hands back the code of a `click.exceptions.Exit` it caught.
    return returned if isinstance(returned, int) else ExitCode.OK


def entry() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
