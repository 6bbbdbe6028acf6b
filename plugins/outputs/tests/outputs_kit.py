"""Hand-made schemes and runs for the output tests: units u1…un, items A and B, a deduction item."""

from __future__ import annotations

import datetime as dt

import numpy as np

from jxcore.engine import aggregate
from jxcore.models import Measure, Run, RunResult, RunStatus
from jxcore.points import to_milli
from jxcore.ranking import rank_totals, ranking_settings
from jxcore.scheme import scheme_from_dict
from jxcore.store import Store

PLAN = {
    "scale": 100,
    "nodes": [
        {"code": "A", "name": "甲项", "points": 60, "children": [
            {"code": "A1", "name": "甲指标", "points": 60, "rule": "r", "collector": "c",
             }]},
        {"code": "B", "name": "乙项", "points": 40, "children": [
            {"code": "B1", "name": "乙指标", "points": 40, "rule": "r", "collector": "c"}]},
        {"code": "WJKF", "name": "违纪扣分", "scoring": "deduction", "cap": 10, "children": [
            {"code": "WJ1", "name": "违纪", "points": 10, "rule": "r", "collector": "c"}]},
    ],
}


def make_scheme(period: int = 2010, settings: dict | None = None, n: int = 5):
    units = [{"code": f"u{i}", "name": f"单位{i}"} for i in range(1, n + 1)]
    plan = {**PLAN, "nodes": [PLAN["nodes"][0] | {"children": [
        PLAN["nodes"][0]["children"][0] | {"stages": [{"date": dt.date(period, 6, 30), "target": 0.9}]}]},
        *PLAN["nodes"][1:]]}
    return scheme_from_dict(plan, units=units, period=period, name="demo", language="zh",
                            settings=settings or {})


def make_result(scheme, *, A1, B1=None, WJ1=None, values=None, as_of=None, final=False) -> RunResult:
    """A run whose indicator scores are given in points per unit; the engine sums and ranks them."""
    n = len(scheme.units)
    given = {"A1": A1, "B1": B1 or [0] * n, "WJ1": WJ1 or [0] * n}
    matrix = aggregate(scheme, {k: np.array([to_milli(x) for x in v], dtype=np.int64) for k, v in given.items()}, n)
    codes = tuple(scheme.nodes)
    measures = {"A1": Measure("A1", np.asarray(values if values is not None else [np.nan] * n, dtype=float),
                              source="SELECT unit, value FROM a1")}
    run = Run(scheme=scheme.name, period=scheme.period.year, as_of=as_of or scheme.period.end,
              started_at=dt.datetime.now(dt.UTC), status=RunStatus.SCORED, final=final)
    return RunResult(run=run, scheme=scheme, units=scheme.unit_table(), node_codes=codes, scores=matrix,
                     ranks=rank_totals(matrix, codes, ranking_settings(scheme)), measures=measures)


def save(store: Store, result: RunResult) -> str:
    with store.transaction() as tx:
        return tx.save_run(result, final=result.run.final)
