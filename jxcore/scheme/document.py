"""A plan as one JSON document and back: what a run stores so it is always read with its own plan.

The document holds everything that decides scores, ranks and their reading (tree, points, rules,
collectors with their parameters, departments, stage targets, units, outputs, settings, names);
its sha256 is the plan's digest, so a year's daily runs share one stored copy and a changed plan
is noticed. Source URLs are kept with their passwords masked: a stored plan reads no database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from jxcore.models import Node, NodeKind, Period, PluginRef, Scheme, Scoring, Source, Stage, Unit

FORMAT = 1  #: bumped when the document's shape changes


def _plain(value: Any) -> Any:
    """Parameters and settings as JSON: dates tagged so they come back as dates."""
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return dt.date.fromisoformat(value["$date"])
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def _ref(ref: PluginRef | None) -> list | None:
    return None if ref is None else [ref.name, _plain(dict(ref.params))]


def _mask(url: str) -> str:
    from jxcore.store.api import mask_url

    return mask_url(url)


def plan_document(scheme: Scheme) -> dict[str, Any]:
    """The plan as a JSON-able dict (see the module docstring)."""
    return {
        "format": FORMAT, "name": scheme.name, "title": scheme.title, "language": scheme.language,
        "period": [scheme.period.year, scheme.period.start.isoformat(), scheme.period.end.isoformat()],
        "root": scheme.root,
        "nodes": [{"code": n.code, "name": n.name, "kind": n.kind.value, "parent": n.parent, "points": n.points,
                   "scoring": n.scoring.value, "cap": n.cap, "department": n.department,
                   "rule": _ref(n.rule), "collector": _ref(n.collector),
                   "stages": [[s.date.isoformat(), s.target] for s in n.stages],
                   "description": n.description, "children": list(n.children)}
                  for n in scheme.nodes.values()],
        "units": [[u.code, u.name, u.staff, u.entities, _plain(dict(u.extra))] for u in scheme.units],
        "sources": {name: [_mask(s.url), _plain(dict(s.options))] for name, s in scheme.sources.items()},
        "outputs": [_ref(o) for o in scheme.outputs],
        "settings": _plain(dict(scheme.settings)),
    }


def dumps(scheme: Scheme) -> str:
    """The canonical JSON text of :func:`plan_document` (sorted keys, no spaces): what is stored."""
    return json.dumps(plan_document(scheme), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(text: str) -> str:
    """sha256 hex of a plan document's text: the plan's identity."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scheme_from_document(doc: Mapping[str, Any] | str) -> Scheme:
    """The :class:`Scheme` a document describes (no file locations, no pack path)."""
    data: Mapping[str, Any] = json.loads(doc) if isinstance(doc, str) else doc

    def ref(value: list | None) -> PluginRef | None:
        return None if value is None else PluginRef(value[0], _typed(value[1]))

    year, start, end = data["period"]
    nodes = {n["code"]: Node(
        code=n["code"], name=n["name"], kind=NodeKind(n["kind"]), parent=n["parent"], points=n["points"],
        scoring=Scoring(n["scoring"]), cap=n["cap"], department=n["department"], rule=ref(n["rule"]),
        collector=ref(n["collector"]),
        stages=tuple(Stage(dt.date.fromisoformat(d), t) for d, t in n["stages"]),
        description=n["description"], children=tuple(n["children"])) for n in data["nodes"]}
    return Scheme(
        name=data["name"], title=data["title"], language=data["language"],
        period=Period(year, dt.date.fromisoformat(start), dt.date.fromisoformat(end)), root=data["root"],
        nodes=nodes, units=tuple(Unit(c, n, s, e, _typed(x)) for c, n, s, e, x in data["units"]),
        sources={name: Source(name, url, _typed(opts)) for name, (url, opts) in data["sources"].items()},
        outputs=tuple(PluginRef(o[0], _typed(o[1])) for o in data["outputs"]), settings=_typed(data["settings"]))
