"""A plan back to YAML: the plans/<year>.yaml (and, for a whole pack, scheme.yaml and units.yaml)
that loads into the same plan document (:mod:`jxcore.scheme.document`), so the same digest.

Everything the loader computed is written out explicitly, so nothing depends on defaults: each
indicator carries its full rule and collector (plan defaults already merged in), the plan carries
its outputs and its whole settings (the pack's merged with its own), a department is written where
it differs from the parent's. Round trip: ``load_scheme(export_pack(doc))`` has ``doc``'s digest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from jxcore.models import NodeKind, Scoring
from jxcore.points import format_points
from jxcore.scheme.document import _typed


class _Dumper(yaml.SafeDumper):
    """Safe YAML without anchors: the loader refuses aliases (one alias can multiply a file)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _points(milli: int) -> int | float:
    text = format_points(milli)
    return float(text) if "." in text else int(text)


def _ref(value: list | None) -> Any:
    if value is None:
        return None
    name, params = value
    return {"name": name, "params": _typed(params)} if params else name


def plan_data(doc: Mapping[str, Any] | str, departments: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The plan of a document as the mapping a plans/<year>.yaml holds (see the module docstring).

    ``departments`` (code → name, as the plan once wrote them) are written back when given; the
    document itself keeps only the codes.
    """
    source: Mapping[str, Any] = json.loads(doc) if isinstance(doc, str) else doc
    nodes = {n["code"]: n for n in source["nodes"]}
    root = nodes[source["root"]]

    def node_data(code: str, parent_department: str | None) -> dict[str, Any]:
        n = nodes[code]
        out: dict[str, Any] = {"code": code, "name": n["name"]}
        item = n["parent"] == source["root"]
        if item and n["scoring"] != Scoring.WEIGHTED.value:
            out["scoring"] = n["scoring"]
            out["cap"] = _points(n["cap"])
        else:
            out["points"] = _points(n["points"])
        if n["department"] != parent_department and n["department"] is not None:
            out["department"] = n["department"]
        if n["description"]:
            out["description"] = n["description"]
        if n["kind"] == NodeKind.INDICATOR.value:
            out["rule"] = _ref(n["rule"])
            out["collector"] = _ref(n["collector"])
            if n["stages"]:
                out["stages"] = [{"date": dt.date.fromisoformat(d), "target": t} for d, t in n["stages"]]
        if n["children"]:
            out["children"] = [node_data(c, n["department"]) for c in n["children"]]
        return out

    data: dict[str, Any] = {"period": source["period"][0], "code": source["root"], "name": root["name"],
                            "scale": _points(root["points"])}
    if departments:
        data["departments"] = dict(departments)
    data["outputs"] = [_ref(o) for o in source["outputs"]]
    if source["settings"]:
        data["settings"] = _typed(source["settings"])
    data["nodes"] = [node_data(c, None) for c in root["children"]]
    return data


def dump(data: Any) -> str:
    """YAML text the scheme loader reads back (block style, unicode kept, keys in the given order)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=120)


def plan_yaml(doc: Mapping[str, Any] | str, departments: Mapping[str, str] | None = None) -> str:
    """The plans/<year>.yaml text of a plan document."""
    source: Mapping[str, Any] = json.loads(doc) if isinstance(doc, str) else doc
    head = f"# {source['title']}: plan {source['period'][0]}, exported by jx\n"
    return head + dump(plan_data(source, departments))


def export_pack(doc: Mapping[str, Any] | str, directory: Path | str,
                departments: Mapping[str, str] | None = None) -> Path:
    """Write a whole pack holding this one plan (scheme.yaml, units.yaml, plans/<year>.yaml); return it.

    Source URLs are as the document keeps them (passwords masked): set them again to read data.
    """
    source: Mapping[str, Any] = json.loads(doc) if isinstance(doc, str) else doc
    root = Path(directory)
    (root / "plans").mkdir(parents=True, exist_ok=True)
    scheme: dict[str, Any] = {"name": source["name"], "title": source["title"], "language": source["language"]}
    if source["sources"]:
        scheme["sources"] = {name: {"url": url, **({"options": _typed(opts)} if opts else {})}
                             for name, (url, opts) in source["sources"].items()}
    units = [{"code": c, "name": n, "staff": s, "entities": e, **_typed(x)} for c, n, s, e, x in source["units"]]
    (root / "scheme.yaml").write_text(dump(scheme), encoding="utf-8")
    (root / "units.yaml").write_text(dump({"units": units}), encoding="utf-8")
    (root / "plans" / f"{source['period'][0]}.yaml").write_text(plan_yaml(source, departments), encoding="utf-8")
    return root
