"""Entry point of the jx-outputs distribution (group ``jx``, name ``outputs``).

Its commands (``jx report``, ``jx explain``) are declared in the ``jx.commands`` entry-point group
(jx_outputs.cli_commands), so listing them imports nothing."""

from jx_outputs.outputs import OUTPUTS, publish
from jxcore import hookimpl


@hookimpl
def jx_register_outputs(register):
    for output in OUTPUTS:
        register(output())


@hookimpl
def jx_run_finished(run):
    """The run is committed: its staged reports become the current ones."""
    publish(run.id)


@hookimpl
def jx_settings_keys():
    """The scheme settings these outputs read."""
    return ("commendation", "leadership_review")
