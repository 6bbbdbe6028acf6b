"""Entry point of the jx-outputs distribution (group ``jx``, name ``outputs``)."""

from jx_outputs.outputs import OUTPUTS, publish
from jxcore import hookimpl


@hookimpl
def jx_register_outputs(register):
    for output in OUTPUTS:
        register(output())


@hookimpl
def jx_register_commands(cli):
    from jx_outputs.commands import register

    register(cli)


@hookimpl
def jx_run_finished(run):
    """The run is committed: its staged reports become the current ones."""
    publish(run.id)
