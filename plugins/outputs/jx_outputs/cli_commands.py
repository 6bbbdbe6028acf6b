"""The commands of jx-outputs as module attributes, for the ``jx.commands`` entry points
(``report = jx_outputs.cli_commands:report``): jx imports this module only when one of them runs or
shows its help. The commands themselves are defined in :mod:`jx_outputs.commands`."""

from __future__ import annotations

import click

from jx_outputs.commands import register

_commands = click.Group()
register(_commands)
report = _commands.commands["report"]
explain = _commands.commands["explain"]
