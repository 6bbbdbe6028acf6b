"""Everything one report shows: ranking, commendation, review, warnings, history, computed lazily.

The workbook (:mod:`jx_outputs.excel`), the 绩效之窗 site (:mod:`jx_outputs.site`) and the
terminal outputs all render a :class:`Report`; ``jx report`` builds one from a stored run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import attrs
import numpy as np

from jx_outputs import services
from jx_outputs.view import RunView
from jxcore.models import positions

HISTORY_RUNS = 60  #: runs shown in a unit's rank-history chart (one per as-of date, newest kept)


@attrs.frozen(eq=False)
class History:
    """Rank of every unit (columns, aligned with the run) in earlier runs of the period (rows, oldest
    first); 0 where a unit was not in that run."""

    dates: tuple[dt.date, ...]
    ranks: np.ndarray


def previous_view(store: Any, view: RunView) -> RunView | None:
    """The run movement is measured against: the period's latest run with an earlier as-of date,
    read with its own plan (None if none or no store)."""
    from jxcore.services import previous_view as previous

    return previous(store, None, view)


def rank_history(store: Any, view: RunView, limit: int = HISTORY_RUNS) -> History:
    """Ranks in the period's runs up to ``view`` (the last run of each as-of date), oldest first."""
    runs = store.runs(view.scheme.name, view.scheme.period.year) if store is not None else []
    ids = [r.id for r in runs]
    if view.run_id in ids:
        runs = runs[ids.index(view.run_id):]
    by_date: dict[dt.date, Any] = {}
    for run in runs:  # newest first: the first run seen for a date is that date's last
        if run.as_of <= view.as_of:
            by_date.setdefault(run.as_of, run)
    dates = sorted(by_date)[-limit:]
    ranks = np.zeros((len(dates), len(view)), dtype=np.int64)
    for i, day in enumerate(dates):
        run = by_date[day]
        where = positions(run.unit_codes, view.codes)
        ranks[i] = np.where(where >= 0, run.ranks[np.maximum(where, 0)], 0)
    return History(tuple(dates), ranks)


class Report:
    """The applications of one run, each computed on first use from ``view`` and the ``store``
    (earlier runs, final results of earlier years), so an output pays only for what it shows."""

    def __init__(self, view: RunView, store: Any = None, warning_options: Mapping[str, Any] | None = None):
        self.view = view
        self.store = store
        self.warning_options = dict(warning_options or {})

    @cached_property
    def previous(self) -> RunView | None:
        return previous_view(self.store, self.view)

    @cached_property
    def ranking(self) -> services.Ranking:
        return services.ranking(self.view, self.previous)

    @cached_property
    def commendation(self) -> services.Commendation:
        return services.commendation(self.view)

    @cached_property
    def review(self) -> services.Review | None:
        """None when the scheme has no ``settings.leadership_review``."""
        if "leadership_review" not in self.view.scheme.settings:
            return None
        years = services.review_years(self.view)
        earlier = services.final_results(self.store, self.view.scheme.name, years) if self.store is not None else {}
        return services.leadership_review(self.view, earlier)

    @cached_property
    def warnings(self) -> services.Warnings:
        return services.warnings(self.view, self.previous, **self.warning_options)

    @cached_property
    def history(self) -> History:
        return rank_history(self.store, self.view)
