"""Entry point of the jx-outputs distribution (group ``jx``, name ``outputs``)."""

from jxcore import hookimpl
from jx_outputs.ranking import Ranking


@hookimpl
def jx_register_outputs(register):
    register(Ranking())
