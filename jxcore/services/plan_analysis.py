"""Judging a plan before it is in force: diff, effective weights, what-if and lint (docs/plans.md).

- :func:`diff`: two plans node by node (added, removed, moved, renamed, points, weights, rules and
  their parameters …), each node's nominal weight beside its *effective* weight: its share of the
  variance of the totals in a reference run (last year's final run), ``cov(node, total) / var(total)``.
  The effective weights of a tree's children sum to their parent's, and the items' to 1.
- :func:`weight_table`: the major items' weights over several years (``jx tree --compare``).
- :func:`whatif`: a draft scored on last year's final data or this year's data to date, beside the
  plan in force, with the units whose commendation or leadership-review status would change and the
  indicators that moved them. Nothing is stored.
- :func:`lint`: warnings, each naming the node and the lecture's reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from jxcore.errors import JxError, PluginError, UsageError
from jxcore.models import Node, Scheme, Scoring
from jxcore.plugins import Registry
from jxcore.points import format_points
from jxcore.services.views import RunView
from jxcore.store import Store, StoredRun

# ---------------------------------------------------------------------------------------------
# Effective weights


def effective_weights(scores: np.ndarray, node_codes: Sequence[str]) -> dict[str, float]:
    """Each node's share of the variance of the totals (row 0): ``cov(node, total) / var(total)``.

    Empty when the totals do not vary (every unit on the same total: nothing to share)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[1] < 2:
        return {}
    centred = scores - scores.mean(axis=1, keepdims=True)
    variance = float(centred[0] @ centred[0])
    if variance == 0:
        return {}
    shares = centred @ centred[0] / variance
    return {code: float(share) for code, share in zip(node_codes, shares)}


def reference_run(store: Store | None, scheme: str, year: int) -> StoredRun | None:
    """The run effective weights are read from for a plan of ``year``: last year's final run, else
    the latest final run of an earlier year (None if the store has none)."""
    if store is None:
        return None
    finals = [r for r in store.runs(scheme) if r.final and r.period < year]
    if not finals:
        return None
    latest = max(r.period for r in finals if r.period <= year - 1)
    return max((r for r in finals if r.period == latest), key=lambda r: (r.as_of, r.started_at))


def _run_label(run: StoredRun) -> str:
    return f"run {run.id[:12]} ({run.period}, final, as of {run.as_of})"


# ---------------------------------------------------------------------------------------------
# Diff


@attrs.frozen
class NodeChange:
    """One node of either plan: what changed (``changes``: added, removed, moved, renamed, points,
    scoring, cap, rule, collector, department, stages, description) with readable ``details``."""

    code: str
    name: str
    kind: str
    depth: int
    changes: tuple[str, ...]
    details: tuple[str, ...]
    points_a: int | None  #: milli-points in plan A (None: not in A)
    points_b: int | None
    share_a: float | None  #: nominal weight: share of the scale (weighted nodes only)
    share_b: float | None
    cap_a: int | None = None
    cap_b: int | None = None
    scoring: str = "weighted"
    effective: float | None = None  #: share of the variance of the reference run's totals


@attrs.frozen
class PlanDiff:
    a_label: str
    b_label: str
    nodes: tuple[NodeChange, ...]  #: every node of either plan, B's tree order, removed ones after their A siblings
    plan: tuple[str, ...]  #: changes of the plan itself (scale, outputs, settings)
    reference: str | None  #: the run effective weights come from (None: the store has no final run)

    def changed(self) -> list[NodeChange]:
        return [n for n in self.nodes if n.changes]

    def items(self) -> list[NodeChange]:
        return [n for n in self.nodes if n.depth == 1]

    def count(self, change: str) -> int:
        return sum(change in n.changes for n in self.nodes)

    def node(self, code: str) -> NodeChange:
        return next(n for n in self.nodes if n.code == code)


def _depths(plan: Scheme) -> dict[str, int]:
    depth = {plan.root: 0}
    for code, node in plan.nodes.items():
        if node.parent is not None:
            depth[code] = depth[node.parent] + 1
    return depth


def _share(plan: Scheme, node: Node) -> float | None:
    return node.points / plan.scale if node.scoring is Scoring.WEIGHTED and plan.scale else None


def _ref_changes(kind: str, a: Any, b: Any) -> list[str]:
    if a == b:
        return []
    if a is None or b is None or a.name != b.name:
        return [f"{kind} {a.name if a else '—'} → {b.name if b else '—'}"]
    keys = sorted(set(a.params) | set(b.params))
    shown = [f"{k}: {a.params.get(k, '—')} → {b.params.get(k, '—')}" for k in keys
             if a.params.get(k) != b.params.get(k)]
    return [f"{kind} {a.name}: " + "; ".join(shown)]


def _milli(value: int | None) -> str:
    return "—" if value is None else format_points(value)


def _stages(stages: Sequence[Any]) -> str:
    return ", ".join(f"{s.date:%m-%d} {s.target:g}" for s in stages) or "—"


#: the compared fields of a node, each with how its values are shown (rule and collector apart)
_FIELDS = (("renamed", str), ("points", _milli), ("scoring", lambda s: s.value), ("cap", _milli),
           ("department", lambda d: d or "—"), ("stages", _stages))
_FIELD_OF = {"renamed": "name"}


def _node_change(a_plan: Scheme, b_plan: Scheme, code: str, depth: int) -> NodeChange:
    a, b = a_plan.nodes.get(code), b_plan.nodes.get(code)
    changes: list[str] = []
    details: list[str] = []
    if a is None:
        changes.append("added")
    elif b is None:
        changes.append("removed")
    else:
        if a.parent != b.parent and code not in (a_plan.root, b_plan.root):
            changes.append("moved")
            details.append(f"moved from {a.parent} to {b.parent}")
        for change, shown in _FIELDS:
            before, after = getattr(a, _FIELD_OF.get(change, change)), getattr(b, _FIELD_OF.get(change, change))
            if before != after:
                changes.append(change)
                details.append(f"{change} {shown(before)} → {shown(after)}")
        for kind in ("rule", "collector"):
            found = _ref_changes(kind, getattr(a, kind), getattr(b, kind))
            if found:
                changes.append(kind)
                details += found
        if a.description != b.description:
            changes.append("description")
    node = b or a
    assert node is not None
    return NodeChange(code=code, name=node.name, kind=node.kind.value, depth=depth, changes=tuple(changes),
                      details=tuple(details), points_a=a.points if a else None, points_b=b.points if b else None,
                      share_a=_share(a_plan, a) if a else None, share_b=_share(b_plan, b) if b else None,
                      cap_a=a.cap if a else None, cap_b=b.cap if b else None, scoring=node.scoring.value)


def _rooted(plan: Scheme, root: str) -> Scheme:
    """``plan`` with its root coded ``root``: each year's plan has its own root code (GD2009, GD2010)."""
    if plan.root == root:
        return plan

    def moved(node: Node) -> Node:
        code = root if node.code == plan.root else node.code
        return attrs.evolve(node, code=code, parent=root if node.parent == plan.root else node.parent)

    return attrs.evolve(plan, root=root, nodes={moved(n).code: moved(n) for n in plan.nodes.values()})


def _union_order(a: Scheme, b: Scheme) -> list[tuple[str, int]]:
    """B's tree order, each node of A alone placed after the B nodes that precede it in A."""
    depth_a, depth_b = _depths(a), _depths(b)
    order = [(code, depth_b[code]) for code in b.nodes]
    placed = set(b.nodes)
    for i, code in enumerate(a.nodes):
        if code in placed:
            continue
        before = [c for c in list(a.nodes)[:i] if c in placed]
        at = max((j for j, (c, _) in enumerate(order) if c in before), default=-1) + 1
        while at < len(order) and order[at][1] > depth_a[code]:  # after the subtree it follows
            at += 1
        order.insert(at, (code, depth_a[code]))
        placed.add(code)
    return order


def diff(a: Scheme, b: Scheme, *, a_label: str | None = None, b_label: str | None = None,
         reference: StoredRun | None = None) -> PlanDiff:
    """Plan A → plan B, node by node; with a ``reference`` run, each node's effective weight."""
    effective = effective_weights(reference.scores, reference.node_codes) if reference is not None else {}
    a = _rooted(a, b.root)
    nodes = []
    for code, depth in _union_order(a, b):
        change = _node_change(a, b, code, depth)
        if code == b.root:
            change = attrs.evolve(change, effective=1.0 if effective else None)
        elif code in effective:
            change = attrs.evolve(change, effective=effective[code])
        nodes.append(change)
    plan = []
    if a.scale != b.scale:
        plan.append(f"scale {format_points(a.scale)} → {format_points(b.scale)}")
    if [(o.name, dict(o.params)) for o in a.outputs] != [(o.name, dict(o.params)) for o in b.outputs]:
        plan.append("outputs " + ", ".join(o.name for o in a.outputs) + " → " + ", ".join(o.name for o in b.outputs))
    for key in sorted(set(a.settings) | set(b.settings)):
        if a.settings.get(key) != b.settings.get(key):
            plan.append(f"settings.{key}: {a.settings.get(key, '—')} → {b.settings.get(key, '—')}")
    if [u.code for u in a.units] != [u.code for u in b.units]:
        plan.append(f"units {len(a.units)} → {len(b.units)}")
    return PlanDiff(a_label or str(a.period.year), b_label or str(b.period.year), tuple(nodes), tuple(plan),
                    _run_label(reference) if reference is not None else None)


def diff_refs(store: Store, registry: Registry, scheme: str, a: str, b: str) -> PlanDiff:
    """:func:`diff` of two plans named ``YEAR`` or ``YEARvN`` (see plans.plan_for), with effective
    weights from the final run before the later year."""
    from jxcore.services import plans

    plan_a, version_a = plans.plan_for(store, registry, scheme, a)
    plan_b, version_b = plans.plan_for(store, registry, scheme, b)
    later = max(plan_a.period.year, plan_b.period.year)
    return diff(plan_a, plan_b, a_label=version_a.label if version_a else a,
                b_label=version_b.label if version_b else b, reference=reference_run(store, plan_b.name, later))


# ---------------------------------------------------------------------------------------------
# The items' weights over years (jx tree --compare)


@attrs.frozen
class WeightRow:
    code: str
    name: str  #: the latest year's name
    cells: tuple[int | None, ...]  #: milli-points (weighted: points; outside: cap) per year, None: absent
    scoring: tuple[str | None, ...]  #: per year


@attrs.frozen
class WeightTable:
    years: tuple[int, ...]
    scales: tuple[int, ...]
    weighted: tuple[WeightRow, ...]  #: items inside the 100 % in any year
    outside: tuple[WeightRow, ...]  #: reward and deduction items in any year

    def share(self, year_index: int, milli: int) -> float:
        return milli / self.scales[year_index]


def _merged(codes_by_year: list[list[str]]) -> list[str]:
    """One order for the items of several years: an item new in a year goes right before the
    next item of that year already listed."""
    order: list[str] = []
    for codes in codes_by_year:
        for i, code in enumerate(codes):
            if code in order:
                continue
            after = [c for c in codes[i + 1:] if c in order]
            order.insert(order.index(after[0]) if after else len(order), code)
    return order


def weight_table(plans: Sequence[Scheme]) -> WeightTable:
    """The major items of each plan: weighted items by points, rewards and deductions by cap."""
    by_year = [{n.code: n for n in p.items()} for p in plans]
    groups = []
    for weighted in (True, False):
        codes = _merged([[n.code for n in p.items() if (n.scoring is Scoring.WEIGHTED) is weighted] for p in plans])
        rows = []
        for code in codes:
            name = next(items[code].name for items in reversed(by_year) if code in items)
            cells, scorings = [], []
            for items in by_year:
                node = items.get(code)
                inside = node is not None and (node.scoring is Scoring.WEIGHTED) is weighted
                cells.append((node.points if weighted else node.cap) if inside and node is not None else None)
                scorings.append(node.scoring.value if inside and node is not None else None)
            rows.append(WeightRow(code, name, tuple(cells), tuple(scorings)))
        groups.append(tuple(rows))
    return WeightTable(tuple(p.period.year for p in plans), tuple(p.scale for p in plans), groups[0], groups[1])


# ---------------------------------------------------------------------------------------------
# What-if


@attrs.frozen
class UnitChange:
    code: str
    name: str
    total_before: int
    total_after: int
    rank_before: int
    rank_after: int
    gained: tuple[str, ...]  #: statuses the draft would give it (commended, admonition …)
    lost: tuple[str, ...]
    movers: tuple[tuple[str, int], ...]  #: (indicator, milli-points gained against the units' mean change)


@attrs.frozen(eq=False)
class WhatIf:
    """A draft scored beside the plan in force on the same data (``as_of`` of ``period``)."""

    period: int
    as_of: dt.date
    baseline_label: str
    draft_label: str
    baseline: RunView
    draft: RunView
    units: tuple[UnitChange, ...]  #: by the draft's rank
    statuses: tuple[str, ...]  #: the statuses compared (from the outputs that declare them)
    effective_before: Mapping[str, float]
    effective_after: Mapping[str, float]

    def changed_status(self) -> list[UnitChange]:
        return [u for u in self.units if u.gained or u.lost]


def _statuses(registry: Registry, view: RunView, store: Any) -> dict[str, np.ndarray]:
    """Status name → bool per unit, from the plan's outputs that declare ``statuses(view, store)``
    (the outputs plugin: commended, single-item commendations, admonition, reshuffle)."""
    found: dict[str, np.ndarray] = {}
    for ref in view.scheme.outputs:
        registered = registry.outputs.get(ref.name)
        call = getattr(registered.obj, "statuses", None) if registered is not None else None
        if registered is None or call is None:
            continue
        try:
            got = call(view, store)
        except JxError:
            raise
        except Exception as exc:
            raise PluginError(f"output {ref.name!r} failed to say which units it picks: {type(exc).__name__}: {exc}",
                              hint=f"report it to the authors of plugin {registered.plugin!r}") from exc
        found.update({name: np.asarray(mask, dtype=bool) for name, mask in got.items()})
    return found


def _score(plan: Scheme, registry: Registry, measures: Mapping[str, Any], as_of: dt.date) -> RunView:
    """Score ``plan`` on gathered measures without plugins' run hooks and without storing."""
    from jxcore.engine import run_scheme

    quiet = attrs.evolve(registry, pm=None)  # a what-if is not a run: no lifecycle hooks, no reports
    return RunView.from_result(run_scheme(plan, quiet, as_of=as_of, measures=measures))


def whatif(store: Store, registry: Registry, draft: Scheme, baseline: Scheme, *, as_of: dt.date | None = None,
           draft_label: str = "draft", baseline_label: str = "published", movers: int = 5) -> WhatIf:
    """Score ``draft`` and ``baseline`` (same period) on the same data as of ``as_of``: measures are
    collected once where both plans gather an indicator alike, manual entries read from ``store``;
    nothing is stored. Equal to a real run of each plan on that data."""
    from jxcore.engine import checked_as_of, collect

    if draft.period != baseline.period:
        raise UsageError(f"the draft is for {draft.period.year} and the plan beside it for {baseline.period.year}",
                         hint="compare plans of one period (renumber the draft, see plan_analysis.whatif_last_year)")
    as_of = checked_as_of(baseline, as_of)
    units = baseline.unit_table()
    base_measures = collect(baseline, registry, units, as_of, given={}, store=store)
    same_units = [u.code for u in draft.units] == [u.code for u in baseline.units]
    shared = {code: m for code, m in base_measures.items() if same_units and code in draft.nodes
              and draft.nodes[code].is_indicator and draft.nodes[code].collector == baseline.nodes[code].collector}
    draft_measures = collect(draft, registry, draft.unit_table(), as_of, given=shared, store=store)
    before = _score(baseline, registry, base_measures, as_of)
    after = _score(draft, registry, draft_measures, as_of)
    status_before, status_after = _statuses(registry, before, store), _statuses(registry, after, store)
    names = sorted(set(status_before) | set(status_after))
    at_before = {code: i for i, code in enumerate(before.codes)}
    indicators = [c for c in dict.fromkeys([*after.node_codes, *before.node_codes])
                  if (draft.nodes.get(c) or baseline.nodes[c]).is_indicator]

    def scores(view: RunView, code: str) -> np.ndarray:
        return view.node_scores(code) if view.has_node(code) else np.zeros(len(view), dtype=np.int64)

    order = [at_before.get(code, -1) for code in after.codes]
    moved = np.array([scores(after, c) - np.array([scores(before, c)[i] if i >= 0 else 0 for i in order])
                      for c in indicators], dtype=np.int64).reshape(len(indicators), len(after))
    relative = moved - np.rint(moved.mean(axis=1, keepdims=True)).astype(np.int64) if len(after) else moved
    changes = []
    for j in np.lexsort((np.arange(len(after)), after.ranks)):
        i = order[j]
        had = {s for s in names if i >= 0 and s in status_before and status_before[s][i]}
        has = {s for s in names if s in status_after and status_after[s][j]}
        top = np.argsort(-np.abs(relative[:, j]), kind="stable")[:movers]
        changes.append(UnitChange(
            code=str(after.codes[j]), name=str(after.names[j]),
            total_before=int(before.totals[i]) if i >= 0 else 0, total_after=int(after.totals[j]),
            rank_before=int(before.ranks[i]) if i >= 0 else 0, rank_after=int(after.ranks[j]),
            gained=tuple(sorted(has - had)), lost=tuple(sorted(had - has)),
            movers=tuple((indicators[k], int(relative[k, j])) for k in top if relative[k, j] != 0)))
    return WhatIf(period=baseline.period.year, as_of=as_of, baseline_label=baseline_label, draft_label=draft_label,
                  baseline=before, draft=after, units=tuple(changes), statuses=tuple(names),
                  effective_before=effective_weights(before.scores, before.node_codes),
                  effective_after=effective_weights(after.scores, after.node_codes))


DATA = ("to-date", "last-year")


def renumbered(plan: Scheme, year: int) -> Scheme:
    """``plan`` moved to ``year`` (see :func:`jxcore.services.plans.renumber`), keeping its pack's
    path and sources, so it can be scored on that year's data."""
    from jxcore.scheme.document import dumps, scheme_from_document
    from jxcore.services.plans import renumber

    moved = scheme_from_document(renumber(dumps(plan), year))
    return attrs.evolve(moved, path=plan.path, sources=plan.sources)


def whatif_for(store: Store, registry: Registry, scheme: str, draft_ref: str, *, data: str = "to-date",
               baseline_ref: str | None = None, as_of: dt.date | None = None) -> WhatIf:
    """:func:`whatif` of the plan ``draft_ref`` names (``2011``, ``2011v2``; see plans.plan_for) on
    ``data``: ``to-date``, its own year's data as of ``as_of`` (default today, inside the year); or
    ``last-year``, the previous year's data as of that year's final run (the draft renumbered to
    it). Beside it: ``baseline_ref``, default the plan in force of the data's year."""
    from jxcore.services import plans

    if data not in DATA:
        raise UsageError(f"unknown data {data!r}", hint="give to-date or last-year")
    draft, version = plans.plan_for(store, registry, scheme, draft_ref)
    label = version.label if version is not None else f"{draft.period.year} (pack)"
    year = draft.period.year
    if data == "last-year":
        year -= 1
        draft, label = renumbered(draft, year), f"{label} on {year}'s data"
    baseline, base_version = plans.plan_for(store, registry, scheme, baseline_ref or str(year))
    if baseline.period.year != year:
        raise UsageError(f"the plan beside the draft must be of {year}, not {baseline.period.year}",
                         hint=f"give --beside {year} or a version of {year}")
    if data == "last-year" and as_of is None:
        final = store.latest_run(draft.name, year, final_only=True)
        as_of = final.as_of if final is not None else baseline.period.end
    return whatif(store, registry, draft, baseline, as_of=as_of, draft_label=label,
                  baseline_label=base_version.label if base_version is not None else f"{year} (pack)")


# ---------------------------------------------------------------------------------------------
# Lint

REASONS = {
    "no_separation": "an indicator on which (nearly) every unit scores the same measures nothing and only adds "
                     "work: the lecture warns against covering everything (面面俱到)",
    "reward_outweighs": "keep rewards and deductions modest, or units chase them instead of the basics "
                        "(the lecture: 奖励、扣分宜适度)",
    "item_share": "weights follow this year's priorities, but an item this heavy decides the ranking by itself; "
                  "the lecture keeps business work near 80 % across several items, not one",
    "too_many": "a plan too fine (过细) is hard to run and to understand; the lecture names it among the mistakes "
                "(Dongguan's 2010 plan: 178 indicators)",
    "unapproved": "a published plan changes only by a decision of the bureau meeting (局务会议); the lecture warns "
                  "against plans changed at will (随意变更)",
    "not_consulted": "the draft goes to the branches for comments before approval; the lecture warns against "
                     "plans rushed out without consultation (仓促出台)",
}


@attrs.frozen
class LintWarning:
    node: str
    message: str
    reason: str
    kind: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message} ({self.reason})"


def lint(plan: Scheme, *, store: Store | None = None, reference: StoredRun | None = None,
         max_indicators: int = 200, max_item_share: float = 0.35, same_score_share: float = 0.9,
         version: Any = None, installed: Scheme | None = None) -> list[LintWarning]:
    """Warnings about ``plan`` (never errors): see :data:`REASONS`. ``reference`` is last year's final
    run (indicators that did not separate units); ``version`` the stored version being judged and
    ``installed`` the pack's plan of the period (changes to a published plan without an approval)."""
    found: list[LintWarning] = []

    def warn(kind: str, node: str, message: str) -> None:
        found.append(LintWarning(node, message, REASONS[kind], kind))

    if reference is not None:
        for node in plan.indicators():  # rewards and deductions are rare by design: all zero is their aim
            if node.code not in reference.node_codes or node.scoring is not Scoring.WEIGHTED:
                continue
            scores = reference.node_scores(node.code)
            values, counts = np.unique(scores, return_counts=True)
            if len(scores) > 1 and counts.max() >= same_score_share * len(scores):
                top = values[counts.argmax()]
                warn("no_separation", node.code,
                     f"{node.name} did not separate the units in {reference.period}: {counts.max()} of {len(scores)} "
                     f"scored {format_points(top)}")
    weighted = [n for n in plan.items() if n.scoring is Scoring.WEIGHTED]
    smallest = min(weighted, key=lambda n: n.points, default=None)
    for item in plan.items():
        if item.scoring is not Scoring.WEIGHTED and smallest is not None and item.cap is not None \
                and item.cap >= smallest.points:
            warn("reward_outweighs", item.code,
                 f"{item.name} ({item.scoring.value}, cap {format_points(item.cap)}) can outweigh the whole business "
                 f"item {smallest.code} {smallest.name} ({format_points(smallest.points)})")
        if item.scoring is Scoring.WEIGHTED and plan.scale and item.points / plan.scale > max_item_share:
            warn("item_share", item.code, f"{item.name} is {item.points / plan.scale:.0%} of the scale "
                                          f"(more than {max_item_share:.0%})")
    count = len(plan.indicators())
    if count > max_indicators:
        warn("too_many", plan.root, f"{count} indicators (more than {max_indicators})")
    if store is not None:
        found += _record_warnings(store, plan, version, installed)
    return found


def _record_warnings(store: Store, plan: Scheme, version: Any, installed: Scheme | None) -> list[LintWarning]:
    """Changes to a published plan without an approval, and versions published without comments."""
    from jxcore.engine import scheme_digest
    from jxcore.services import plans

    found: list[LintWarning] = []
    stored = plans.versions(store, plan.name, plan.period.year)
    if not stored:
        return found
    records = {v.id: plans.record(store, v) for v in stored}
    decided = {v.digest for v in stored
               if any(t.to_state is plans.State.PUBLISHED for t in records[v.id].transitions)}
    root = plan.root
    if installed is not None and scheme_digest(installed) not in decided:
        found.append(LintWarning(root, f"the installed pack's plan of {plan.period.year} is no version the bureau "
                                       "meeting approved (its YAML was changed)", REASONS["unapproved"], "unapproved"))
    for run in store.runs(plan.name, plan.period.year):
        if run.scheme_digest not in decided:
            found.append(LintWarning(root, f"run {run.id[:12]} as of {run.as_of} was scored with a plan that is no "
                                           "published version", REASONS["unapproved"], "unapproved"))
    if version is not None:
        moves = records[version.id].transitions
        parent = records.get(version.parent_id) if version.parent_id else None
        consulted = any(t.to_state is plans.State.CONSULTATION
                        for t in moves + (parent.transitions if parent else ()))
        imported = moves and moves[0].from_state is None and moves[0].to_state is plans.State.PUBLISHED
        if not consulted and not imported:
            found.append(LintWarning(root, f"version {version.label} has not been out for comments",
                                     REASONS["not_consulted"], "not_consulted"))
    return found


def lint_ref(store: Store, registry: Registry, scheme: str, ref: str, **limits: Any) -> list[LintWarning]:
    """:func:`lint` of the plan ``ref`` names, with last year's final run, its stored record and the
    installed pack's plan of its year."""
    from jxcore.services import plans
    from jxcore.services.schemes import installed_plan

    plan, version = plans.plan_for(store, registry, scheme, ref)
    return lint(plan, store=store, reference=reference_run(store, plan.name, plan.period.year), version=version,
                installed=installed_plan(registry, plan.name, plan.period.year), **limits)


# ---------------------------------------------------------------------------------------------
# Workbooks


def _save(book: Any, path: Path | str) -> Path:
    path = Path(path)
    try:
        book.save(path)
    except OSError as exc:
        raise UsageError(f"cannot write the workbook {path}: {exc.strerror or exc}",
                         hint="give a path in a directory you may write to") from exc
    return path


def _workbook():
    try:
        from openpyxl import Workbook
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency of jx
        raise UsageError("writing a workbook needs openpyxl", hint="pip install openpyxl") from exc
    return Workbook()


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def diff_workbook(result: PlanDiff, path: Path | str) -> Path:
    """The diff as an .xlsx workbook: every node (changes, points, nominal and effective weights)."""
    book = _workbook()
    sheet = book.active
    sheet.title = "diff"
    sheet.append(["code", "name", "kind", "changes", f"points {result.a_label}", f"points {result.b_label}",
                  f"weight % {result.a_label}", f"weight % {result.b_label}", "effective weight %", "details"])
    for n in result.nodes:
        sheet.append(["  " * max(n.depth - 1, 0) + n.code, n.name, n.kind, ", ".join(n.changes),
                      None if n.points_a is None else n.points_a / 1000,
                      None if n.points_b is None else n.points_b / 1000,
                      _pct(n.share_a), _pct(n.share_b), _pct(n.effective), "; ".join(n.details)])
    notes = book.create_sheet("plan")
    notes.append(["effective weights from", result.reference or "no final run in the store"])
    for line in result.plan:
        notes.append(["plan change", line])
    return _save(book, path)


def whatif_workbook(result: WhatIf, path: Path | str) -> Path:
    """The what-if as an .xlsx workbook: every unit under both plans, status changes, movers."""
    book = _workbook()
    sheet = book.active
    sheet.title = "what-if"
    sheet.append(["unit", "name", f"total {result.baseline_label}", f"rank {result.baseline_label}",
                  f"total {result.draft_label}", f"rank {result.draft_label}", "gains", "loses", "moved by"])
    for u in result.units:
        sheet.append([u.code, u.name, u.total_before / 1000, u.rank_before, u.total_after / 1000, u.rank_after,
                      ", ".join(u.gained), ", ".join(u.lost),
                      "; ".join(f"{c} {format_points(d)}" for c, d in u.movers)])
    weights = book.create_sheet("effective weights")
    weights.append(["node", f"effective % {result.baseline_label}", f"effective % {result.draft_label}"])
    for code in dict.fromkeys([*result.draft.node_codes, *result.baseline.node_codes]):
        weights.append([code, _pct(result.effective_before.get(code)), _pct(result.effective_after.get(code))])
    return _save(book, path)
