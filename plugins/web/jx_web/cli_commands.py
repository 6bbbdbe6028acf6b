"""The commands of jx-web as module attributes, for the ``jx.commands`` entry points
(``serve = jx_web.cli_commands:serve``): jx imports this module only when ``jx serve`` runs or shows
its help. The command itself is defined in :mod:`jx_web.commands`."""

from __future__ import annotations

import click

from jx_web.commands import register

_commands = click.Group()
register(_commands)
serve = _commands.commands["serve"]
