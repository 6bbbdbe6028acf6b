"""The output plugins a scheme lists under ``outputs:``: thin wrappers over :mod:`jx_outputs.services`.

Each builds a :class:`~jx_outputs.report.Report` for the run (the store is the run's open
transaction, so "the previous run" and earlier final results are visible) and prints its table, or
writes files. With ``--json`` there is no console and the printing outputs stay silent.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs

from jx_outputs import tables
from jx_outputs.labels import labels
from jx_outputs.report import Report
from jx_outputs.services import (
    COMMENDATION_SETTINGS,
    NODE_LISTS,
    REVIEW_SETTINGS,
    commendation_statuses,
    review_statuses,
    warning_options,
)
from jx_outputs.view import RunView
from jx_rules.stages import STAGE_PARAMS
from jxcore.config import expand, jx_home
from jxcore.errors import Location, Problem, SchemeError, UsageError
from jxcore.interfaces import OutputContext
from jxcore.models import Scheme
from jxcore.params import Param
from jxcore.settings import settings_problems


def report_of(ctx: OutputContext) -> Report:
    return Report(RunView.from_result(ctx.result), ctx.store, warning_options(ctx.params))


def rich_table(table: tables.Table, width: int | None = None):
    """A :class:`tables.Table` as a rich table: numbers never wrapped or cut (each column is at
    least as wide as its widest number; long headers wrap above), codes and names kept whole up
    to 16 cells and folded beyond, marked rows bold, left-out rows as a section line. Every text
    is shown as it is: a name like ``[试点]一分局`` or ``:ok:`` is not rich markup or an emoji code
    (as plain strings, rich dropped the first and replaced the second)."""
    from rich.cells import cell_len
    from rich.table import Table as RichTable
    from rich.text import Text

    shown = RichTable(title=Text(table.title, style="table.title"), title_justify="left")
    cells = [[tables.format_cell(v, c.kind) for v, c in zip(row, table.columns)] for row in table.rows]
    widest = [max((cell_len(row[i]) for row in cells), default=0) for i in range(len(table.columns))]
    natural = sum(max(w, cell_len(c.label)) + 3 for w, c in zip(widest, table.columns)) + 1
    narrow = width is not None and natural > width  # then headers wrap down to their numbers' width
    for column, most in zip(table.columns, widest):
        if column.kind == "text":  # codes and names keep up to 16 cells (8 Chinese characters), then fold
            shown.add_column(Text(column.label), overflow="fold", min_width=min(most, 16))
        else:  # at least as wide as the widest number: a long header wraps above it instead
            shown.add_column(Text(column.label), justify="right", overflow="fold", min_width=most,
                             width=max(most, 4) if narrow else None)
    marked, breaks = set(table.marked), set(table.breaks)
    for n, row in enumerate(cells):
        if n in breaks and n:
            shown.add_section()
        shown.add_row(*map(Text, row), style="bold reverse" if n in marked else None)
    return shown


def print_table(console, table: tables.Table, limit: int = 0) -> None:
    """A :class:`tables.Table` on the console (first ``limit`` rows if given), notes below it."""
    if limit:
        table = attrs.evolve(table, rows=table.rows[:limit])
    console.print(rich_table(table, console.width))
    for note in table.notes:
        console.print(note, markup=False, emoji=False, highlight=False)


def print_leaderboard(console, report: Report, *, wide: bool = False, all: bool = False,
                      highlight: str | None = None, top: int = tables.TOP) -> None:
    """The leaderboard on a terminal: rank, code, name, total, gap and movement of the top ``top``
    units and the ``highlight`` unit (about 70 columns for Chinese names: it fits 100); every unit
    with ``all``; item columns with ``wide``."""
    print_table(console, tables.leaderboard_table(report, wide=wide, all=all, highlight=highlight, top=top))


class RankingOutput:
    """排行榜: the leaderboard by total, gap to the unit above, movement since the previous run."""

    name: ClassVar[str] = "ranking"
    description: ClassVar[str] = ("Leaderboard by total with the gap to the unit above and rank movement: the top "
                                  "units and a named one (all units and item columns on request).")
    params: ClassVar[tuple[Param, ...]] = (
        Param("items", "boolean", "show a column per major item (wide)", default=False),
        Param("limit", "integer", "show the first N units (0 = all)", default=tables.TOP, minimum=0),
        Param("unit", "string", "also show this unit's row, marked (a unit code)", default=""),
    )

    def emit(self, ctx: OutputContext) -> None:
        if ctx.console is not None:  # the command line's --all / --wide / --unit over the parameters
            limit = ctx.params["limit"]
            print_leaderboard(ctx.console, report_of(ctx), wide=ctx.display.get("wide", ctx.params["items"]),
                              all=ctx.display.get("all", limit == 0),
                              highlight=ctx.display.get("unit") or ctx.params["unit"] or None,
                              top=limit or tables.TOP)


class CommendationOutput:
    """评先评优: top N by total and single-item excellence, per ``settings.commendation``."""

    name: ClassVar[str] = "commendation"
    description: ClassVar[str] = "Top N by total and the best units of named items, among eligible units."
    params: ClassVar[tuple[Param, ...]] = ()

    def check_settings(self, scheme: Scheme) -> list[Problem]:
        return settings_problems(scheme, "commendation", COMMENDATION_SETTINGS, node_lists=NODE_LISTS)

    def statuses(self, view: RunView, store: Any) -> dict:
        """The units commended, by total and per item (the what-if of a draft plan compares them)."""
        return commendation_statuses(view)

    def emit(self, ctx: OutputContext) -> None:
        table = tables.commendation_table(report_of(ctx))
        if ctx.console is not None:
            print_table(ctx.console, table)


REVIEW_HINT = ("add settings: {leadership_review: {bottom: 3, admonition_years: 2, reshuffle_years: 3, "
               "pass_line: 600}}")


class ReviewOutput:
    """班子评价: admonition talks and reshuffles from this and earlier years' final results."""

    name: ClassVar[str] = "leadership_review"
    description: ClassVar[str] = ("Bottom K by total M years running → admonition talk; M′ years and below "
                                  "the pass line → reshuffle (settings.leadership_review).")
    params: ClassVar[tuple[Param, ...]] = ()

    def check_settings(self, scheme: Scheme) -> list[Problem]:
        if "leadership_review" not in scheme.settings:
            return [Problem(f"scheme {scheme.name} lists the leadership_review output but has no "
                            "settings.leadership_review", Location(node="settings"), REVIEW_HINT)]
        return settings_problems(scheme, "leadership_review", REVIEW_SETTINGS)

    def statuses(self, view: RunView, store: Any) -> dict:
        """The units an admonition talk or a reshuffle would concern (for the what-if of a draft plan)."""
        return review_statuses(view, store)

    def emit(self, ctx: OutputContext) -> None:
        report = report_of(ctx)
        if report.review is None:
            raise SchemeError(f"scheme {ctx.result.scheme.name} lists the leadership_review output but has no "
                              "settings.leadership_review", hint=REVIEW_HINT)
        if ctx.console is not None:
            print_table(ctx.console, tables.review_table(report))


class WarningsOutput:
    """预警: 关注 / 警告 / 严重警告 per unit and indicator with stage targets, and what is new."""

    name: ClassVar[str] = "warnings"
    description: ClassVar[str] = ("Stage-target warning levels as of the run's date, and those new since the "
                                  "previous run.")
    params: ClassVar[tuple[Param, ...]] = STAGE_PARAMS + (
        Param("new_only", "boolean", "print only warnings new since the previous run", default=False),
        Param("limit", "integer", "print the N most serious warnings (0 = all)", default=20, minimum=0),
    )

    def emit(self, ctx: OutputContext) -> None:
        report = report_of(ctx)
        table = tables.warning_table(report, new_only=ctx.params["new_only"])
        limit = 0 if ctx.display.get("all") else ctx.params["limit"]  # jx run --all: every warning
        left = len(table.rows) - limit
        if limit and left > 0:
            table = attrs.evolve(table, rows=table.rows[:limit],
                                 notes=(labels(report.view.language)["more_warnings"].format(n=left),))
        if ctx.console is not None:
            print_table(ctx.console, table)


class ReportOutput:
    """Reports: the Excel workbook and the 绩效之窗 site, written after every run."""

    name: ClassVar[str] = "report"
    description: ClassVar[str] = "Write the Excel workbook and the 绩效之窗 HTML site of the run."
    params: ClassVar[tuple[Param, ...]] = STAGE_PARAMS + (
        Param("dir", "string", "directory to write into ({jx_home} and ${ENV} expand); default "
              "{jx_home}/reports/<scheme>/<period>", default=""),
    )

    def check_settings(self, scheme: Scheme) -> list[Problem]:
        """The workbook and the site show the commendations and, if set, the review (the core checks
        settings.ranking for every run)."""
        problems = settings_problems(scheme, "commendation", COMMENDATION_SETTINGS, node_lists=NODE_LISTS)
        if "leadership_review" in scheme.settings:
            problems += settings_problems(scheme, "leadership_review", REVIEW_SETTINGS)
        return problems

    def emit(self, ctx: OutputContext) -> None:
        """Write into a staging directory; :func:`publish` moves it in once the run is committed and
        :func:`discard` removes it if the run is rolled back, so the reports on disk never describe
        a run that was not stored, nor a half-written one."""
        scheme = ctx.result.scheme
        out = Path(expand(ctx.params["dir"])) if ctx.params["dir"] else (
            ctx.out_dir or jx_home() / "reports" / scheme.name / str(scheme.period.year))
        run_id = ctx.result.run.id
        staging, index, book = stage_reports(report_of(ctx), out, run_id,
                                             hint="set the report output's dir to a directory jx may write")
        _STAGED[run_id] = (staging, out)
        if ctx.store is not None:
            ctx.store.on_rollback(lambda: discard(run_id))
        if ctx.console is not None:
            ctx.console.print(f"report: {index} and {book}")


#: run id → (staging directory, final directory) of reports waiting for their run's commit
_STAGED: dict[str, tuple[Path, Path]] = {}


def publish(run_id: str) -> None:
    """Move the staged reports of a committed run into place (see :func:`move_in`)."""
    staged = _STAGED.pop(run_id, None)
    if staged is not None:
        move_in(*staged)


def discard(run_id: str) -> None:
    """Remove the staged reports of a run that was rolled back."""
    staged = _STAGED.pop(run_id, None)
    if staged is not None:
        shutil.rmtree(staged[0], ignore_errors=True)


#: a staging directory this old was left by a killed process (a younger one may be a report being written)
STALE_SECONDS = 3600


def stage_reports(report: Report, out: Path, tag: str, console: Any = None, *,
                  hint: str) -> tuple[Path, Path, Path]:
    """Write the reports into a staging directory beside ``out``; (staging, where index.html and
    the workbook will be once moved in). A directory that cannot be written is a UsageError naming
    it (``hint`` says what to change), and nothing is left behind."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"cannot write the reports into {out}: it is a file, not a directory", hint=hint)
    for stale in out.parent.glob(f".{out.name}.*.partial"):  # of a killed process
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.{tag}.partial"
    try:
        index, book = write_reports(report, staging, console)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UsageError(f"cannot write the reports into {out}: {exc.strerror or exc}", hint=hint) from None
    return staging, out / index.relative_to(staging), out / book.relative_to(staging)


def move_in(staging: Path, out: Path) -> None:
    """Move what ``staging`` holds into ``out``, each entry (index.html, site.css, the workbook, the
    units directory) by one rename, replacing the entry of the same name; whatever else ``out``
    holds stays (it may be a directory of other files). A new ``out`` is the staging directory
    renamed. Readers see each file old or new, never half-written."""
    try:
        staging.rename(out)  # no out yet (or an empty one)
        return
    except OSError:
        pass
    replaced = out.parent / f".{out.name}.{staging.name}.old"
    replaced.mkdir()
    try:
        for entry in sorted(staging.iterdir()):
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                target.rename(replaced / entry.name)  # a directory is not replaced by one rename
            entry.replace(target)
    finally:
        shutil.rmtree(replaced, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


PARALLEL_UNITS = 2000  #: from this many units the workbook is written in a second process beside the site


def write_reports(report: Report, out: Path, console: Any = None) -> tuple[Path, Path]:
    """Write the site and the workbook under ``out``; return (index.html, workbook) paths. With a
    ``console`` the two long steps show a progress bar (rich, on stderr-free transient lines).

    From :data:`PARALLEL_UNITS` units on (and where processes can fork) the workbook is written by a
    forked child process while this one writes the site: the two take about as long, so on two
    cores the report takes the time of the longer one. Everything the store gives is read first, so
    the child never touches the store's connections."""
    from jx_outputs.excel import write_workbook
    from jx_outputs.site import write_site

    view = report.view
    lab = labels(view.language)
    book_path = out / f"{view.scheme.name}-{view.scheme.period.year}.xlsx"
    with _progress(console) as step:
        if len(view) < PARALLEL_UNITS or not _can_fork():
            book = write_workbook(report, book_path, lambda rows: step(lab["writing_workbook"], rows))
            index = write_site(report, out, step(lab["writing_site"], len(view)))
            return index, book
        for name in ("ranking", "commendation", "review", "warnings", "history"):
            getattr(report, name)  # read from the store here, before the fork
        out.mkdir(parents=True, exist_ok=True)
        with _child(write_workbook, report, book_path, step, lab["writing_workbook"]) as child:
            index = write_site(report, out, step(lab["writing_site"], len(view)))
        return index, child.result


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


class _Child:
    result: Any = None


@contextlib.contextmanager
def _child(write: Any, report: Report, path: Path, step: Any, description: str) -> Iterator[_Child]:
    """Run ``write(report, path, progress)`` in a forked process during the ``with`` block; its
    progress messages drive ``step(description, total)``; its error is raised here."""
    import multiprocessing
    import threading

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def work() -> None:
        def progress(total: int):
            send.send(("total", total))
            return lambda n: send.send(("advance", n))

        try:
            send.send(("done", write(report, path, progress)))
        except BaseException as error:  # sent whole if it pickles, else as its text
            try:
                send.send(("error", error))
            except Exception:
                send.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))

    process = ctx.Process(target=work, daemon=True)
    process.start()
    send.close()
    child, messages = _Child(), []

    def listen() -> None:
        advance = None
        while True:
            try:
                kind, value = receive.recv()
            except EOFError:
                return
            if kind == "total":
                advance = step(description, value)
            elif kind == "advance" and advance is not None:
                advance(value)
            else:
                messages.append((kind, value))
                return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        yield child
    finally:
        listener.join()
        process.join()
        receive.close()
    kind, value = messages[0] if messages else ("error", RuntimeError(
        f"the workbook's process ended with exit code {process.exitcode} and no result"))
    if kind == "error":
        raise value
    child.result = value


@contextlib.contextmanager
def _progress(console: Any) -> Iterator:
    """``step(description, total) -> advance(n)`` for a rich progress bar on ``console`` (no-ops without
    one, or off a terminal, where a bar is noise: a piped ``jx report`` printed a blank line)."""
    if console is None or not console.is_terminal:
        yield lambda description, total: lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        def step(description: str, total: int):
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield step


OUTPUTS = (RankingOutput, CommendationOutput, ReviewOutput, WarningsOutput, ReportOutput)
