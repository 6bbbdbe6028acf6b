"""Entry point of jx-rules (group ``jx``, name ``rules``): registers the standard scoring rules."""

from jx_rules.bands import Bands, PassFail
from jx_rules.events import Discipline, PerEvent, PerWindow
from jx_rules.rewards import Honours, MajorCases, Workload
from jx_rules.stars import MysteryStars
from jx_rules.steps import BaseScore, DeductOnly
from jxcore.hookspecs import hookimpl

RULES = (BaseScore, DeductOnly, Bands, PassFail, PerEvent, Honours, MajorCases, Workload,
         MysteryStars, Discipline, PerWindow)


@hookimpl
def jx_register_rules(register):
    for rule in RULES:
        register(rule())
