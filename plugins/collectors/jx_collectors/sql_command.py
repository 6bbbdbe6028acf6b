"""``jx sql``: the statements the system feed sends to each source, compiled for its engine."""

from __future__ import annotations

import datetime as dt

import click


@click.command("sql")
@click.option("--scheme", "scheme", required=True, metavar="NAME|PATH",
              help="An installed scheme pack's name (see `jx schemes`) or a pack directory.")
@click.option("--period", type=int, metavar="YEAR", help="The plan's year; default the latest.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="The as-of date written into the window conditions (default today, inside the period).")
def sql_command(scheme: str, period: int | None, as_of: dt.datetime | None) -> None:
    """Print the system feed's SQL (one fused GROUP BY per table, and each raw-SQL measure), in the
    dialect of each source's URL, with the window dates written in; no database is opened."""
    import sqlalchemy as sa

    from jx_collectors.system_feed import SystemFeed
    from jxcore.cli_kit import app
    from jxcore.engine import checked_as_of
    from jxcore.errors import UsageError
    from jxcore.interfaces import CollectRequest
    from jxcore.params import check_params
    from jxcore.services import open_scheme

    a = app()
    loaded = open_scheme(a.registry, scheme, period)
    day = checked_as_of(loaded, as_of.date() if as_of else None)
    feed = a.registry.collector(SystemFeed.name)
    requests = [CollectRequest(node, check_params(feed.params, node.collector.params)[0])
                for node in loaded.indicators() if node.collector.name == SystemFeed.name]
    by_source: dict[str, list[CollectRequest]] = {}
    for request in requests:
        by_source.setdefault(request.params["source"], []).append(request)
    for name, group in by_source.items():
        source = loaded.sources.get(name)
        if source is None:
            raise UsageError(f"scheme {loaded.name!r} has no source {name!r}",
                             hint=f"the scheme's sources are: {', '.join(loaded.sources) or 'none'}")
        try:
            dialect = sa.make_url(source.url).get_dialect()()
        except Exception as exc:
            raise UsageError(f"source {name!r}: no SQLAlchemy dialect for {source.url!r}: {exc}",
                             hint="check the URL and that its driver is installed") from None
        for what, sql in feed.queries(group, loaded.period, day, dialect):
            click.echo(f"-- {what}; {dialect.name}, as of {day.isoformat()}\n{sql};\n")
