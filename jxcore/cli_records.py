"""``jx user``, ``jx lock``, ``jx unlock``, ``jx verify``: the records commands (docs/records.md).

They call jxcore.services, the layer a web app calls too. Who acts: ``--as NAME``, else
``JX_USER``, else the OS user name.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from jxcore.cli_kit import DateType, acting_user, app, as_option, db_option, period_option, scheme_option


def _plan(scheme: str, period: int | None):
    from jxcore.services import open_scheme

    return open_scheme(app().registry, scheme, period)


@click.group("user")
def user_group() -> None:
    """People and their departments and roles (clerk, inspector, admin, viewer)."""


@user_group.command("add")
@click.argument("name")
@click.option("--dept", "department", metavar="CODE", help="The department's code (the plan's departments:).")
@click.option("--dept-name", metavar="TEXT", help="The department's name, when it is new to the store.")
@click.option("--role", type=click.Choice(["clerk", "inspector", "admin", "viewer"]), required=True)
@click.option("--unit", metavar="CODE", help="A branch account's unit: its row is pinned on the leaderboard, its "
                                             "pages are the only unit pages it opens (jx serve).")
@click.option("--generate", is_flag=True, help="Generate the password and print it once (else it is asked for "
                                               "at a terminal).")
@as_option
@db_option
def user_add(name: str, department: str | None, dept_name: str | None, role: str, unit: str | None, generate: bool,
             user: str | None, db: str | None) -> None:
    """Add a user with a password (an admin does it; the store's first user must be an admin)."""
    from jxcore.records import add_user
    from jxcore.services import auth
    from jxcore.store import Store

    with Store.open(db) as store:
        by = acting_user(user, store) if user or os.environ.get("JX_USER") else None
        password = _new_password(name, generate)
        added = add_user(store, name, role=role, department=department, department_name=dept_name, by=by)
        if password is not None:
            auth.set_password(store, name, password, by=by)
        if unit:
            auth.set_unit(store, name, unit, by=by or name)
    click.echo(f"added {added.role.value} {added.name}" + (f" of {added.department}" if added.department else "")
               + (f", unit {unit}" if unit else ""))
    if password is None:
        click.echo(f"no password set (no terminal to ask at): set one with jx user passwd {name} --generate")
    elif generate:
        click.echo(f"password of {name} (shown once): {password}")


def _new_password(name: str, generate: bool) -> str | None:
    """A generated password, one typed twice at a terminal (checked), or None without a terminal."""
    from jxcore.services import auth

    if generate:
        return auth.generate_password()
    if not sys.stdin.isatty():
        return None
    password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True, err=True)
    auth.check_strength(password)
    return password


@user_group.command("passwd")
@click.argument("name")
@click.option("--generate", is_flag=True, help="Generate the new password and print it once.")
@as_option
@db_option
def user_passwd(name: str, generate: bool, user: str | None, db: str | None) -> None:
    """Set a user's password: the user themself (giving the current one) or an admin (--as ADMIN)."""
    from jxcore.errors import UsageError
    from jxcore.services import auth
    from jxcore.store import Store

    with Store.open(db) as store:
        by = acting_user(user if user or os.environ.get("JX_USER") else name, store)
        password = _new_password(name, generate)
        if password is None:
            raise UsageError("no terminal to type the new password at", hint="give --generate")
        auth.set_password(store, name, password, by=by)
    click.echo(f"password of {name} set; their sessions are ended")
    if generate:
        click.echo(f"password of {name} (shown once): {password}")


@user_group.command("list")
@db_option
def user_list(db: str | None) -> None:
    """List the users with their departments and roles."""
    from jxcore.records import users
    from jxcore.store import Store

    with Store.open(db) as store:
        people = users(store)
    if not people:
        click.echo("no users yet: the store is open to everyone until the first admin is added "
                   "(jx user add NAME --role admin)")
    for u in people:
        click.echo(f"{u.name}\t{u.role.value}\t{u.department or '-'}")


@click.command("lock")
@scheme_option
@period_option
@click.option("--until", type=DateType(), help="Lock entries dated up to this day (default 31 December).")
@click.option("--final", is_flag=True, help="Lock the period's final results and all its entries.")
@click.option("--reason", metavar="TEXT", help="Why (kept with the lock).")
@as_option
@db_option
def lock_command(scheme: str, period: int | None, until: dt.date | None, final: bool, reason: str | None,
                 user: str | None, db: str | None) -> None:
    """Lock entries up to a date, or the final results; print the chain head for the minutes."""
    from jxcore.records import lock
    from jxcore.store import Store

    loaded = _plan(scheme, period)
    with Store.open(db) as store:
        done = lock(store, loaded.name, loaded.period.year, user=acting_user(user, store), until=until, final=final,
                    reason=reason)
    assert done.signed is not None  # lock() signs the head it writes
    click.echo(f"locked: {done.describe()}")
    click.echo(f"signed head {done.signed.head} ({done.signed.size} records, including the lock): write it into "
               "the minutes, and keep the heads with jx heads export FILE")


@click.command("unlock")
@scheme_option
@period_option
@click.option("--lock", "lock_id", type=int, metavar="ID", help="Which lock (default the newest active one).")
@click.option("--reason", metavar="TEXT", required=True, help="Why the lock is lifted (kept).")
@as_option
@db_option
def unlock_command(scheme: str, period: int | None, lock_id: int | None, reason: str, user: str | None,
                   db: str | None) -> None:
    """Lift a lock: one admin requests, a second, different admin confirms with the same command."""
    from jxcore.records import unlock
    from jxcore.store import Store

    loaded = _plan(scheme, period)
    with Store.open(db) as store:
        done = unlock(store, loaded.name, loaded.period.year, user=acting_user(user, store), reason=reason,
                      lock_id=lock_id)
    if done.active:
        click.echo(f"unlock of lock #{done.id} requested by {done.unlock_requested_by}; "
                   "a second admin must confirm it with the same command")
    else:
        click.echo(f"unlocked: lock #{done.id}, requested by {done.unlocked_by[0]}, confirmed by {done.unlocked_by[1]}")
    assert done.signed is not None  # unlock() signs the head it writes
    click.echo(f"signed head {done.signed.head} ({done.signed.size} records)")


@click.command("verify")
@click.option("--head", "heads", multiple=True, metavar="HEX", help="A chain head recorded outside (e.g. the minutes).")
@click.option("--heads", "kept", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Signed heads kept outside (jx heads export): report a truncated or rewritten history.")
@click.option("--key", metavar="HEX", help="The bureau's public key the kept heads must be signed with.")
@click.option("--entry", "entry_id", type=int, metavar="ID",
              help="With --heads: check that this entry, as stored, is in the log a kept head covers.")
@db_option
def verify_command(heads: tuple[str, ...], kept: Path | None, key: str | None, entry_id: int | None,
                   db: str | None) -> None:
    """Recompute the audit chain; name every changed, deleted, inserted, reordered, truncated or
    rewritten record and every missing database guard (exit 1)."""
    from jxcore.cli import ExitCode
    from jxcore.errors import UsageError
    from jxcore.services import entry_inclusion, list_locks, verify_store
    from jxcore.store import Store

    if entry_id is not None and kept is None:
        raise UsageError("--entry needs --heads FILE", hint="give the signed heads the bureau published")
    with Store.open(db) as store:
        if entry_id is not None and kept is not None:
            inclusion = entry_inclusion(store, entry_id, kept)
            click.echo(("ok: " if inclusion.ok else "tampered: ") + inclusion.message, err=not inclusion.ok)
            if not inclusion.ok:
                raise click.exceptions.Exit(ExitCode.RUN_FAILED)
            return
        result = verify_store(store, heads, kept=kept, key=key)
        known = list_locks(store)
    for finding in result.findings:
        click.echo(f"tampered: {finding}", err=True)
    if not result.ok:
        click.echo(f"verify: {len(result.findings)} differences in {result.size} chained records", err=True)
        raise click.exceptions.Exit(ExitCode.RUN_FAILED)
    for lk in known:
        state = f"lifted by {' and '.join(lk.unlocked_by)}" if lk.unlocked_by else "active"
        click.echo(f"{lk.describe()}, head {lk.head[:16]}… ({state})")
    if not result.enforced:
        click.echo("note: this store has no lock triggers (MariaDB/MySQL): jx refuses locks and final runs here")
    click.echo(f"ok: {result.size} chained records, head {result.head}")


def add_record_commands(cli: click.Group) -> None:
    for command in (user_group, lock_command, unlock_command, verify_command):
        cli.add_command(command)
