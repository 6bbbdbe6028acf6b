"""The score change an entry would make, before it is saved.

The current run (the leaderboard's) is taken as it is; only the indicators the new entries feed
are collected again, once from the store as it is and once from the store with the new entries
added (and the entries they correct taken out), and scored by their rules; the difference is
added to the run's scores, the tree re-summed (caps applied) and every unit ranked again, as the
engine's incremental update does (:func:`jxcore.engine.update_run`). Nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from jxcore.engine import aggregate, score
from jxcore.interfaces import CollectContext, CollectRequest
from jxcore.models import UnitTable
from jxcore.params import check_params
from jxcore.plugins import Registry
from jxcore.points import MILLI
from jxcore.ranking import rank_totals, ranking_settings
from jxcore.services import RunView
from jxcore.store import NewEntry, Store
from jxcore.store.entries import EntryColumns


class _WithEntries:
    """A read-only view of a store as if ``rows`` of ``kind`` were stored and ``dropped`` were not."""

    def __init__(self, store: Store, kind: str, rows: Sequence[NewEntry], dropped: Collection[int]):
        self.store, self.kind, self.rows, self.dropped = store, kind, rows, set(dropped)

    def entry_columns(self, scheme: str, period: int, fields: Mapping[str, Collection[str]], *,
                      as_of: dt.date | None = None) -> dict[str, EntryColumns]:
        read = self.store.entry_columns(scheme, period, fields, as_of=as_of)
        if self.kind not in read:
            return read
        old = read[self.kind]
        keep = ~np.isin(old.id, np.fromiter(self.dropped, dtype=np.int64, count=len(self.dropped)))
        new = [r for r in self.rows if as_of is None or r.entry_date <= as_of]
        names = list(old.fields)
        read[self.kind] = EntryColumns(
            np.concatenate([old.id[keep], -np.arange(1, len(new) + 1, dtype=np.int64)]),
            np.concatenate([old.unit_code[keep].astype(object),
                            np.array([r.unit_code for r in new], dtype=object)]).astype(str),
            np.concatenate([old.entry_date[keep], np.array([r.entry_date for r in new], dtype="datetime64[D]")]),
            {f: [v for v, k in zip(old.fields[f], keep.tolist()) if k] + [r.payload.get(f) for r in new]
             for f in names},
            old.sources)
        return read


@attrs.frozen
class Change:
    """Before and after for the units whose total changes (and the entry's own units)."""

    as_of: dt.date
    rows: tuple[dict[str, Any], ...]  #: code, name, total/rank before and after, indicators
    counts_later: int  #: new entries dated after the run's as-of date (they count from a later run)


def score_change(view: RunView, registry: Registry, store: Store, kind: str, indicators: Collection[str],
                 rows: Sequence[NewEntry], supersedes: Collection[int] = (),
                 units: Collection[str] = ()) -> Change | None:
    """What saving ``rows`` would change in ``view`` (the current run); None when the run's plan
    has none of ``indicators`` or its node order differs from the plan's."""
    scheme = view.scheme
    codes = [c for c in indicators if view.has_node(c)]
    if not codes or tuple(view.node_codes) != tuple(scheme.nodes):
        return None
    by_code = {u.code: u for u in scheme.units}
    if any(str(c) not in by_code for c in view.codes):
        return None
    table = UnitTable.from_units([by_code[str(c)] for c in view.codes])
    requests = []
    for code in codes:
        node = scheme.nodes[code]
        collector = registry.collector(node.collector.name)
        params = check_params(collector.params, node.collector.params)[0]
        requests.append((node.collector.name, CollectRequest(node, params)))

    def measured(source: Any) -> dict[str, np.ndarray]:
        ctx = CollectContext(scheme=scheme, units=table, period=scheme.period, as_of=view.as_of,
                             open_source=_no_source, store=source)
        gathered = {}
        for name in {n for n, _ in requests}:
            gathered.update(registry.collector(name).collect(ctx, [r for n, r in requests if n == name]))
        return score(scheme, registry, table, gathered, view.as_of, only=set(codes))

    before, after = measured(store), measured(_WithEntries(store, kind, rows, supersedes))
    old = aggregate(scheme, before, len(table.codes), previous=view.scores)
    new = aggregate(scheme, after, len(table.codes), previous=view.scores)
    settings = ranking_settings(scheme)
    old_ranks, new_ranks = rank_totals(old, view.node_codes, settings), rank_totals(new, view.node_codes, settings)
    shown = (old[0] != new[0]) | np.isin(view.codes.astype(str), list(units))
    out = []
    for i in np.flatnonzero(shown).tolist():
        out.append({"code": str(view.codes[i]), "name": str(view.names[i]),
                    "total_before": int(old[0, i]) / MILLI, "total_after": int(new[0, i]) / MILLI,
                    "rank_before": int(old_ranks[i]), "rank_after": int(new_ranks[i]),
                    "indicators": [{"code": c, "name": scheme.nodes[c].name, "before": int(before[c][i]) / MILLI,
                                    "after": int(after[c][i]) / MILLI} for c in codes if before[c][i] != after[c][i]]})
    out.sort(key=lambda r: r["total_after"] - r["total_before"])
    later = sum(1 for r in rows if r.entry_date > view.as_of)
    return Change(view.as_of, tuple(out), later)


def _no_source(name: str):
    from jxcore.errors import UsageError

    raise UsageError(f"the score preview reads entries only, not source {name!r}")
