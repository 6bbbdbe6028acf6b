"""Entry point of the standard collectors (group ``jx``, name ``collectors``).

``jx sql`` is declared in the ``jx.commands`` entry-point group (jx_collectors.sql_command)."""

from jx_collectors.manual import ManualCollector
from jx_collectors.system_feed import SystemFeed
from jxcore.hookspecs import hookimpl


@hookimpl
def jx_register_collectors(register):
    register(SystemFeed())
    register(ManualCollector())


@hookimpl
def jx_settings_keys():
    """The manual collector reads the pack's checklists (settings.checklists)."""
    return ("checklists",)
