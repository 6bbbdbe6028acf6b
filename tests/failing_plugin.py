"""A plugin for the CLI tests: a rule that crashes and an output that crashes."""

import numpy as np

from jxcore import hookimpl
from jxcore.models import Measure


class Crashing:
    name = "test_crashing"
    description = "raises inside score"
    params = ()

    def score(self, inp):
        raise ZeroDivisionError("the rule divided by zero")


class Ones:
    name = "test_ones"
    description = "1.0 for every unit"
    params = ()

    def collect(self, ctx, requests):
        return {r.node.code: Measure(r.node.code, np.ones(len(ctx.units))) for r in requests}


class Full:
    name = "test_full"
    description = "full points"
    params = ()

    def score(self, inp):
        return np.full(len(inp.units), inp.points, dtype=np.int64)


class Exploding:
    name = "test_exploding"
    description = "raises inside emit"
    params = ()

    def emit(self, ctx):
        raise RuntimeError("the printer caught fire")


@hookimpl
def jx_register_rules(register):
    register(Crashing())
    register(Full())


@hookimpl
def jx_register_collectors(register):
    register(Ones())


@hookimpl
def jx_register_outputs(register):
    register(Exploding())
