"""The commands of jx-evaluation as module attributes, for the ``jx.commands`` entry points
(``evaluate = jx_evaluation.cli_commands:evaluate``): jx imports this module only when ``jx evaluate``
runs or shows its help. The command itself is defined in :mod:`jx_evaluation.command`."""

from __future__ import annotations

import click

from jx_evaluation.command import register

_commands = click.Group()
register(_commands)
evaluate = _commands.commands["evaluate"]
