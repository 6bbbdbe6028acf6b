"""Runs: score and store, list, discard, and read a stored run back with the plan that scored it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from jxcore.errors import UsageError
from jxcore.models import RunResult, Scheme
from jxcore.plugins import Registry
from jxcore.points import MILLI
from jxcore.services.schemes import installed_plan
from jxcore.services.views import RunView
from jxcore.store import Store, StoredRun


def run(store: Store, registry: Registry, scheme: Scheme, *, as_of: dt.date | None = None, final: bool = False,
        actor: str | None = None, console: Any = None, display: Mapping[str, Any] | None = None,
        progress: Callable[[str], None] | None = None) -> RunResult:
    """Score ``scheme`` as of ``as_of`` and store the run with its plan and its actor.

    A run replaces the non-final runs of the same scheme, period and as-of date (daily runs are
    idempotent). No run of a period under an active final lock is stored (LockedError): what is
    published is the locked final result. A final run needs an admin once the store has users,
    the period's plan as stored (:mod:`jxcore.records.plans`; AccessDenied, logged) and a store
    that enforces locks (not MariaDB); it signs the chain's head after it (docs/records.md).
    ``console`` and ``display`` (terminal options, see OutputContext) go to the outputs that print;
    ``progress`` is told each step as it begins (see :func:`jxcore.engine.run_scheme`).
    """
    from jxcore.engine import run_scheme
    from jxcore.records.access import Action, require, users
    from jxcore.records.locking import check_not_final_locked, require_enforced, sign_final_run
    from jxcore.records.plans import require_published

    unit = (display or {}).get("unit")
    if unit is not None:
        scheme.check_unit(unit)  # before anything is collected or printed
    check_not_final_locked(store, scheme.name, scheme.period.year)
    key = None
    if final:
        where = {"scheme": scheme.name, "period": scheme.period.year, "target": "final run"}
        if users(store):
            require(store, actor or "", Action.LOCK, **where)
        require_published(store, scheme, user=actor or "", action=Action.LOCK, what="a final run")
        key = require_enforced(store, "final run")
    result = run_scheme(scheme, registry, as_of=as_of, store=store, console=console, final=final, actor=actor,
                        display=display, progress=progress)
    if final:
        sign_final_run(store, result, actor, key)
    return result


def list_runs(store: Store, scheme_name: str, period: int | None = None) -> list[StoredRun]:
    """The stored runs of a scheme (of one period), newest first."""
    return store.runs(scheme_name, period)


def discard_run(store: Store, run_id: str, *, actor: str | None = None) -> StoredRun:
    """Delete a non-final run (admins only once the store has users); final runs stay (StoreError)."""
    from jxcore.records.access import Action, log_access, require, users

    stored = store.load_run(run_id)
    scheme, period, target = stored.scheme, stored.period, f"run {run_id}"
    if users(store):
        require(store, actor or "", Action.LOCK, scheme=scheme, period=period, target=target)
    store.write(lambda tx: tx.discard_run(run_id))
    if users(store):
        log_access(store, actor or "", Action.LOCK, f"discarded run {run_id} as of {stored.as_of}", allowed=True,
                   scheme=scheme, period=period, target=target)
    return stored


def plan_of(store: Any, registry: Registry | None, stored: StoredRun,
            current: Scheme | None = None) -> tuple[Scheme, bool]:
    """(the plan that scored ``stored``, whether the installed plan of that period differs).

    The plan comes from the store (kept with the run since store revision 0004); a run stored
    before that is read with the installed plan, which is then reported as differing unless its
    digest matches. ``current`` is the plan the caller opened (a pack given by path), compared
    instead of the installed one when it is of the run's scheme and period. The stored plan borrows
    the installed pack's path and sources (its own URLs are masked), so explain can still read source rows.
    """
    import attrs

    from jxcore.scheme.document import digest, dumps, scheme_from_document

    if current is not None and (current.name, current.period.year) == (stored.scheme, stored.period):
        installed: Scheme | None = current
    else:
        installed = installed_plan(registry, stored.scheme, stored.period) if registry is not None else None
    text = store.plan_document(stored.scheme_digest)
    if text is None:
        if installed is None:
            raise UsageError(f"run {stored.id} was stored without its plan, and scheme {stored.scheme} "
                             f"{stored.period} is not installed", hint="install the scheme pack that made it")
        return installed, digest(dumps(installed)) != stored.scheme_digest
    plan = scheme_from_document(text)
    if installed is None:
        return plan, False
    plan = attrs.evolve(plan, path=installed.path,
                        sources={**plan.sources, **{k: v for k, v in installed.sources.items() if k in plan.sources}})
    return plan, digest(dumps(installed)) != stored.scheme_digest


def view_of(store: Any, registry: Registry | None, stored: StoredRun, current: Scheme | None = None) -> RunView:
    """``stored`` as a :class:`RunView` read with its own plan (see :func:`plan_of`)."""
    plan, differs = plan_of(store, registry, stored, current)
    return RunView.from_stored(stored, plan, plan_differs=differs)


def stored_view(store: Store, registry: Registry, scheme: str | Scheme, period: int | None = None, *,
                run_id: str | None = None) -> RunView:
    """A stored run with the plan that scored it: ``run_id``, else the current run of the period
    (the latest as-of date; default period: the installed pack's latest plan, else the latest stored);
    under an active final lock the period's current run is its locked final run, always.

    UsageError naming ``jx run …`` when the period has no run, or when ``run_id`` is another scheme's.
    ``scheme`` is a name, or the plan the caller opened (then compared with the run's own plan).
    """
    current = scheme if isinstance(scheme, Scheme) else None
    if isinstance(scheme, Scheme):
        name, period = scheme.name, period or scheme.period.year
    else:
        name = scheme
    if run_id:  # a run asked for by id is shown as what it is (final or not); the period's is below
        asked = store.load_run(run_id)
        if asked.scheme != name:
            raise UsageError(f"run {run_id} is of scheme {asked.scheme}, not {name}",
                             hint=f"give --scheme {asked.scheme} --period {asked.period}")
        return view_of(store, registry, asked, current)
    if period is None:
        plan = installed_plan(registry, name, None)
        latest = store.runs(name)
        period = plan.period.year if plan is not None else (latest[0].period if latest else None)
    stored = store.latest_run(name, period) if period is not None else None
    if stored is None:
        raise UsageError(f"the store has no run of scheme {name}" + (f" for {period}" if period else ""),
                         hint=f"make one with `jx run --scheme {name}" + (f" --period {period}`" if period else "`"))
    return view_of(store, registry, stored, current)


def previous_view(store: Any, registry: Registry | None, view: RunView) -> RunView | None:
    """The run movement is measured against: the period's latest run with an earlier as-of date."""
    if store is None or view.run_id is None:
        return None
    before = store.latest_run(view.scheme.name, view.scheme.period.year, before=view.run_id)
    if before is None:
        return None
    if store.plan_document(before.scheme_digest) is None and registry is None:  # stored before 0004
        return RunView.from_stored(before, view.scheme)
    return view_of(store, registry, before)


def run_document(view: RunView, *, actor: str | None = None) -> dict[str, Any]:
    """The JSON form of a run (``jx run --json``): scheme, period, as_of, run_id, final, and the
    units by rank with their totals and item scores in points."""
    items = [n.code for n in view.items()]
    order = sorted(range(len(view)), key=lambda i: (int(view.ranks[i]), i))
    units = [{"code": view.codes[i], "name": view.names[i], "total": int(view.totals[i]) / MILLI,
              "rank": int(view.ranks[i]),
              "items": {code: int(view.node_scores(code)[i]) / MILLI for code in items}} for i in order]
    doc = {"scheme": view.scheme.name, "period": view.scheme.period.year, "as_of": view.as_of.isoformat(),
           "run_id": view.run_id, "final": view.final, "units": units}
    if view.plan_differs:
        doc["plan_differs"] = True
    return doc
