"""One run: collect → score → aggregate → rewards/deductions → rank → store + outputs.

Everything after collection is numpy over all units at once: a rule is called once per indicator,
a collector once per run with all of its indicators, an aggregation step once per node.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Container, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa

from jxcore.errors import JxError, PluginError, RunFailed, UsageError
from jxcore.interfaces import CollectContext, CollectRequest, OutputContext, RuleInput
from jxcore.models import Measure, NodeKind, Run, RunResult, RunStatus, Scheme, Scoring, Source, UnitTable
from jxcore.params import check_params
from jxcore.plugins import Registry
from jxcore.ranking import rank_totals, ranking_settings


def default_as_of(scheme: Scheme, today: dt.date | None = None) -> dt.date:
    """Today inside the period; the period's last day for a past year, its first for a future one."""
    return scheme.period.clamp(today or dt.date.today())


def checked_as_of(scheme: Scheme, as_of: dt.date | None) -> dt.date:
    """``as_of``, or the default; a date outside the period is a UsageError."""
    as_of = as_of or default_as_of(scheme)
    if not scheme.period.start <= as_of <= scheme.period.end:
        raise UsageError(f"as-of date {as_of} is outside period {scheme.period.year}",
                         hint=f"give a date from {scheme.period.start} to {scheme.period.end}")
    return as_of


def run_scheme(scheme: Scheme, registry: Registry, *, as_of: dt.date | None = None, store: Any = None,
               console: Any = None, measures: Mapping[str, Measure] | None = None,
               final: bool = False, actor: str | None = None,
               display: Mapping[str, Any] | None = None,
               progress: Callable[[str], None] | None = None) -> RunResult:
    """Score ``scheme`` as of ``as_of``; with a ``store``, save it and run the outputs in one transaction.

    ``progress`` is told each step as it begins: ``"collecting"``, ``"scoring"``, then, with a
    store, ``"storing"`` (the run, then the outputs, which may print).

    ``measures`` supplies measures by indicator code instead of their collectors (the test kit and
    what-if analyses use it). Plugin failures raise :class:`RunFailed` naming the plugin; nothing
    is stored then. A stored run keeps its plan (:mod:`jxcore.scheme.document`) and ``actor``, and
    replaces the non-final runs of the same as-of date.
    """
    as_of = checked_as_of(scheme, as_of)
    pm = registry.pm
    run = Run(scheme=scheme.name, period=scheme.period.year, as_of=as_of,
              started_at=dt.datetime.now(dt.timezone.utc), final=final)
    if pm:
        _call_hooks(pm, "jx_run_started", run=run, scheme=scheme, store=store)
    told = progress or (lambda step: None)
    units = scheme.unit_table()
    told("collecting")
    gathered = collect(scheme, registry, units, as_of, given=measures or {}, store=store)
    told("scoring")
    scores = score(scheme, registry, units, gathered, as_of)
    node_codes = tuple(scheme.nodes)
    matrix = aggregate(scheme, scores, len(units))
    ranks = rank_totals(matrix, node_codes, ranking_settings(scheme))
    run = attrs.evolve(run, status=RunStatus.SCORED)
    result = RunResult(run=run, scheme=scheme, units=units, node_codes=node_codes, scores=matrix,
                       ranks=ranks, measures=gathered)
    if pm:
        _call_hooks(pm, "jx_run_scored", run=run, result=result)
    if store is None:
        return result
    told("storing")
    result = store.retry(lambda: _store_and_emit(result, registry, store, console, final, actor, display or {}))
    if pm:
        for impl in reversed(pm.hook.jx_run_finished.get_hookimpls()):
            try:
                impl.function(**{arg: {"run": result.run, "result": result}[arg] for arg in impl.argnames})
            except Exception as exc:  # the run is committed: say so, whatever the hook did
                raise RunFailed(f"run {result.run.id} was stored, but the jx_run_finished hook of plugin "
                                f"{impl.plugin_name!r} failed: {type(exc).__name__}: {exc}",
                                hint="the scores are safe; fix or block the plugin (JX_BLOCK_PLUGINS)") from exc
    return result


def collect(scheme: Scheme, registry: Registry, units: UnitTable, as_of: dt.date, *,
            given: Mapping[str, Measure], store: Any = None,
            only: Container[str] | None = None) -> dict[str, Measure]:
    """Call each collector once with all of its indicators; check what comes back.

    ``only`` limits the call to the named collectors (``jx collect`` runs them one by one).
    """
    by_collector: dict[str, list[CollectRequest]] = defaultdict(list)
    for node in scheme.indicators():
        if node.code in given:
            continue
        ref = node.collector_ref
        if only is not None and ref.name not in only:
            continue
        collector = registry.collector(ref.name)
        params, _ = check_params(collector.params, ref.params)
        by_collector[ref.name].append(CollectRequest(node, params))
    gathered: dict[str, Measure] = {code: _checked_measure(m, code, "the given measures", len(units))
                                    for code, m in given.items() if code in scheme.nodes}
    names = list(by_collector)
    with SourceOpener(scheme, registry) as opener, ThreadPoolExecutor(max(len(names) - 1, 1)) as pool:
        ctx = CollectContext(scheme=scheme, units=units, period=scheme.period, as_of=as_of,
                             open_source=opener.open, store=store, describe_source=opener.describe)
        calls = {name: partial(_call_plugin, f"collector {name!r}",
                               partial(registry.collector(name).collect, ctx, by_collector[name]))
                 for name in names}
        # The collectors run side by side (the first on this thread): one's wait on a database
        # (a source's GROUP BY, the store's entries) overlaps the others' work.
        running = {name: pool.submit(calls[name]) for name in names[1:]}
        for name in names:
            requests = by_collector[name]
            got = running[name].result() if name in running else calls[name]()
            for req in requests:
                code = req.node.code
                if code not in got:
                    raise PluginError(f"collector {name!r} returned no measure for indicator {code}",
                                      hint=f"report this to the authors of plugin {registry.collectors[name].plugin!r}")
                gathered[code] = _checked_measure(got[code], code, f"collector {name!r}", len(units))
    return gathered


def _checked_measure(measure: Measure, code: str, who: str, n_units: int) -> Measure:
    if not isinstance(measure, Measure) or np.shape(measure.value) != (n_units,):
        raise PluginError(f"{who} gave indicator {code} a measure that is not {n_units} values (one per unit)",
                          hint="a collector returns jxcore.models.Measure with value aligned to ctx.units")
    return measure


def score(scheme: Scheme, registry: Registry, units: UnitTable, measures: Mapping[str, Measure],
          as_of: dt.date, *, only: Container[str] | None = None) -> dict[str, np.ndarray]:
    """Call each indicator's rule once, over all units; check the shape and the type of what it returns.

    ``only`` limits scoring to the named indicators (an incremental update, see :func:`update_run`).
    """
    scores: dict[str, np.ndarray] = {}
    for node in scheme.indicators():
        if only is not None and node.code not in only:
            continue
        rule = registry.rule(node.rule_ref.name)
        params, _ = check_params(rule.params, node.rule_ref.params)
        inp = RuleInput(node=node, params=params, measure=measures[node.code], units=units,
                        period=scheme.period, as_of=as_of)
        got = _call_plugin(f"rule {rule.name!r} on indicator {node.code}", partial(rule.score, inp))
        got = np.asarray(got)
        if got.shape != (len(units),) or not np.issubdtype(got.dtype, np.integer):
            raise PluginError(
                f"rule {rule.name!r} returned {got.dtype} of shape {got.shape} for indicator {node.code}",
                hint=f"a rule returns int64 milli-points, one per unit ({len(units)}); "
                     "round with jxcore.points.round_milli")
        scores[node.code] = got.astype(np.int64, copy=False)
    return scores


def aggregate(scheme: Scheme, indicator_scores: Mapping[str, np.ndarray], n_units: int, *,
              previous: np.ndarray | None = None) -> np.ndarray:
    """Sum up the tree; reward and deduction items are capped; the root row is the total.

    With ``previous`` (the score matrix of an earlier run of the same scheme) only the indicators
    given and their ancestors are recomputed: a few rows instead of the whole tree.
    """
    codes = list(scheme.nodes)
    row = {code: i for i, code in enumerate(codes)}
    if previous is None:
        matrix, redo = np.zeros((len(codes), n_units), dtype=np.int64), None
    else:
        matrix, redo = previous.copy(), set()
        for code in indicator_scores:
            at: str | None = code
            while at is not None and at not in redo:
                redo.add(at)
                at = scheme.nodes[at].parent
    for code in reversed(codes):  # tree order reversed: children before parents
        if redo is not None and code not in redo:
            continue
        node = scheme.nodes[code]
        if node.is_indicator:
            matrix[row[code]] = indicator_scores[code]
            continue
        if node.children:
            matrix[row[code]] = matrix[[row[c] for c in node.children]].sum(axis=0)
        if node.kind is NodeKind.ITEM and node.cap is not None:
            if node.scoring is Scoring.REWARD:
                np.clip(matrix[row[code]], 0, node.cap, out=matrix[row[code]])
            elif node.scoring is Scoring.DEDUCTION:
                np.clip(matrix[row[code]], -node.cap, 0, out=matrix[row[code]])
    return matrix


def update_run(previous: RunResult, registry: Registry, indicators: Collection[str], *, store: Any = None,
               as_of: dt.date | None = None) -> RunResult:
    """``previous`` again with only ``indicators`` re-collected and rescored: the live leaderboard.

    When an entry comes in (one inspection finding), only the indicators fed by its kind change
    (see :func:`indicators_fed_by`). Their collectors run once for them; their rules once over all
    units; only their ancestors are re-summed; then every unit is re-ranked. Every other measure
    and score is the previous run's. Nothing is stored and no output runs: a web app keeps the
    latest result in memory, serves its ranks, and stores a full run on its usual schedule.
    """
    scheme, units = previous.scheme, previous.units
    as_of = checked_as_of(scheme, as_of or previous.run.as_of)
    changed = set(indicators) & set(scheme.nodes)
    kept = {code: m for code, m in previous.measures.items() if code not in changed}
    gathered = collect(scheme, registry, units, as_of, given=kept, store=store)
    scores = score(scheme, registry, units, gathered, as_of, only=changed)
    matrix = aggregate(scheme, scores, len(units), previous=previous.scores)
    ranks = rank_totals(matrix, previous.node_codes, ranking_settings(scheme))
    run = attrs.evolve(previous.run, as_of=as_of, started_at=dt.datetime.now(dt.timezone.utc), id=None,
                       status=RunStatus.SCORED)
    return attrs.evolve(previous, run=run, scores=matrix, ranks=ranks, measures=gathered)


def indicators_fed_by(scheme: Scheme, collector: str, **params: Any) -> list[str]:
    """Codes of the indicators whose collector is ``collector`` with these parameter values.

    ``indicators_fed_by(scheme, "manual", kind="inspection")``: what a new inspection entry changes.
    """
    return [n.code for n in scheme.indicators() if n.collector_ref.name == collector
            and all(n.collector_ref.params.get(k) == v for k, v in params.items())]


def scheme_digest(scheme: Scheme) -> str:
    """sha256 of the plan's document (:mod:`jxcore.scheme.document`): tree, points, rules,
    collectors, units, settings and names, not file paths."""
    from jxcore.scheme.document import digest, dumps

    return digest(dumps(scheme))


def _store_and_emit(result: RunResult, registry: Registry, store: Any, console: Any, final: bool,
                    actor: str | None, display: Mapping[str, Any]) -> RunResult:
    """Write the run (replacing the same day's non-final runs) and run every output in one
    transaction: any failure leaves nothing."""
    from jxcore.scheme.document import digest, dumps

    scheme = result.scheme
    document = dumps(scheme)
    with store.transaction() as tx:
        for earlier in tx.runs(scheme.name, scheme.period.year):
            if earlier.as_of == result.run.as_of and not earlier.final:
                tx.discard_run(earlier.id)
        run_id = tx.save_run(result, scheme_digest=digest(document), final=final, plan_document=document,
                             actor=actor)
        result = attrs.evolve(result, run=attrs.evolve(result.run, id=run_id, status=RunStatus.FINISHED))
        for ref in scheme.outputs:
            output = registry.output(ref.name)
            params, _ = check_params(output.params, ref.params)
            ctx = OutputContext(result=result, params=params, store=tx, console=console, display=display)
            _call_plugin(f"output {ref.name!r}", partial(output.emit, ctx))
    return result


def _call_hooks(pm: Any, name: str, **kwargs: Any) -> None:
    """Call every implementation of lifecycle hook ``name``; a failure names its plugin (RunFailed)."""
    for impl in reversed(getattr(pm.hook, name).get_hookimpls()):  # pluggy's order: last registered first
        _call_plugin(f"the {name} hook of plugin {impl.plugin_name!r}",
                     partial(impl.function, **{arg: kwargs[arg] for arg in impl.argnames}))


def _call_plugin(who: str, call):
    """Run plugin code; a JxError passes through, anything else becomes RunFailed naming the plugin."""
    try:
        return call()
    except JxError:
        raise
    except Exception as exc:
        raise RunFailed(f"{who} failed: {type(exc).__name__}: {exc}",
                        hint="nothing of this run was stored; run with --debug for the traceback") from exc


def _masked(text: str, url: str) -> str:
    """``text`` (a driver's message) without the URL's password, should the driver repeat it."""
    try:
        secret = sa.make_url(url).password
    except sa.exc.ArgumentError:  # an unparseable URL: mask_url already hid what it could
        return text
    return text.replace(str(secret), "***") if secret else text


@attrs.define
class SourceOpener:
    """Opens each source database once per run, after the jx_prepare_source hook (called once)."""

    scheme: Scheme
    registry: Registry
    _engines: dict[str, sa.Engine] = attrs.field(factory=dict)
    _prepared: set[str] = attrs.field(factory=set)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)  # collectors open sources side by side

    def open(self, name: str) -> sa.Engine:
        with self._lock:
            return self._open(name)

    def describe(self, name: str) -> Source:
        """The scheme's source ``name``, prepared by the hook but not opened."""
        with self._lock:
            return self._prepare(name)

    def _prepare(self, name: str) -> Source:
        source = self.scheme.sources.get(name)
        if source is None:
            known = ", ".join(self.scheme.sources) or "none"
            raise UsageError(f"scheme {self.scheme.name!r} has no source {name!r}",
                             hint=f"the scheme's sources are: {known}")
        if self.registry.pm and name not in self._prepared:
            _call_plugin(f"jx_prepare_source for source {name!r}",
                         lambda: self.registry.pm.hook.jx_prepare_source(scheme=self.scheme, source=source))
        self._prepared.add(name)
        return source

    def _open(self, name: str) -> sa.Engine:
        if name in self._engines:
            return self._engines[name]
        source = self._prepare(name)
        try:
            engine = sa.create_engine(source.url, **source.engine_options())
        except Exception as exc:
            from jxcore.store.api import mask_url

            raise UsageError(f"source {name!r}: cannot open {mask_url(source.url)!r}: {_masked(str(exc), source.url)}",
                             hint="check the URL in the scheme's sources (a SQLAlchemy URL) "
                                  "and that its driver is installed") from exc
        self._engines[name] = engine
        return engine

    def __enter__(self) -> "SourceOpener":
        return self

    def __exit__(self, *exc: object) -> None:
        for engine in self._engines.values():
            engine.dispose()
