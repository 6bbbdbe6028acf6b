"""The applications of results (绩效应用) as plain functions over arrays: a service layer.

Outputs, ``jx report`` and a later web app call these; none prints or writes. Every function is
vectorized over units (argsort / lexsort / searchsorted), so 30,000 units cost milliseconds.
Settings come from the scheme's ``settings:`` (``ranking``, ``commendation``,
``leadership_review``), checked against the declarations below; problems raise SchemeError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from jx_outputs.view import RunView
from jx_rules.stages import STAGE_PARAMS, due_stage, warning_levels
from jxcore.models import Stage, positions
from jxcore.params import Param
from jxcore.points import to_milli
from jxcore.ranking import rank_values, ranking_settings
from jxcore.settings import checked_settings


def _points_problem(value: object) -> str | None:
    """What is wrong with ``value`` as points (more than 3 decimals, beyond the range), or None."""
    try:
        to_milli(value)  # type: ignore[arg-type]
    except ValueError as exc:
        return str(exc)
    return None


#: settings that name nodes of the plan
NODE_LISTS = ("items", "exclude_if_deducted")

COMMENDATION_SETTINGS = (
    Param("top", "integer", "commend the top N by total", default=10, minimum=0),
    Param("items", "list", "node codes with a single-item commendation (单项先进)", default=[]),
    Param("item_top", "integer", "how many units each single item commends", default=1, minimum=1),
    Param("exclude_if_deducted", "list", "a unit with a deduction on any of these nodes is not eligible",
          default=[]),
)
REVIEW_SETTINGS = (
    Param("bottom", "integer", "K: the bottom K units by total", default=3, minimum=1),
    Param("admonition_years", "integer", "M: bottom K M years running → admonition talk", default=2, minimum=1),
    Param("reshuffle_years", "integer", "M′: bottom K M′ years running and below the pass line → reshuffle",
          default=3, minimum=1),
    Param("pass_line", "number", "the pass line (合格线) in points of the scheme's scale",
          validator=_points_problem),
)


# ---------------------------------------------------------------------------------------------
# Ranking (排行榜)


@attrs.frozen(eq=False)
class Ranking:
    """By total: ``order`` (unit positions, best first), ``ranks``, ``gaps`` (milli-points to the
    unit above; 0 for the first), ``previous`` ranks (0 = not in the previous run) and ``moves``
    (previous − now: positive moved up). ``item_ranks``: node code → ranks on that item."""

    order: np.ndarray
    ranks: np.ndarray
    gaps: np.ndarray
    previous: np.ndarray
    moves: np.ndarray
    item_ranks: Mapping[str, np.ndarray]


def ranking(view: RunView, previous: RunView | None = None) -> Ranking:
    """Rank by total (the run's ranks) and by each major item, ties as ``settings.ranking`` says."""
    opts = ranking_settings(view.scheme)
    totals, ranks = view.totals, view.ranks
    order = np.lexsort((np.arange(len(view)), ranks))
    gaps = np.zeros(len(view), dtype=np.int64)
    gaps[order[1:]] = totals[order[:-1]] - totals[order[1:]]
    prev = np.zeros(len(view), dtype=np.int64)
    if previous is not None:
        where = positions(previous.codes, view.codes)
        prev = np.where(where >= 0, previous.ranks[np.maximum(where, 0)], 0)
    moves = np.where(prev > 0, prev - ranks, 0)
    item_ranks = {item.code: rank_values(view.node_scores(item.code), ties=opts["ties"], tie_keys=[totals])
                  for item in view.items()}
    return Ranking(order=order, ranks=ranks, gaps=gaps, previous=prev, moves=moves, item_ranks=item_ranks)


# ---------------------------------------------------------------------------------------------
# Commendation (评先评优)


@attrs.frozen(eq=False)
class Commendation:
    """Unit positions: ``top`` by total (best first), ``items`` node code → the best on that node,
    ``excluded`` the units not eligible, with ``excluded_by`` the nodes that made them so."""

    top_n: int
    top: np.ndarray
    items: Mapping[str, np.ndarray]
    excluded: np.ndarray
    excluded_by: tuple[str, ...]


def commendation(view: RunView) -> Commendation:
    """Top N by total and the best units of each named item, among eligible units only.

    Equal scores at the cut-off are all commended (a shared rank is never split).
    """
    opts = checked_settings(view.scheme, "commendation", COMMENDATION_SETTINGS, node_lists=NODE_LISTS)
    deducted = np.zeros(len(view), dtype=bool)
    for code in opts["exclude_if_deducted"]:
        deducted |= view.node_scores(code) < 0
    eligible = np.flatnonzero(~deducted)

    def best(values: np.ndarray, n: int) -> np.ndarray:
        among = values[eligible]
        ranks = rank_values(among)
        chosen = np.flatnonzero(ranks <= n)
        return eligible[chosen[np.lexsort((chosen, ranks[chosen]))]]

    items = {code: best(view.node_scores(code), opts["item_top"]) for code in opts["items"]}
    return Commendation(top_n=opts["top"], top=best(view.totals, opts["top"]) if opts["top"] else eligible[:0],
                        items=items, excluded=np.flatnonzero(deducted),
                        excluded_by=tuple(opts["exclude_if_deducted"]))


# ---------------------------------------------------------------------------------------------
# Leadership review (班子评价)


@attrs.frozen(eq=False)
class YearTotals:
    """One year's final result: unit codes and totals (milli-points)."""

    year: int
    codes: np.ndarray
    totals: np.ndarray

    @classmethod
    def of(cls, view_or_stored: Any, year: int) -> YearTotals:
        codes = getattr(view_or_stored, "codes", None)
        if codes is None:
            codes = view_or_stored.unit_codes
        return cls(year, np.asarray(codes, dtype=object), np.asarray(view_or_stored.totals))


@attrs.frozen(eq=False)
class Review:
    """Unit positions (in the current run) for ``admonition`` and ``reshuffle``; ``bottom`` maps
    each year looked at to the codes of its bottom K; ``missing`` lists the years that had no final
    result, so the rule needing them could not be applied (``command`` makes one)."""

    bottom_k: int
    admonition_years: int
    reshuffle_years: int
    pass_line: int
    admonition: np.ndarray
    reshuffle: np.ndarray
    bottom: Mapping[int, np.ndarray]
    missing: tuple[int, ...]

    def command(self, scheme: str, year: int) -> str:
        return f"jx run --scheme {scheme} --period {year} --final"


def review_years(view: RunView) -> list[int]:
    """The earlier years the review needs, most recent first."""
    opts = checked_settings(view.scheme, "leadership_review", REVIEW_SETTINGS)
    span = max(opts["admonition_years"], opts["reshuffle_years"])
    year = view.scheme.period.year
    return [year - i for i in range(1, span)]


def leadership_review(view: RunView, earlier: Mapping[int, YearTotals | None]) -> Review:
    """Bottom K by total M years running → admonition; M′ years running and the current total
    below the pass line → reshuffle. ``earlier`` maps each of :func:`review_years` to that
    year's final result (None where there is none). The current run counts as the current year."""
    opts = checked_settings(view.scheme, "leadership_review", REVIEW_SETTINGS)
    k, m_adm, m_res = opts["bottom"], opts["admonition_years"], opts["reshuffle_years"]
    pass_line = to_milli(opts["pass_line"])
    year = view.scheme.period.year
    results = {year: YearTotals.of(view, year), **{y: r for y, r in earlier.items()}}
    bottom: dict[int, np.ndarray] = {}
    in_bottom: dict[int, np.ndarray] = {}
    for y, res in results.items():
        if res is None:
            continue
        is_bottom = rank_values(res.totals, higher_first=False) <= k
        bottom[y] = res.codes[is_bottom]
        where = positions(res.codes, view.codes)
        in_bottom[y] = np.where(where >= 0, is_bottom[np.maximum(where, 0)], False)
    needed = [year - i for i in range(max(m_adm, m_res))]
    missing = tuple(y for y in needed if y not in in_bottom)

    def running(years: int) -> np.ndarray:
        span = [year - i for i in range(years)]
        if any(y not in in_bottom for y in span):
            return np.zeros(len(view), dtype=bool)
        return np.logical_and.reduce([in_bottom[y] for y in span])

    def chosen(mask: np.ndarray) -> np.ndarray:
        """Positions where ``mask`` holds, lowest total first."""
        picked = np.flatnonzero(mask)
        return picked[np.argsort(view.totals[picked], kind="stable")]

    return Review(bottom_k=k, admonition_years=m_adm, reshuffle_years=m_res, pass_line=pass_line,
                  admonition=chosen(running(m_adm)),
                  reshuffle=chosen(running(m_res) & (view.totals < pass_line)),
                  bottom=bottom, missing=missing)


def final_results(store: Any, scheme: str, years: Sequence[int]) -> dict[int, YearTotals | None]:
    """Each year's newest final run from the store (None where there is none)."""
    found = {}
    for year in years:
        run = store.latest_run(scheme, year, final_only=True)
        found[year] = None if run is None else YearTotals.of(run, year)
    return found


# ---------------------------------------------------------------------------------------------
# Early warnings (预警)


@attrs.frozen(eq=False)
class Warnings:
    """Stage-target warning levels (0 none, 1 关注, 2 警告, 3 严重警告): ``levels[i, u]`` for
    ``indicators[i]`` and unit u; ``before`` the levels of the previous run (None if none);
    ``stages[i]`` the milestone due at the run's date (None before the first)."""

    indicators: tuple[str, ...]
    stages: tuple[Stage | None, ...]
    levels: np.ndarray
    before: np.ndarray | None

    @property
    def new(self) -> np.ndarray:
        """Warnings raised since the previous run (a higher level than before, or a first one)."""
        if self.before is None:
            return self.levels > 0
        return self.levels > self.before


def warning_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`jx_rules.stages.STAGE_PARAMS` among an output's params, for warning_levels."""
    return {p.name: params[p.name] for p in STAGE_PARAMS if p.name in params}


def warnings(view: RunView, previous: RunView | None = None, **options: Any) -> Warnings:
    """Levels of every indicator with stage targets as of the run's date, and as of the previous run."""
    nodes = [n for n in view.scheme.indicators() if n.stages and n.code in view.values]
    n_units = len(view)

    def levels_of(run: RunView) -> np.ndarray:
        out = np.zeros((len(nodes), len(run)), dtype=np.int8)
        for i, node in enumerate(nodes):
            if node.code in run.values:
                out[i] = warning_levels(run.values[node.code], node.stages, run.as_of, codes=list(run.codes),
                                        indicator=node.code, **options)
        return out

    levels = levels_of(view) if nodes else np.zeros((0, n_units), dtype=np.int8)
    before = None
    if previous is not None:
        old = levels_of(previous)
        where = positions(previous.codes, view.codes)
        before = np.where(where >= 0, old[:, np.maximum(where, 0)] if len(previous) else 0, 0).astype(np.int8)
    return Warnings(indicators=tuple(n.code for n in nodes),
                    stages=tuple(due_stage(n.stages, view.as_of) for n in nodes), levels=levels, before=before)


# ---------------------------------------------------------------------------------------------
# Statuses: who each application picks, as masks (the core's what-if compares two plans with them)


def commendation_statuses(view: RunView) -> dict[str, np.ndarray]:
    """``commended`` (top N by total) and ``commended:CODE`` (single items) as bool per unit."""
    found = commendation(view)
    masks = {"commended": np.isin(np.arange(len(view)), found.top)}
    masks.update({f"commended:{code}": np.isin(np.arange(len(view)), units) for code, units in found.items.items()})
    return masks


def review_statuses(view: RunView, store: Any) -> dict[str, np.ndarray]:
    """``admonition`` and ``reshuffle`` as bool per unit, with earlier years' final results from ``store``."""
    if "leadership_review" not in view.scheme.settings:
        return {}
    earlier = final_results(store, view.scheme.name, review_years(view)) if store is not None else {}
    found = leadership_review(view, earlier)
    return {"admonition": np.isin(np.arange(len(view)), found.admonition),
            "reshuffle": np.isin(np.arange(len(view)), found.reshuffle)}
