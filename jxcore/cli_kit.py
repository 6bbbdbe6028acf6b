"""The CLI surface for commands, the core's and plugins' alike (docs/services.md, "Writing a command").

One definition of each shared option (``--scheme``, ``--period``, ``--db``, ``--as``) and a
decorator, :func:`with_scheme`, that opens the scheme and the store and hands them to the command
with the registry; a command then parses its own options, calls a service (jxcore.services) and
prints. Nothing here opens a connection except :func:`with_scheme` / :func:`with_store` through
``Store.open``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # jxcore.plugins (pluggy, the interfaces, numpy) is imported when a command needs it
    from jxcore.plugins import JxPluginManager, Registry


class App:
    """What commands share: the plugin manager and registry, built once, on first use."""

    def __init__(self) -> None:
        self._pm: JxPluginManager | None = None
        self._registry: Registry | None = None

    @property
    def pm(self) -> JxPluginManager:
        if self._pm is None:
            from jxcore.plugins import get_plugin_manager

            self._pm = get_plugin_manager()
            for failure in self._pm.failures:
                where = f"{failure.distribution} {failure.version}" if failure.distribution else failure.module
                click.secho(f"Error: plugin {failure.name!r} ({where}) failed to load: {failure.error}",
                            fg="red", err=True)
        return self._pm

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from jxcore.plugins import Registry

            self._registry = Registry.from_plugin_manager(self.pm)
        return self._registry


def app() -> App:
    """The running command's :class:`App` (one per ``jx`` invocation)."""
    root = click.get_current_context().find_root()
    return root.meta.setdefault("jx.app", App())


def console(wide: bool = False):
    """A rich Console; off a terminal (make demo piped, CI logs) 160 columns, not rich's 80, so
    Chinese tables are not cut; ``wide`` (a column per item) gets room for every column, so no
    column is squeezed to nothing (a terminal wraps the long lines). Strings print as they are:
    no markup, emoji codes or highlighting, so a name like ``[试点]一分局`` is not swallowed as a
    style tag (styled output is built from rich ``Text``)."""
    from rich.console import Console

    width = 400 if wide else None if sys.stdout.isatty() else 160
    return Console(width=width, markup=False, emoji=False, highlight=False)


@contextmanager
def progress_line(first: str, lines: Mapping[str, str | None], **fields: Any) -> Iterator[Callable[..., None] | None]:
    """A transient line on stderr naming the step under way of a long command: the callback takes
    ``(step, rows=0)`` and shows ``lines[step]`` formatted with ``rows`` and ``fields``; a step
    whose line is None ends it (what follows prints on the terminal). None, and nothing shown,
    when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console

    status = Console(stderr=True).status(first.format(**fields))

    def tell(step: str, rows: int = 0) -> None:
        line = lines[step]
        if line is None:
            status.stop()
        else:
            status.update(line.format(rows=rows, **fields))

    with status:
        yield tell


class DateType(click.ParamType):
    """A YYYY-MM-DD date option."""

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
db_option = click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
as_option = click.option("--as", "user", metavar="NAME",
                         help="Who acts (default JX_USER, else the OS user); a user with a password gives it "
                              "at the prompt or in JX_PASSWORD.")


def output_dir(path: Path, option: str) -> Path:
    """Make the directory ``option`` names (if missing) and check that a file can be written in
    it, before the work that fills it: a directory that cannot be written is a UsageError naming
    it at once, not an OSError once the work is done."""
    import tempfile

    from jxcore.errors import UsageError

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write there: {exc.strerror or exc}",
                         hint="give a directory you may write") from None
    return path


def acting_user(explicit: str | None, store: Any = None) -> str:
    """Who acts: ``--as NAME``, else ``JX_USER``, else the OS user name. When the store is known
    (given, or opened by :func:`with_store`) and that user has a password, the password must be
    given (``JX_PASSWORD``, or a prompt at a terminal): a typed name alone grants no role."""
    import getpass

    name = explicit or os.environ.get("JX_USER") or getpass.getuser()
    ctx = click.get_current_context(silent=True)
    if store is None and ctx is not None:
        store = ctx.meta.get("jx.store")
    if store is not None:
        prove_identity(store, name)
    return name


def prove_identity(store: Any, name: str) -> None:
    """AccessDenied unless ``name`` has no password or the right one is given (asked once a command)."""
    from jxcore.errors import AccessDenied
    from jxcore.services import auth

    ctx = click.get_current_context(silent=True)
    proven = ctx.meta.setdefault("jx.proven", set()) if ctx is not None else set()
    if name in proven:
        return
    account = auth.get_account(store, name)
    if account is not None and account.has_password:
        password = os.environ.get("JX_PASSWORD")
        if password is None:
            if not sys.stdin.isatty():
                raise AccessDenied(f"{name} has a password: give it to act as {name}",
                                   hint="set JX_PASSWORD, or run the command at a terminal to be asked")
            password = click.prompt(f"password of {name}", hide_input=True, err=True)
        auth.check_password(store, name, password)
    proven.add(name)


def with_store(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--db`` and hand the command ``store`` (open, closed afterwards) and ``registry``."""

    @db_option
    @functools.wraps(command)
    def wrapper(*args: Any, db: str | None, **kwargs: Any) -> Any:
        from jxcore.store import Store

        with Store.open(db) as store:
            meta = click.get_current_context().meta
            meta["jx.store"] = store  # acting_user checks passwords against it
            try:
                return command(*args, store=store, registry=app().registry, **kwargs)
            finally:
                meta.pop("jx.store", None)

    return wrapper


def with_scheme(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--scheme``, ``--period`` and ``--db``; hand the command ``scheme`` (the checked plan),
    ``store`` and ``registry`` (see docs/services.md, "Writing a command")."""

    @scheme_option
    @period_option
    @with_store
    @functools.wraps(command)
    def wrapper(*args: Any, scheme: str, period: int | None, store: Any, registry: Registry, **kwargs: Any) -> Any:
        from jxcore.services import open_scheme

        return command(*args, scheme=open_scheme(registry, scheme, period), store=store, registry=registry, **kwargs)

    return wrapper
