"""Entry point of the standard collectors (group ``jx``, name ``collectors``)."""

from jxcore.hookspecs import hookimpl
from jx_collectors.system_feed import SystemFeed


@hookimpl
def jx_register_collectors(register):
    register(SystemFeed())
