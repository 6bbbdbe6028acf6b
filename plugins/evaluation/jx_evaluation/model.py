"""The plan as a fast model of its variations: item sums, rule-parameter level tables, weights.

A total is ``Σ weighted items × (varied weight / nominal weight) + capped rewards + capped
deductions``, and an item is the sum of its indicators. So the model keeps, per item, the sum of
its indicators' scores (unclipped), and per indicator whose rule parameters vary a small table of
scores under ``levels`` drawn parameter sets (``(levels, units)``, stored as the change from the
plan's own score). A variation is a weight multiplier per weighted item and a level per varied
indicator: its totals are a gather and a sum over items, for all variations of a chunk at once.
The rules are called ``levels`` times per varied indicator, never once per variation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from jxcore.errors import JxError
from jxcore.interfaces import CollectRequest, RuleInput
from jxcore.models import Measure, RunResult, Scheme, Scoring
from jxcore.params import check_params
from jxcore.plugins import Registry

#: elements of one chunk's (variations × items × units) working array
CHUNK_ELEMENTS = 4_000_000


@attrs.frozen(eq=False)
class Levels:
    """One varied indicator: ``deltas[l, u]`` = score under parameter set ``l`` − the plan's score."""

    code: str
    item: int
    watched: tuple[int, ...]
    deltas: np.ndarray
    params: tuple[Mapping[str, Any], ...]


@attrs.frozen(eq=False)
class PlanModel:
    """Items (children of the root) as rows: ``raw[i, u]`` the unclipped sum of item i's indicators;
    ``weighted`` marks the items inside the 100 % and ``points`` their nominal points (milli);
    ``low``/``high`` the reward or deduction caps (±inf where none). ``watched`` are nodes whose
    scores the decisions read (commendation items, exclude_if_deducted), with ``watched_base``."""

    scheme: Scheme
    items: tuple[str, ...]
    weighted: np.ndarray
    points: np.ndarray
    low: np.ndarray
    high: np.ndarray
    raw: np.ndarray
    watched: tuple[str, ...]
    watched_item: np.ndarray
    watched_base: np.ndarray
    watched_is_item: np.ndarray
    levels: tuple[Levels, ...]

    @property
    def weighted_items(self) -> tuple[str, ...]:
        return tuple(c for c, w in zip(self.items, self.weighted) if w)

    @property
    def n_units(self) -> int:
        return self.raw.shape[1]


@attrs.frozen(eq=False)
class Variations:
    """``factors[v, i]``: weighted item i's varied weight / nominal weight in variation v;
    ``choice[v, j]`` the parameter set of varied indicator j; ``totals[v, u]`` (int64 milli);
    ``watched[v, k, u]`` the watched nodes' scores."""

    factors: np.ndarray
    choice: np.ndarray
    totals: np.ndarray
    watched: np.ndarray

    def __len__(self) -> int:
        return self.totals.shape[0]


def items_of(scheme: Scheme) -> dict[str, str]:
    """Node code → the code of the item (child of the root) it sits under."""
    top: dict[str, str] = {}
    for code, node in scheme.nodes.items():  # tree order: parents before children
        if node.parent == scheme.root:
            top[code] = code
        elif node.parent is not None:
            top[code] = top[node.parent]
    return top


def _under(scheme: Scheme, code: str) -> set[str]:
    """The indicators in the subtree of ``code``."""
    stack, found = [code], set()
    while stack:
        node = scheme.nodes[stack.pop()]
        if node.is_indicator:
            found.add(node.code)
        stack.extend(node.children)
    return found


def build_model(result: RunResult, registry: Registry, opts: Mapping[str, Any], watched: Sequence[str],
                rng: np.random.Generator) -> PlanModel:
    """The plan model of a scored run: item sums from its indicator scores, and level tables for the
    indicators whose rule parameters (or missing-data treatment) vary under ``opts``."""
    scheme = result.scheme
    items = tuple(n.code for n in scheme.items())
    row = {c: i for i, c in enumerate(result.node_codes)}
    item_of = items_of(scheme)
    index = {c: i for i, c in enumerate(items)}
    raw = np.zeros((len(items), len(result.units)), dtype=np.float64)
    for node in scheme.indicators():
        raw[index[item_of[node.code]]] += result.scores[row[node.code]]
    kinds = [scheme.nodes[c].scoring for c in items]
    caps = [scheme.nodes[c].cap for c in items]
    low = np.array([-c if k is Scoring.DEDUCTION and c is not None else -np.inf for k, c in zip(kinds, caps)])
    high = np.array([c if k is Scoring.REWARD and c is not None else np.inf for k, c in zip(kinds, caps)])
    low = np.where(np.array([k is Scoring.REWARD for k in kinds]), 0.0, low)
    high = np.where(np.array([k is Scoring.DEDUCTION for k in kinds]), 0.0, high)
    under = {code: _under(scheme, code) for code in watched}
    levels = []
    for node in scheme.indicators():
        table = _level_table(result, registry, node, opts, rng)
        if table is not None:
            deltas, params = table
            levels.append(Levels(code=node.code, item=index[item_of[node.code]],
                                 watched=tuple(k for k, w in enumerate(watched) if node.code in under[w]),
                                 deltas=deltas, params=params))
    return PlanModel(scheme=scheme, items=items, weighted=np.array([k is Scoring.WEIGHTED for k in kinds]),
                     points=np.array([scheme.nodes[c].points for c in items], dtype=np.float64),
                     low=low, high=high, raw=raw, watched=tuple(watched),
                     watched_item=np.array([index[item_of[w]] for w in watched], dtype=np.int64),
                     watched_base=np.array([result.scores[row[w]] for w in watched], dtype=np.float64).reshape(
                         len(watched), len(result.units)),
                     watched_is_item=np.array([w in index for w in watched], dtype=bool),
                     levels=tuple(levels))


def _varied_ranges(node, rule, opts: Mapping[str, Any]) -> dict[str, float]:
    """Parameter name → relative range for this indicator's rule (numeric parameters only)."""
    declared = {p.name: p for p in rule.params}
    ranges = {name: opts["param_range"] for name in opts["params"] if name in declared}
    ranges.update(opts["ranges"].get(node.rule.name, {}))
    ranges.update(opts["ranges"].get(node.code, {}))
    return {k: float(v) for k, v in ranges.items()
            if v > 0 and k in declared and declared[k].type in ("number", "integer")}


def _draw(value: Any, share: float, param, rng: np.random.Generator) -> Any:
    """``value`` ± ``share`` of its size, within the parameter's bounds. A value from 0 to 1 of a
    parameter not in points (a rate target such as 0.97) moves by ± ``share`` of its room to the
    nearer end instead (0.97 ± 10 % of 0.03; 0 and 1 stay), so a rate target never leaves 0..1 nor
    jumps past what units can reach. Points keep 3 decimals; integers stay integers."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    rate = param.validator is None and 0 <= value <= 1  # points parameters carry a points validator
    x = float(value) + rng.uniform(-share, share) * (min(value, 1 - value) if rate else abs(value))
    if param.minimum is not None:
        x = max(x, param.minimum)
    if param.maximum is not None:
        x = min(x, param.maximum)
    if param.type == "integer":
        return int(round(x))
    if param.validator is not None and param.validator(x) is not None:
        x = round(x, 3)
    return x


def _level_table(result: RunResult, registry: Registry, node, opts: Mapping[str, Any],
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[Mapping[str, Any], ...]] | None:
    """Scores of ``opts['levels']`` drawn parameter sets minus the plan's score; None if nothing varies."""
    rule = registry.rule(node.rule.name)
    params, _ = check_params(rule.params, node.rule.params)
    ranges = _varied_ranges(node, rule, opts)
    measure: Measure = result.measures[node.code]
    has_missing = bool(np.isnan(np.asarray(measure.value, dtype=np.float64)).any())
    vary_missing = (opts["missing"] == "vary" and has_missing and params.get("missing") in ("zero", "exclude")
                    and any(p.name == "missing" for p in rule.params))
    if not ranges and not vary_missing:
        return None
    declared = {p.name: p for p in rule.params}
    base = result.scores[result.node_codes.index(node.code)]
    deltas = np.zeros((opts["levels"], len(base)), dtype=np.int32)
    drawn = []
    for level in range(opts["levels"]):
        p = dict(params)
        for name, share in ranges.items():
            p[name] = _draw(p[name], share, declared[name], rng)
        if vary_missing:
            p["missing"] = ("zero", "exclude")[int(rng.integers(2))]
        scored = _score(rule, node, p, measure, result)
        if scored is None:  # the drawn set breaks a condition between parameters: keep the plan's
            p, scored = dict(params), base
        deltas[level] = scored - base
        drawn.append(p)
    if not deltas.any():
        return None
    return deltas, tuple(drawn)


def _score(rule, node, params: Mapping[str, Any], measure: Measure, result: RunResult) -> np.ndarray | None:
    """The rule's scores under ``params``, or None when the rule rejects them."""
    check = getattr(rule, "check", None)
    if check is not None and check([CollectRequest(node, params)]):
        return None
    as_of: dt.date = result.run.as_of
    inp = RuleInput(node=node, params=params, measure=measure, units=result.units, period=result.scheme.period,
                    as_of=as_of)
    try:
        got = np.asarray(rule.score(inp))
    except JxError:
        return None
    return got.astype(np.int64)


def weight_factors(model: PlanModel, multipliers: np.ndarray) -> np.ndarray:
    """Varied weight / nominal weight of each weighted item, from raw multipliers ``(n, k)``:
    weights ``points × m`` renormalised so they sum to the weighted items' nominal sum (the scale)."""
    points = model.points[model.weighted]
    weights = points * multipliers
    return weights * (points.sum() / weights.sum(axis=1, keepdims=True)) / points


def totals_for_weights(model: PlanModel, factors: np.ndarray) -> np.ndarray:
    """Totals (float milli) of the plan's own scores under weight ``factors`` ``(n, k)``: one matrix
    product over the weighted items plus the fixed rewards and deductions."""
    fixed = np.clip(model.raw[~model.weighted], model.low[~model.weighted, None],
                    model.high[~model.weighted, None]).sum(axis=0)
    return factors @ model.raw[model.weighted] + fixed


def simulate(model: PlanModel, n: int, opts: Mapping[str, Any], rng: np.random.Generator) -> Variations:
    """``n`` variations: weights ±``weight_range`` renormalised, one parameter set per varied indicator.

    Per batch of variations, each varied indicator adds its chosen sets' rows to its item (a gather
    over the level table), then the items are capped and weighted in one product over items. (A
    one-hot matrix product over all level tables does the same work 32 times over: measured slower.)"""
    k = int(model.weighted.sum())
    r = opts["weight_range"]
    factors = weight_factors(model, rng.uniform(1 - r, 1 + r, size=(n, k)))
    choice = rng.integers(0, opts["levels"], size=(n, len(model.levels)))
    n_items, n_units = model.raw.shape
    totals = np.empty((n, n_units), dtype=np.int64)
    watched = np.empty((n, len(model.watched), n_units), dtype=np.int64)
    chunk = max(1, CHUNK_ELEMENTS // max(1, n_items * n_units))
    w = np.flatnonzero(model.weighted)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        items = np.repeat(model.raw[None], stop - start, axis=0)
        nodes = np.repeat(model.watched_base[None], stop - start, axis=0)
        for j, lv in enumerate(model.levels):
            delta = lv.deltas[choice[start:stop, j]]
            items[:, lv.item] += delta
            for kw in lv.watched:
                nodes[:, kw] += delta
        np.clip(items, model.low[None, :, None], model.high[None, :, None], out=items)
        for kw in np.flatnonzero(model.watched_is_item):  # a watched item: its capped sum
            nodes[:, kw] = items[:, model.watched_item[kw]]
        scale = np.ones((stop - start, n_items))
        scale[:, w] = factors[start:stop]
        totals[start:stop] = np.rint(np.einsum("vi,viu->vu", scale, items))
        watched[start:stop] = np.rint(nodes * scale[:, model.watched_item][:, :, None])
    return Variations(factors=factors, choice=choice, totals=totals, watched=watched)
