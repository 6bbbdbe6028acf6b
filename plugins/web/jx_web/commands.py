"""``jx serve``: the live 绩效之窗 under uvicorn, with demo accounts on a store without users."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

import click

from jxcore.errors import UsageError


def demo_accounts(store, scheme) -> list[tuple[str, str, str]]:
    """Create the demo accounts (a store without users only): an admin, a clerk per department of
    the plan, an inspector, and a viewer per branch tied to its unit; (name, role, password) each."""
    from jxcore.records.access import add_user
    from jxcore.services import auth

    departments = sorted({n.department for n in scheme.indicators() if n.department})
    made = [("admin", "admin", None, None)]
    made += [(f"clerk-{d.lower()}", "clerk", d, None) for d in departments]
    if departments:
        made.append(("inspector", "inspector", "DCS" if "DCS" in departments else departments[0], None))
    made += [(f"branch-{u.code}", "viewer", None, u.code) for u in scheme.units]
    out = []
    for name, role, department, unit in made:
        add_user(store, name, role=role, department=department, by=None if name == "admin" else "admin")
        password = auth.generate_password()
        auth.set_password(store, name, password, by=None if name == "admin" else "admin")
        if unit:
            auth.set_unit(store, name, unit, by="admin")
        out.append((name, role + (f" {department}" if department else "") + (f" {unit}" if unit else ""), password))
    return out


def _parse_time(value: str | None) -> dt.time | None:
    if value is None:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--daily-run {value!r} is not a time of day", hint="write it as HH:MM, e.g. 06:30") from None


def _check_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once and let it go, before anything is made: a port in use or an address
    this machine does not have is refused here, not as uvicorn's traceback after the demo accounts
    were made and shown."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port (or stop what listens there), and a --host of this machine"
                         ) from None


def _daily_runner(at: dt.time, scheme: str | None, period: int | None, db: str | None) -> None:
    """Score the scheme as of today every day at ``at`` (local time), in this (the supervising)
    process; a failed run is reported and tried again the next day."""
    from jx_web.app import create_app, daily_run

    web = create_app(scheme=scheme, period=period, db=db).state.web
    while True:
        now = dt.datetime.now()
        due = dt.datetime.combine(now.date(), at)
        if due <= now:
            due += dt.timedelta(days=1)
        time.sleep((due - now).total_seconds())
        try:
            run_id = daily_run(web)
            click.echo(f"daily run {run_id} stored")
        except Exception as exc:  # the server keeps serving yesterday's leaderboard
            click.secho(f"error: daily run failed: {exc}", fg="red", err=True)


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--scheme", metavar="NAME|PATH", help="The scheme pack (default: the one installed).")
    @click.option("--period", type=int, metavar="YEAR", help="The plan's year (default the latest).")
    @click.option("--db", metavar="URL", help="Store URL (default JX_DATABASE_URL or a SQLite file in JX_HOME).")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
    @click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                  help="Worker processes (they share nothing but the store).")
    @click.option("--daily-run", "daily", metavar="HH:MM",
                  help="Score the scheme as of today every day at this local time (or use the systemd timer "
                       "of docs/deploy.md).")
    @click.option("--secure-cookies", type=click.Choice(["auto", "always", "never"]), default="auto",
                  show_default=True, help="Cookies' Secure flag: auto = when the request came over https "
                                          "(behind a proxy: with --proxy-headers).")
    @click.option("--proxy-headers", is_flag=True,
                  help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (a reverse proxy).")
    @click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
                  help="Proxies whose X-Forwarded-* headers are trusted.")
    def serve(scheme: str | None, period: int | None, db: str | None, host: str, port: int, workers: int,
              daily: str | None, secure_cookies: str, proxy_headers: bool, forwarded_allow_ips: str) -> None:
        """Serve the live 绩效之窗 (pages and /api) with sign-in; prints demo accounts on a store without users."""
        import uvicorn

        from jx_web.app import create_app
        from jxcore.services import auth

        at = _parse_time(daily)
        _check_listen(host, port)
        app = create_app(scheme=scheme, period=period, db=db)  # checks scheme and store before serving
        web = app.state.web
        people = auth.accounts(web.store)
        if not people:
            click.echo("demo accounts (shown once; change them with jx user passwd):")
            for name, role, password in demo_accounts(web.store, web.catalog.scheme):
                click.echo(f"  {name:<22} {password}  {role}")
        elif not any(a.has_password for a in people):
            click.secho("no account has a password, so nobody can sign in: give one with "
                        "jx user passwd NAME --generate", fg="yellow", err=True)
        os.environ.update({"JX_WEB_SCHEME": scheme or web.catalog.name, "JX_WEB_PERIOD": str(period or ""),
                           "JX_WEB_DB": web.store.url, "JX_WEB_SECURE_COOKIES":
                           {"auto": "auto", "always": "1", "never": "0"}[secure_cookies]})
        if at is not None:
            threading.Thread(target=_daily_runner, args=(at, scheme, period, db), daemon=True).start()
        click.echo(f"serving {web.catalog.name} {web.catalog.period} on http://{host}:{port}/ "
                   f"({workers} worker{'s' if workers > 1 else ''})")
        options = {"host": host, "port": port, "proxy_headers": proxy_headers,
                   "forwarded_allow_ips": forwarded_allow_ips, "log_level": "warning"}
        if workers == 1:
            uvicorn.run(app, **options)
        else:
            web.store.close()
            uvicorn.run("jx_web.app:app_from_env", factory=True, workers=workers, **options)
