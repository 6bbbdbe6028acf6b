"""Entry point of the standard collectors (group ``jx``, name ``collectors``)."""

from jxcore.hookspecs import hookimpl
from jx_collectors.manual import ManualCollector
from jx_collectors.system_feed import SystemFeed


@hookimpl
def jx_register_collectors(register):
    register(SystemFeed())
    register(ManualCollector())


@hookimpl
def jx_register_commands(cli):
    from jx_collectors.sql_command import sql_command

    cli.add_command(sql_command)
