"""The evaluation (绩效评价) as plain functions: attrs values and numpy arrays in and out.

``jx evaluate``, its workbook and the web app render these; none prints, writes or reads the
environment. Start with :func:`evaluate` (everything for one scheme period from a store), or call
the parts on a :class:`Baseline`:

- :func:`robustness` — Monte Carlo over plausible plan variations: rank intervals, P(top N),
  P(bottom K), and how often each year-end decision (commendation, admonition, reshuffle) holds;
- :func:`sensitivity` — Sobol' first-order and total indices of the totals and of the bottom-K set
  to each weighted item's weight (:func:`sobol_indices` is the generic SALib wrapper);
- :func:`fairness` — correlation of total and items with unit size, ranks within size classes;
- :func:`resources` — workload per head against the system average, peer groups, units far from peers;
- :func:`plan_review` — the plan judged by its data: separation, effective vs nominal weight,
  redundant indicator pairs, units at cap or floor, ranks moved by rewards and deductions.

Decisions are those of :mod:`jx_outputs.services` (commendation, leadership_review), applied to
each variation; the earlier years' final results come from the store as they are (published
results are final; only the evaluated year varies).
"""

from __future__ import annotations

import datetime as dt
import warnings as _warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from scipy import stats

from jx_evaluation.model import (
    PlanModel,
    Variations,
    build_model,
    items_of,
    simulate,
    totals_for_weights,
    weight_factors,
)
from jx_evaluation.settings import evaluation_settings
from jx_outputs.services import (
    COMMENDATION_SETTINGS,
    NODE_LISTS,
    REVIEW_SETTINGS,
    YearTotals,
    commendation,
    final_results,
    leadership_review,
    review_years,
)
from jx_rules.rewards import size_class
from jxcore.engine import aggregate, checked_as_of, collect, score
from jxcore.errors import JxError, UsageError
from jxcore.models import Measure, Run, RunResult, RunStatus, Scheme, Scoring, UnitTable
from jxcore.plugins import Registry
from jxcore.points import to_milli
from jxcore.ranking import rank_totals, rank_values, ranking_settings
from jxcore.services import RunView, plan_of, view_of
from jxcore.settings import checked_settings

# ---------------------------------------------------------------------------------------------
# The baseline: the plan scored once, with the store's history


@attrs.frozen(eq=False)
class Baseline:
    """The evaluated year scored once from its data (``result``: measures and every node's scores)
    with the plan that scored the stored run, as of that run's date; the earlier years' final totals
    (for the leadership review); last year's run read with its own plan and its units (for
    fairness), None where the store has none. ``drift`` counts units whose re-scored total differs
    from the stored run's (entries changed since); ``plan_differs`` says the installed plan of the
    period is not the one that scored the run (the evaluation uses the run's own)."""

    result: RunResult
    stored_run_id: str
    earlier: Mapping[int, YearTotals | None]
    previous: RunView | None
    previous_units: UnitTable | None
    drift: int
    plan_differs: bool = False

    @property
    def view(self) -> RunView:
        return RunView.from_result(self.result)


def _period_run(store: Any, scheme: str, year: int):
    """The period's final run, else its current one (None without a run)."""
    return store.latest_run(scheme, year, final_only=True) or store.latest_run(scheme, year)


def load_baseline(store: Any, registry: Registry, scheme: Scheme, *,
                  measures: Mapping[str, Measure] | None = None) -> Baseline:
    """Score the plan that scored the period's stored run (its final run, else its latest; the plan
    as :func:`jxcore.services.plan_of` reads it from the store) from its sources and the store's
    entries as of that run's date: UsageError naming ``jx run`` when the period has no run.
    ``measures`` supplies measures by indicator code instead of their collectors (as in
    :func:`jxcore.engine.run_scheme`)."""
    year = scheme.period.year
    stored = _period_run(store, scheme.name, year)
    if stored is None:
        raise UsageError(f"the store has no run of scheme {scheme.name} for {year}",
                         hint=f"score the period first: jx run --scheme {scheme.name} --period {year} --final")
    plan, differs = plan_of(store, registry, stored, scheme)
    as_of = checked_as_of(plan, stored.as_of)
    units = plan.unit_table()
    measures = collect(plan, registry, units, as_of, given=measures or {}, store=store)
    matrix = aggregate(plan, score(plan, registry, units, measures, as_of), len(units))
    codes = tuple(plan.nodes)
    run = Run(scheme=plan.name, period=year, as_of=as_of, started_at=dt.datetime.now(dt.timezone.utc),
              status=RunStatus.SCORED, final=stored.final)
    result = RunResult(run=run, scheme=plan, units=units, node_codes=codes, scores=matrix,
                       ranks=rank_totals(matrix, codes, ranking_settings(plan)), measures=measures)
    view = RunView.from_result(result)
    where = units.positions(stored.unit_codes)
    drift = int(np.sum(where < 0)) + int(np.sum(stored.totals[where >= 0] != matrix[0][where[where >= 0]]))
    previous, previous_units = _last_year(store, registry, plan)
    earlier = final_results(store, plan.name, review_years(view)) if _has_review(plan) else {}
    return Baseline(result=result, stored_run_id=stored.id, earlier=earlier, previous=previous,
                    previous_units=previous_units, drift=drift, plan_differs=differs)


def _has_review(scheme: Scheme) -> bool:
    """Whether the plan applies the leadership review (it needs settings.leadership_review.pass_line)."""
    return "leadership_review" in scheme.settings


def _last_year(store: Any, registry: Registry, scheme: Scheme) -> tuple[RunView | None, UnitTable | None]:
    """Last year's final run (else its current one) read with its own plan, or (None, None)."""
    stored = _period_run(store, scheme.name, scheme.period.year - 1)
    if stored is None:
        return None, None
    try:
        view = view_of(store, registry, stored)
    except JxError:  # stored without its plan, and that year's plan is no longer installed
        return None, None
    return view, view.scheme.unit_table()


# ---------------------------------------------------------------------------------------------
# Robustness


@attrs.frozen
class Decision:
    """One year-end decision about one unit: ``kind`` is commendation, item_commendation (``node``
    names the item), admonition or reshuffle; ``decided`` whether the plan as written decides it;
    ``share`` of variations in which it holds; ``robust`` when that share reaches holds_share (for a
    decision the plan does not make: when it is made in less than 1 − holds_share of variations)."""

    kind: str
    unit: str
    name: str
    node: str | None
    decided: bool
    share: float
    robust: bool


@attrs.frozen(eq=False)
class Robustness:
    """Per unit (aligned with ``codes``): ``rank`` as planned, ``rank_low``/``rank_median``/
    ``rank_high`` (the 5 %, 50 %, 95 % quantiles over variations), ``p_top`` (rank <= top_n) and
    ``p_bottom`` (among the bottom_k); ``shares`` maps each decision kind (``item_commendation:<node>``
    for single items) to the share of variations deciding it per unit; ``decisions`` lists every
    decision the plan makes and every one the variations make in more than 1 − holds_share."""

    codes: np.ndarray
    names: np.ndarray
    variations: int
    seed: int
    top_n: int
    bottom_k: int
    holds_share: float
    rank: np.ndarray
    rank_low: np.ndarray
    rank_median: np.ndarray
    rank_high: np.ndarray
    p_top: np.ndarray
    p_bottom: np.ndarray
    shares: Mapping[str, np.ndarray]
    decisions: tuple[Decision, ...]
    missing_years: tuple[int, ...]
    varied_indicators: tuple[str, ...]


def variation_ranks(totals: np.ndarray, *, higher_first: bool = True) -> np.ndarray:
    """1-based ranks of each row of ``totals`` (variations × units); equal totals share a rank."""
    return stats.rankdata(-totals if higher_first else totals, method="min", axis=1).astype(np.int64)


def _watched(scheme: Scheme) -> tuple[str, ...]:
    """The nodes the decisions read besides the total: single-item commendations, exclusions."""
    opts = checked_settings(scheme, "commendation", COMMENDATION_SETTINGS, node_lists=NODE_LISTS)
    return tuple(dict.fromkeys([*opts["items"], *opts["exclude_if_deducted"]]))


def plan_model(baseline: Baseline, registry: Registry, opts: Mapping[str, Any]) -> PlanModel:
    """The fast model of the baseline's plan (see :mod:`jx_evaluation.model`), drawn from ``opts['seed']``."""
    rng = np.random.default_rng(np.random.SeedSequence([opts["seed"], 1]))
    return build_model(baseline.result, registry, opts, _watched(baseline.result.scheme), rng)


def run_variations(model: PlanModel, opts: Mapping[str, Any]) -> Variations:
    """``opts['variations']`` variations of the plan, drawn from ``opts['seed']``."""
    rng = np.random.default_rng(np.random.SeedSequence([opts["seed"], 2]))
    return simulate(model, opts["variations"], opts, rng)


def robustness(baseline: Baseline, model: PlanModel, variations: Variations, opts: Mapping[str, Any]) -> Robustness:
    """Rank intervals, P(top N), P(bottom K) and each decision's share over ``variations``."""
    view = baseline.view
    scheme = view.scheme
    n, n_units = variations.totals.shape
    ranks = variation_ranks(variations.totals)
    low, median, high = np.quantile(ranks, [0.05, 0.5, 0.95], axis=0, method="inverted_cdf")
    plan_commend = commendation(view)
    has_review = _has_review(scheme)
    plan_review = leadership_review(view, baseline.earlier) if has_review else None
    # Without a leadership review the bottom K is still shown, with the review's default K.
    bottom_k = plan_review.bottom_k if plan_review else next(p.default for p in REVIEW_SETTINGS if p.name == "bottom")
    in_bottom = variation_ranks(variations.totals, higher_first=False) <= bottom_k
    kinds = ["commendation", *(f"item_commendation:{c}" for c in plan_commend.items),
             *(("admonition", "reshuffle") if has_review else ())]
    counts = {kind: np.zeros(n_units) for kind in kinds}
    node_codes = (scheme.root, *model.watched)
    for v in range(n):
        varied = RunView(scheme=scheme, run_id=None, as_of=view.as_of, final=view.final, codes=view.codes,
                         names=view.names, node_codes=node_codes,
                         scores=np.vstack([variations.totals[v:v + 1], variations.watched[v]]), ranks=ranks[v])
        got = commendation(varied)
        counts["commendation"][got.top] += 1
        for code, units in got.items.items():
            counts[f"item_commendation:{code}"][units] += 1
        if has_review:
            review = leadership_review(varied, baseline.earlier)
            counts["admonition"][review.admonition] += 1
            counts["reshuffle"][review.reshuffle] += 1
    shares = {k: c / n for k, c in counts.items()}
    planned = {"commendation": plan_commend.top, **{f"item_commendation:{c}": u for c, u in plan_commend.items.items()},
               **({"admonition": plan_review.admonition, "reshuffle": plan_review.reshuffle} if plan_review else {})}
    hold = opts["holds_share"]
    decisions = []
    for kind, share in shares.items():
        decided = np.zeros(n_units, dtype=bool)
        decided[planned[kind]] = True
        listed = decided | (share > 1 - hold)
        base, _, node = kind.partition(":")
        for u in np.flatnonzero(listed)[np.argsort(-share[listed], kind="stable")]:
            robust = share[u] >= hold if decided[u] else share[u] < 1 - hold
            decisions.append(Decision(kind=base, unit=str(view.codes[u]), name=str(view.names[u]), node=node or None,
                                      decided=bool(decided[u]), share=float(share[u]), robust=bool(robust)))
    return Robustness(codes=view.codes, names=view.names, variations=n, seed=opts["seed"],
                      top_n=plan_commend.top_n, bottom_k=bottom_k, holds_share=hold, rank=np.asarray(view.ranks),
                      rank_low=low.astype(np.int64), rank_median=median.astype(np.int64),
                      rank_high=high.astype(np.int64), p_top=(ranks <= plan_commend.top_n).mean(axis=0),
                      p_bottom=in_bottom.mean(axis=0), shares=shares, decisions=tuple(decisions),
                      missing_years=plan_review.missing if plan_review else (),
                      varied_indicators=tuple(lv.code for lv in model.levels))


# ---------------------------------------------------------------------------------------------
# Sensitivity (Sobol')


@attrs.frozen(eq=False)
class Sobol:
    """First-order (``s1``) and total (``st``) indices per input, with 95 % bootstrap half-widths.

    For several outputs (one per unit) the indices are the variance-weighted means of the outputs'
    indices (the generalised indices of Gamboa et al.: the share of the summed variance; the
    half-widths bootstrap that pooled index); the per-output indices are in ``s1_each``/``st_each``
    (outputs × inputs, NaN for a constant output) with each output's ``variance``."""

    names: tuple[str, ...]
    s1: np.ndarray
    st: np.ndarray
    s1_conf: np.ndarray
    st_conf: np.ndarray
    s1_each: np.ndarray
    st_each: np.ndarray
    variance: np.ndarray
    evaluations: int


#: bootstrap resamples for the 95 % half-widths, as SALib's analyze does by default
RESAMPLES = 100
#: elements of one bootstrap chunk (samples × resamples × outputs)
BOOTSTRAP_ELEMENTS = 20_000_000
#: outputs the bootstrap of a pooled index resamples at most (chosen at random, seeded): the point
#: estimates use every output; half-widths over every unit of a province would cost a minute
BOOTSTRAP_OUTPUTS = 50


def sobol_indices(model: Callable[[np.ndarray], np.ndarray], names: Sequence[str], bounds: Sequence[Sequence[float]],
                  *, n: int = 1024, seed: int = 0) -> Sobol:
    """Sobol' indices of ``model`` (``X`` of shape (N, inputs) → ``Y`` (N,) or (N, outputs)) with
    independent uniform inputs in ``bounds``: SALib's Saltelli sample and SALib's estimators
    (``first_order``, ``total_order``: Saltelli et al. 2010), applied to every output at once, with
    bootstrap half-widths resampled as SALib's ``analyze`` does (for more than
    :data:`BOOTSTRAP_OUTPUTS` outputs, on that many of them drawn at random)."""
    from SALib.analyze.sobol import first_order, total_order
    from SALib.sample import sobol as sample

    k = len(names)
    problem = {"num_vars": k, "names": list(names), "bounds": [list(b) for b in bounds]}
    x = sample.sample(problem, n, calc_second_order=False, seed=seed)
    y = np.asarray(model(x), dtype=np.float64).reshape(len(x), -1)
    m = y.shape[1]
    # Saltelli's layout without second order: per base sample, A, then AB_1 … AB_k, then B.
    a, b = y.reshape(n, k + 2, m)[:, 0], y.reshape(n, k + 2, m)[:, k + 1]
    variance = np.var(np.r_[a, b], axis=0)
    varying = variance > 1e-12 * max(1.0, float(np.abs(y).max()) ** 2 if y.size else 0.0)
    # Standardised per output, as SALib's analyze does: the estimators use uncentred products,
    # whose spread grows with the mean (a total of 700 points varying by 30).
    spread = np.sqrt(np.where(varying, variance, 1.0))
    rows = ((y - y.mean(axis=0)) / spread).reshape(n, k + 2, m)
    a, b = rows[:, 0], rows[:, k + 1]
    each = {key: np.full((m, k), np.nan) for key in ("S1", "ST")}
    rng = np.random.default_rng(seed)
    resample = rng.integers(n, size=(n, RESAMPLES))
    pooled_boot = {key: np.zeros((RESAMPLES, k)) for key in ("S1", "ST")}
    weight_boot = np.zeros(RESAMPLES)
    cols = np.flatnonzero(varying)
    boot_cols = set(rng.choice(cols, BOOTSTRAP_OUTPUTS, replace=False).tolist()
                    if len(cols) > BOOTSTRAP_OUTPUTS else cols.tolist())
    chunk = max(1, BOOTSTRAP_ELEMENTS // (n * RESAMPLES))
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)  # SALib's "constant result" note: handled by ``varying``
        for j in range(k if len(cols) else 0):
            each["S1"][cols, j] = first_order(a[:, cols], rows[:, j + 1][:, cols], b[:, cols])
            each["ST"][cols, j] = total_order(a[:, cols], rows[:, j + 1][:, cols], b[:, cols])
        sampled = np.array(sorted(boot_cols), dtype=np.int64)
        for start in range(0, len(sampled), chunk):
            c = sampled[start:start + chunk]
            ar, br = a[:, c][resample], b[:, c][resample]
            var_r = np.var(np.concatenate([ar, br]), axis=0) * variance[c]  # (resamples, outputs), unscaled
            weight_boot += var_r.sum(axis=1)
            for j in range(k):
                abr = rows[:, j + 1][:, c][resample]
                pooled_boot["S1"][:, j] += (first_order(ar, abr, br) * var_r).sum(axis=1)
                pooled_boot["ST"][:, j] += (total_order(ar, abr, br) * var_r).sum(axis=1)
    weights = np.where(varying, variance, 0.0)
    total = weights.sum()
    z = stats.norm.ppf(0.975)

    def pooled(key: str) -> tuple[np.ndarray, np.ndarray]:
        if total == 0:
            return np.full(k, np.nan), np.full(k, np.nan)
        boot = pooled_boot[key] / weight_boot[:, None]
        return np.nansum(each[key] * weights[:, None], axis=0) / total, z * boot.std(axis=0, ddof=1)

    (s1, s1_conf), (st, st_conf) = pooled("S1"), pooled("ST")
    return Sobol(names=tuple(names), s1=s1, st=st, s1_conf=s1_conf, st_conf=st_conf, s1_each=each["S1"],
                 st_each=each["ST"], variance=variance, evaluations=len(x))


#: units whose totals are Sobol' outputs at most (a seeded random subset beyond): 8,192 plan
#: evaluations × 30,000 units would hold 2 GB of totals
SOBOL_UNITS = 2000
#: plan evaluations whose totals are held at once while finding the bottom K
SOBOL_CHUNK_ELEMENTS = 8_000_000


@attrs.frozen(eq=False)
class Sensitivity:
    """Sobol' indices of the totals (``totals``: one output per unit of ``total_units``, every unit
    up to :data:`SOBOL_UNITS`) and of the bottom-K set (``bottom``: one 0/1 output per unit of
    ``bottom_units``, the units in the bottom K in some of the sample's plans) to each weighted
    item's weight (``items``, nominal ``weights`` as shares of the scale), weights varying
    ±``weight_range``; ``total_units``/``bottom_units`` are unit positions, the rows of the
    indices' ``s1_each``/``st_each``."""

    items: tuple[str, ...]
    weights: np.ndarray
    weight_range: float
    totals: Sobol
    bottom: Sobol
    bottom_k: int
    total_units: np.ndarray
    bottom_units: np.ndarray


def sensitivity(model: PlanModel, opts: Mapping[str, Any], bottom_k: int) -> Sensitivity | None:
    """Sobol' indices to the item weights (rule parameters at the plan's values); None when the
    weights do not vary (``weight_range`` 0) or the plan has no weighted item."""
    items = model.weighted_items
    r = opts["weight_range"]
    if not items or r == 0:
        return None
    bounds = [[1 - r, 1 + r]] * len(items)
    n, seed = opts["sobol_samples"], opts["seed"]
    n_units = model.n_units
    total_units = np.arange(n_units) if n_units <= SOBOL_UNITS else np.sort(
        np.random.default_rng(np.random.SeedSequence([seed, 3])).choice(n_units, SOBOL_UNITS, replace=False))
    sub = attrs.evolve(model, raw=model.raw[:, total_units])
    found: dict[str, np.ndarray] = {}

    def totals(x: np.ndarray) -> np.ndarray:
        return np.rint(totals_for_weights(sub, weight_factors(model, x)))

    def bottom(x: np.ndarray) -> np.ndarray:
        """In the bottom K: a total at most the K-th lowest (equal totals share a rank), in chunks."""
        member = np.zeros((len(x), n_units), dtype=bool)
        step = max(1, SOBOL_CHUNK_ELEMENTS // n_units)
        for start in range(0, len(x), step):
            t = np.rint(totals_for_weights(model, weight_factors(model, x[start:start + step])))
            kth = np.partition(t, min(bottom_k, n_units) - 1, axis=1)[:, min(bottom_k, n_units) - 1]
            member[start:start + step] = t <= kth[:, None]
        found["units"] = np.flatnonzero(member.any(axis=0))
        return member[:, found["units"]].astype(np.float64)

    points = model.points[model.weighted]
    bottom_sobol = sobol_indices(bottom, items, bounds, n=n, seed=seed)
    return Sensitivity(items=items, weights=points / points.sum(), weight_range=r,
                       totals=sobol_indices(totals, items, bounds, n=n, seed=seed), bottom=bottom_sobol,
                       bottom_k=bottom_k, total_units=total_units, bottom_units=found["units"])


# ---------------------------------------------------------------------------------------------
# Fairness


@attrs.frozen
class Correlation:
    """Correlation of a node's scores (``node``; the root for the total) with a size measure
    (``size``: staff or entities), by ``method`` (pearson, spearman), with a 95 % interval and p."""

    node: str
    size: str
    method: str
    r: float
    low: float
    high: float
    p: float


@attrs.frozen(eq=False)
class Fairness:
    """One year's ranking against unit size: ``correlations`` of total and items with staff and
    entities; ``size_share`` the R² of ranks on log staff and log entities, ``flagged`` when above
    ``threshold``; ``classes`` each unit's size class (1 the largest; ``class_bounds``) and
    ``class_ranks`` its rank within its class."""

    year: int
    codes: np.ndarray
    names: np.ndarray
    staff: np.ndarray
    entities: np.ndarray
    totals: np.ndarray
    ranks: np.ndarray
    correlations: tuple[Correlation, ...]
    size_share: float
    threshold: float
    flagged: bool
    class_bounds: tuple[float, ...]
    classes: np.ndarray
    class_ranks: np.ndarray


def correlation(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float, float, float]:
    """(r, 95 % low, high, p): Pearson's interval by Fisher's z, Spearman's by Fisher's z with the
    Bonett–Wright standard error; NaN when either side is constant or there are fewer than 4 units."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (np.nan,) * 4
    if method == "pearson":
        got = stats.pearsonr(x, y)
        ci = got.confidence_interval(0.95)
        return float(got.statistic), float(ci.low), float(ci.high), float(got.pvalue)
    got = stats.spearmanr(x, y)
    r = float(got.statistic)
    se = np.sqrt((1 + r * r / 2) / (len(x) - 3))
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = stats.norm.ppf(0.975) * se
    return r, float(np.tanh(z - half)), float(np.tanh(z + half)), float(got.pvalue)


def default_class_bounds(scheme: Scheme, entities: np.ndarray) -> tuple[float, ...]:
    """The class_bounds of the plan's major_cases rule, else the quintiles of entities."""
    for node in scheme.indicators():
        if node.rule is not None and node.rule.name == "major_cases" and node.rule.params.get("class_bounds"):
            return tuple(float(b) for b in node.rule.params["class_bounds"])
    qs = np.unique(np.quantile(entities, [0.8, 0.6, 0.4, 0.2]))[::-1] if len(entities) else []
    return tuple(float(q) for q in qs)


def fairness(view: RunView, units: UnitTable, opts: Mapping[str, Any]) -> Fairness:
    """Does size drive ``view``'s ranking? ``units`` gives staff and entities (matched by code)."""
    where = units.positions(view.codes)
    known = where >= 0
    staff = np.where(known, units.staff[np.maximum(where, 0)], 0).astype(np.float64)
    entities = np.where(known, units.entities[np.maximum(where, 0)], 0).astype(np.float64)
    nodes = [(view.scheme.root, view.totals)] + [(n.code, view.node_scores(n.code)) for n in view.items()]
    correlations = tuple(Correlation(code, size_name, method, *correlation(scores, size, method))
                         for code, scores in nodes for size_name, size in (("staff", staff), ("entities", entities))
                         for method in ("pearson", "spearman"))
    share = size_share(view.ranks, staff, entities)
    bounds = opts["size_classes"]
    bounds = tuple(float(b) for b in bounds) if bounds else default_class_bounds(view.scheme, entities)
    classes = size_class(entities, bounds) if bounds else np.ones(len(view), dtype=np.int64)
    class_ranks = np.zeros(len(view), dtype=np.int64)
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        class_ranks[members] = rank_values(view.totals[members])
    return Fairness(year=view.scheme.period.year, codes=view.codes, names=view.names, staff=staff,
                    entities=entities, totals=view.totals, ranks=np.asarray(view.ranks),
                    correlations=correlations, size_share=share, threshold=opts["size_share"],
                    flagged=bool(share > opts["size_share"]), class_bounds=bounds, classes=classes,
                    class_ranks=class_ranks)


def size_share(ranks: np.ndarray, staff: np.ndarray, entities: np.ndarray) -> float:
    """R² of the ranks on log(1 + staff) and log(1 + entities) (least squares with an intercept):
    the share of the ranking's variance that unit size explains."""
    y = np.asarray(ranks, dtype=np.float64)
    x = np.column_stack([np.ones(len(y)), np.log1p(staff), np.log1p(entities)])
    if len(y) < 4 or np.ptp(y) == 0:
        return 0.0
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    return float(max(0.0, 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))))


# ---------------------------------------------------------------------------------------------
# Resources and leadership


@attrs.frozen(eq=False)
class Resources:
    """Per unit: ``workload`` maps each workload indicator to value per head / the system's pooled
    average (1 = average; NaN without data), ``workload_index`` their mean; the peer group
    (``peer_by``) is the nearest units on log staff and log entities (``peers``: their positions,
    units × neighbours) or the other units of the unit's size class (``classes``; ``peers`` then
    has no columns); ``peer_mean`` their mean total, ``gap`` total − peer mean (milli), ``gap_sd``
    the gap in standard deviations of all totals, ``far`` where |gap_sd| > ``threshold``."""

    codes: np.ndarray
    names: np.ndarray
    staff: np.ndarray
    entities: np.ndarray
    workload: Mapping[str, np.ndarray]
    workload_index: np.ndarray
    peer_by: str
    peers: np.ndarray
    classes: np.ndarray
    peer_mean: np.ndarray
    gap: np.ndarray
    gap_sd: np.ndarray
    threshold: float
    far: np.ndarray


def workload_indicators(scheme: Scheme, opts: Mapping[str, Any]) -> list[str]:
    if opts["workload"] is not None:
        return list(opts["workload"])
    return [n.code for n in scheme.indicators() if n.rule is not None and n.rule.name == "workload"]


def resources(view: RunView, units: UnitTable, opts: Mapping[str, Any], classes: np.ndarray) -> Resources:
    """Workload per head and peer comparison of ``view``'s units; ``classes`` from :func:`fairness`."""
    from scipy.spatial import cKDTree

    staff = units.staff.astype(np.float64)
    entities = units.entities.astype(np.float64)
    workload = {}
    for code in workload_indicators(view.scheme, opts):
        value = np.asarray(view.values.get(code, np.full(len(view), np.nan)), dtype=np.float64)
        have = ~np.isnan(value) & (staff > 0)
        average = value[have].sum() / staff[have].sum() if have.any() and staff[have].sum() else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            workload[code] = np.where(have, value / np.where(staff > 0, staff, 1) / average, np.nan)
    if workload:
        stacked = np.vstack(list(workload.values()))
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", RuntimeWarning)  # a unit without any workload data: NaN
            index = np.nanmean(stacked, axis=0)
    else:
        index = np.full(len(view), np.nan)
    totals = view.totals.astype(np.float64)
    n = len(view)
    if opts["peers"] == "class":
        # The peers are the other units of the class: their mean from the class sums.
        sums, counts = np.bincount(classes, weights=totals), np.bincount(classes)
        others = counts[classes] - 1
        peers = np.zeros((n, 0), dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            peer_mean = np.where(others > 0, (sums[classes] - totals) / np.maximum(others, 1), np.nan)
    else:
        k = min(opts["neighbours"], n - 1)
        x = np.column_stack([np.log1p(staff), np.log1p(entities)])
        spread = x.std(axis=0)
        x = x / np.where(spread > 0, spread, 1)
        found = np.asarray(cKDTree(x).query(x, k=k + 1)[1]).reshape(n, -1) if k > 0 else np.zeros((n, 1), int)
        # Drop the unit itself (not always first: units of equal size are all at distance 0).
        order = np.argsort(found == np.arange(n)[:, None], axis=1, kind="stable")[:, :k]
        peers = np.take_along_axis(found, order, axis=1).astype(np.int64)
        peer_mean = totals[peers].mean(axis=1) if k > 0 else np.full(n, np.nan)
    gap = totals - peer_mean
    sd = totals.std()
    gap_sd = gap / sd if sd > 0 else np.zeros(n)
    return Resources(codes=view.codes, names=view.names, staff=staff, entities=entities, workload=workload,
                     workload_index=index, peer_by=opts["peers"], peers=peers, classes=classes,
                     peer_mean=peer_mean, gap=gap,
                     gap_sd=gap_sd, threshold=opts["peer_gap"], far=np.abs(np.nan_to_num(gap_sd)) > opts["peer_gap"])


# ---------------------------------------------------------------------------------------------
# The plan judged by its data


@attrs.frozen(eq=False)
class PlanReview:
    """Per indicator (``codes``, tree order): ``item`` it belongs to, ``nominal`` weight (points /
    scale; NaN for rewards and deductions), ``effective`` weight (its share of the variance of the
    totals: cov(score, total) / var(total)), ``spread`` (standard deviation in points), ``tied``
    (share of units on its most common score), ``at_floor``/``at_cap`` (units at 0 or at the most
    the rule gives); ``corr`` the indicators' correlation matrix, ``redundant`` the pairs above
    ``threshold``. The same per item in ``item_*``. ``moved_by_rewards``/``moved_by_deductions``:
    ranks each unit gained (+) or lost (−) through reward and deduction items."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    item: tuple[str, ...]
    nominal: np.ndarray
    effective: np.ndarray
    spread: np.ndarray
    tied: np.ndarray
    at_floor: np.ndarray
    at_cap: np.ndarray
    corr: np.ndarray
    redundant: tuple[tuple[str, str, float], ...]
    threshold: float
    items: tuple[str, ...]
    item_nominal: np.ndarray
    item_effective: np.ndarray
    item_spread: np.ndarray
    item_tied: np.ndarray
    moved_by_rewards: np.ndarray
    moved_by_deductions: np.ndarray


def _effective(scores: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """cov(row, totals) / var(totals) per row: the rows' shares of the totals' variance (sum to 1
    when the rows sum to the totals)."""
    t = totals - totals.mean()
    var = t @ t
    if var == 0:
        return np.full(scores.shape[0], np.nan)
    return (scores - scores.mean(axis=1, keepdims=True)) @ t / var


def _tied(scores: np.ndarray) -> np.ndarray:
    """Share of units on each row's most common score."""
    out = np.empty(scores.shape[0])
    for i, row in enumerate(scores):
        out[i] = np.unique(row, return_counts=True)[1].max() / len(row) if len(row) else np.nan
    return out


def _ceiling(node) -> int:
    """The most an indicator's rule gives: its base (``base``, else its points) plus a ``cap`` bonus
    where the rule has one (base_score), the ``cap`` alone for a reward rule; 0 for deductions."""
    params = node.rule.params if node.rule is not None else {}
    cap, base = params.get("cap"), params.get("base")
    if node.scoring is Scoring.DEDUCTION:
        return 0
    if node.scoring is Scoring.REWARD:
        return to_milli(cap) if cap is not None else node.points
    return (node.points if base is None else to_milli(base)) + (to_milli(cap) if cap is not None else 0)


def plan_review(view: RunView, opts: Mapping[str, Any]) -> PlanReview:
    """Judge the plan by ``view``'s scores (``view`` must hold every indicator's row)."""
    scheme = view.scheme
    nodes = [n for n in scheme.indicators() if view.has_node(n.code)]
    rows = np.array([view.node_scores(n.code) for n in nodes], dtype=np.float64).reshape(len(nodes), len(view))
    totals = view.totals.astype(np.float64)
    item_of = items_of(scheme)
    scale = scheme.scale
    nominal = np.array([n.points / scale if scheme.nodes[item_of[n.code]].scoring is Scoring.WEIGHTED else np.nan
                        for n in nodes])
    scorings = [scheme.nodes[item_of[n.code]].scoring for n in nodes]
    floor = np.array([-n.points if s is Scoring.DEDUCTION else 0 for n, s in zip(nodes, scorings)])
    ceiling = np.array([_ceiling(attrs.evolve(n, scoring=s)) for n, s in zip(nodes, scorings)])
    varying = rows.std(axis=1) > 0
    corr = np.full((len(nodes), len(nodes)), np.nan)
    if varying.sum() > 1:
        corr[np.ix_(varying, varying)] = np.corrcoef(rows[varying])
    limit = opts["redundant"]
    pairs = [(nodes[a].code, nodes[b].code, float(corr[a, b])) for a in range(len(nodes))
             for b in range(a + 1, len(nodes)) if abs(np.nan_to_num(corr[a, b])) > limit]
    items = view.items()
    item_rows = np.array([view.node_scores(i.code) for i in items], dtype=np.float64).reshape(len(items), len(view))
    ranks = np.asarray(view.ranks)

    def moved(scoring: Scoring) -> np.ndarray:
        part = sum((view.node_scores(i.code) for i in items if i.scoring is scoring),
                   np.zeros(len(view), dtype=np.int64))
        return rank_values(view.totals - part) - ranks

    return PlanReview(codes=tuple(n.code for n in nodes), names=tuple(n.name for n in nodes),
                      item=tuple(item_of[n.code] for n in nodes), nominal=nominal,
                      effective=_effective(rows, totals), spread=rows.std(axis=1) / 1000, tied=_tied(rows),
                      at_floor=(rows <= floor[:, None]).sum(axis=1),
                      at_cap=np.where(ceiling > 0, (rows >= ceiling[:, None]).sum(axis=1), 0),
                      corr=corr, redundant=tuple(pairs), threshold=limit, items=tuple(i.code for i in items),
                      item_nominal=np.array([i.points / scale if i.scoring is Scoring.WEIGHTED else np.nan
                                             for i in items]),
                      item_effective=_effective(item_rows, totals), item_spread=item_rows.std(axis=1) / 1000,
                      item_tied=_tied(item_rows), moved_by_rewards=moved(Scoring.REWARD),
                      moved_by_deductions=moved(Scoring.DEDUCTION))


# ---------------------------------------------------------------------------------------------
# Everything at once


@attrs.frozen(eq=False)
class Evaluation:
    """The whole evaluation of one scheme period (see the functions above for each part):
    ``scheme`` is the plan that scored the stored run; ``fairness_previous`` is last year's, None
    without a stored run of it."""

    scheme: Scheme
    settings: Mapping[str, Any]
    baseline: Baseline
    robustness: Robustness
    sensitivity: Sensitivity | None
    fairness: Fairness
    fairness_previous: Fairness | None
    resources: Resources
    plan: PlanReview


def evaluate(store: Any, registry: Registry, scheme: Scheme, *, variations: int | None = None,
             seed: int | None = None, measures: Mapping[str, Measure] | None = None) -> Evaluation:
    """Evaluate ``scheme``'s period from the store: ``variations``/``seed`` override the settings;
    ``measures`` as for :func:`load_baseline`."""
    if variations is not None and variations < 10:
        raise UsageError(f"{variations} variations are too few for 5-95 % rank intervals",
                         hint="give at least 10 (1,000 or more for stable shares)")
    opts = evaluation_settings(scheme, variations=variations, seed=seed)
    baseline = load_baseline(store, registry, scheme, measures=measures)
    model = plan_model(baseline, registry, opts)
    varied = run_variations(model, opts)
    robust = robustness(baseline, model, varied, opts)
    view = baseline.view
    fair = fairness(view, baseline.result.units, opts)
    previous = None
    if baseline.previous is not None:
        previous = fairness(baseline.previous, baseline.previous_units, opts)
    return Evaluation(scheme=baseline.result.scheme, settings=opts, baseline=baseline, robustness=robust,
                      sensitivity=sensitivity(model, opts, robust.bottom_k), fairness=fair,
                      fairness_previous=previous, resources=resources(view, baseline.result.units, opts, fair.classes),
                      plan=plan_review(view, opts))
