"""What the pages show, computed from stored runs through the services, cached by run id.

Every request asks the store for the id of the latest run (one indexed query); everything derived
from a run (its view, ranking, warnings, commendation, review, history) is computed once per
worker process and kept under that id, so a new run shows on the next request of every worker
and an unchanged leaderboard costs one query.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa

from jx_outputs import services
from jx_outputs.report import Report
from jxcore.errors import UsageError
from jxcore.models import RunStatus, Scheme, positions
from jxcore.plugins import Registry
from jxcore.ranking import rank_values
from jxcore.services import RunView, previous_view, view_of
from jxcore.store import Store, StoredRun
from jxcore.store.tables import runs as runs_table

HISTORY_RUNS = 120  #: as-of dates kept in a unit's history charts


@attrs.frozen(eq=False)
class History:
    """Ranks and totals of every unit (columns, aligned with the run) over earlier runs of the
    period, one per as-of date (rows, oldest first); rank 0 where a unit was not in that run."""

    dates: tuple[dt.date, ...]
    ranks: np.ndarray
    totals: np.ndarray


@attrs.frozen(eq=False)
class YearResult:
    """A year's final result aligned with the current run's units (rank 0: not in that year)."""

    year: int
    ranks: np.ndarray
    totals: np.ndarray


class Results(Report):
    """One stored run with everything the pages derive from it (computed on first use).

    ``previous`` is the latest run with an earlier as-of date, read with its own plan: movement
    and "new warnings" compare with the previous day's leaderboard, not with a rerun of the day.
    """

    def __init__(self, view: RunView, store: Store, registry: Registry, years: tuple[int, ...]):
        super().__init__(view, store)
        self.registry = registry
        self.years = years

    def memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A page's document, made once per run and worker (the run never changes)."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make()
        return found

    @cached_property
    def _memo(self) -> dict[tuple, Any]:
        return {}

    @cached_property
    def previous(self) -> RunView | None:
        return previous_view(self.store, self.registry, self.view)

    @cached_property
    def runs(self) -> list[StoredRun]:
        return self.store.runs(self.view.scheme.name, self.view.scheme.period.year)

    @cached_property
    def warning_counts(self) -> np.ndarray:
        return (self.warnings.levels > 0).sum(axis=0) if len(self.warnings.indicators) else np.zeros(
            len(self.view), dtype=np.int64)

    @cached_property
    def indicator_ranks(self) -> dict[str, np.ndarray]:
        return {n.code: rank_values(self.view.node_scores(n.code)) for n in self.indicators}

    @cached_property
    def indicators(self) -> list:
        return [n for n in self.view.scheme.indicators() if self.view.has_node(n.code)]

    @cached_property
    def full_history(self) -> History:
        """The last run of each as-of date up to this run's, oldest first."""
        view = self.view
        by_date: dict[dt.date, StoredRun] = {}
        for run in self.runs:
            if run.as_of <= view.as_of and run.status is RunStatus.FINISHED:
                by_date.setdefault(run.as_of, run)
        dates = sorted(by_date)[-HISTORY_RUNS:]
        ranks = np.zeros((len(dates), len(view)), dtype=np.int64)
        totals = np.zeros((len(dates), len(view)), dtype=np.int64)
        for i, day in enumerate(dates):
            run = by_date[day]
            where = positions(run.unit_codes, view.codes)
            found = where >= 0
            ranks[i] = np.where(found, run.ranks[np.maximum(where, 0)], 0)
            totals[i] = np.where(found, run.totals[np.maximum(where, 0)], 0)
        return History(tuple(dates), ranks, totals)

    @cached_property
    def final_years(self) -> list[YearResult]:
        """Final results of the pack's earlier years (those that have one), oldest first."""
        earlier = [y for y in self.years if y < self.view.scheme.period.year]
        found = services.final_results(self.store, self.view.scheme.name, earlier)
        out = []
        for year in sorted(found):
            result = found[year]
            if result is None:
                continue
            where = positions(result.codes, self.view.codes)
            year_ranks = rank_values(result.totals)
            ok = where >= 0
            out.append(YearResult(year, np.where(ok, year_ranks[np.maximum(where, 0)], 0),
                                  np.where(ok, result.totals[np.maximum(where, 0)], 0)))
        return out

    def unit_index(self, code: str) -> int:
        return self.view.unit_position(code)


class Catalog:
    """The scheme's latest run per period, and the plans that scored them, for one worker."""

    def __init__(self, store: Store, registry: Registry, load_scheme: Callable[[int | None], Scheme],
                 period: int | None, years: tuple[int, ...], size: int = 8):
        self.store = store
        self.registry = registry
        self._load_scheme = load_scheme
        self.scheme = load_scheme(period)
        self.years = years
        self._plans: dict[int, Scheme] = {self.scheme.period.year: self.scheme}
        self._cache: OrderedDict[str, Results] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    @property
    def name(self) -> str:
        return self.scheme.name

    @property
    def period(self) -> int:
        return self.scheme.period.year

    def plan(self, year: int) -> Scheme:
        if year not in self._plans:
            self._plans[year] = self._load_scheme(year)
        return self._plans[year]

    def latest_id(self) -> str | None:
        """The id of the current run of the period (latest as-of, then newest), as
        ``Store.latest_run`` picks it: the one query every page makes."""
        query = (sa.select(runs_table.c.id)
                 .where(runs_table.c.scheme == self.name, runs_table.c.period == self.period,
                        runs_table.c.status == RunStatus.FINISHED.value)
                 .order_by(runs_table.c.as_of.desc(), runs_table.c.started_at.desc(), runs_table.c.id.desc())
                 .limit(1))
        with self.store.engine.connect() as connection:
            return connection.execute(query).scalar()

    def results(self, run_id: str | None = None) -> Results:
        """The latest run's results (or ``run_id``'s); UsageError when there is none."""
        run_id = run_id or self.latest_id()
        if run_id is None:
            raise UsageError(f"the store has no run of {self.name} {self.period} yet",
                             hint=f"make one with `jx run --scheme {self.name} --period {self.period}`")
        with self._lock:
            found = self._cache.get(run_id)
            if found is not None:
                self._cache.move_to_end(run_id)
                return found
            computing = self._computing.setdefault(run_id, threading.Lock())
        with computing:  # one thread computes a new run's results; the others wait for them
            with self._lock:
                if run_id in self._cache:
                    return self._cache[run_id]
            results = self._compute(run_id)
            with self._lock:
                self._cache[run_id] = results
                self._computing.pop(run_id, None)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return results

    def _compute(self, run_id: str) -> Results:
        stored = self.store.load_run(run_id)
        if stored.scheme != self.name:
            raise UsageError(f"run {run_id} is of scheme {stored.scheme}, not {self.name}",
                             hint="pick a run of this scheme from the list of runs")
        view = view_of(self.store, self.registry, stored, self.plan(stored.period))  # the plan that scored it
        results = Results(view, self.store, self.registry, self.years)
        for part in ("previous", "ranking", "warning_counts", "indicator_ranks", "commendation", "full_history",
                     "final_years"):
            getattr(results, part)  # everything the leaderboard and unit pages read, once per run and worker
        return results

    def run_list(self) -> list[StoredRun]:
        return self.store.runs(self.name)


def losses_against_best(results: Results, unit: int, limit: int = 10) -> list[dict[str, Any]]:
    """"Where the points went": the indicators on which this unit trails the best unit most."""
    view = results.view
    rows = []
    for node in results.indicators:
        scores = view.node_scores(node.code)
        best = int(scores.max())
        gap = best - int(scores[unit])
        if gap > 0:
            rows.append({"node": node, "score": int(scores[unit]), "best": best, "gap": gap,
                         "best_unit": str(view.names[int(np.argmax(scores))])})
    rows.sort(key=lambda r: -r["gap"])
    return rows[:limit]
