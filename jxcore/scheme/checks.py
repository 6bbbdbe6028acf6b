"""The one-pass check of a plan: fields, tree shape (networkx), points, plugins, stages, departments.

:func:`build_plan` turns one plan mapping into a :class:`jxcore.models.Scheme`, or returns every
problem it found (each with file:line and node code); it never raises for bad input.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from jxcore.errors import JxError, Location, Problem
from jxcore.interfaces import CollectRequest
from jxcore.models import Node, NodeKind, Period, PluginRef, Scheme, Scoring, Stage
from jxcore.params import NUMBER_LIMIT, check_params
from jxcore.plugins import Registry
from jxcore.points import format_points
from jxcore.ranking import ranking_problems
from jxcore.scheme.fields import LIST, NUMBER, Reader, is_type, line_of, plain, short

if TYPE_CHECKING:
    from jxcore.scheme.loader import PackInfo

PLAN_FIELDS = ("period", "code", "name", "scale", "departments", "defaults", "outputs", "settings", "nodes")
NODE_FIELDS = ("code", "name", "points", "parent", "children", "scoring", "cap", "department", "description",
               "rule", "collector", "stages")
DEFAULT_FIELDS = ("rule", "collector", "department")
STAGE_FIELDS = ("date", "target")
MAX_NODES = 20_000  # far above any real plan (guangdong: ~200 nodes); refuse rather than walk forever
_SCORINGS = tuple(s.value for s in Scoring)


@attrs.define
class _Raw:
    """One node as written, its fields read; ``parent`` is the effective parent (None: it has none)."""

    code: str
    data: Mapping
    order: int
    parent: str | None
    location: Location
    name: str
    points: int | None
    points_ok: bool
    scoring: Scoring | None
    cap: int | None
    cap_ok: bool
    department: str | None
    description: str
    rule: PluginRef | None
    collector: PluginRef | None
    stages: tuple[Stage, ...]

    def written(self, key: str) -> bool:
        return self.data.get(key) is not None


def build_plan(plan: Any, *, reader: Reader, period: int, period_required: bool, pack: PackInfo,
               registry: Registry | None) -> Scheme | None:
    """Check one plan and build its Scheme; on any problem return None (problems are in ``reader``)."""
    before = len(reader.problems)
    check = _PlanCheck(reader, Period.for_year(period), registry)
    scheme = check.run(plan, period_required, pack)
    return scheme if len(reader.problems) == before else None


def merge_ref(own: PluginRef | None, default: PluginRef | None) -> PluginRef | None:
    """A node's rule/collector over the plan default: same (or no) name → params merged key by key."""
    if own is None or default is None or (own.name and own.name != default.name):
        return own or default
    return PluginRef(own.name or default.name, {**default.params, **own.params}, own.location)


class _PlanCheck:
    def __init__(self, reader: Reader, period: Period, registry: Registry | None):
        self.r = reader
        self.period = period
        self.registry = registry
        self.root = "TOTAL"
        self.scale_location = Location()
        self.raws: dict[str, _Raw] = {}
        self.seen: dict[str, Location] = {}  # every code written, attached or not → first place
        self.detached: set[str] = set()  # nodes under a broken node: checked, left out of the tree
        self.cut: set[str] = set()  # nodes already reported as having no valid parent
        self.incomplete: set[str] = set()  # nodes with a broken child: no sum check
        self.departments: Mapping[str, Any] | None = None
        self.defaults: dict[str, Any] = {}
        self.reported_plugins: set[tuple[str, str, str | None, int | None]] = set()
        self.count = 0

    # -- the plan's own fields ------------------------------------------------------------------
    def run(self, plan: Any, period_required: bool, pack: PackInfo) -> Scheme | None:
        r = self.r
        if not r.mapping(plan, "a plan", plan):
            return None
        r.known(plan, PLAN_FIELDS, "the plan")
        written = r.get(plan, "period", int, required=period_required,
                        hint=f"add period: {self.period.year} at the top of the plan")
        if written is not None and written != self.period.year:
            r.add(f"period {written} does not match the plan's file name ({self.period.year})", plan, "period",
                  hint=f"write period: {self.period.year}, or rename the file to plans/{written}.yaml")
        self.root = r.text(plan, "code", default="TOTAL")
        if any(c.isspace() for c in self.root):
            r.add(f"code {self.root!r} contains spaces", plan, "code", node=self.root,
                  hint="use letters, digits, dots or underscores, e.g. TOTAL")
        name = r.text(plan, "name", default=pack.title or pack.name)
        scale, scale_ok = r.points(plan, "scale", node=self.root)
        if scale == 0:
            r.add("'scale' must be more than 0", plan, "scale", node=self.root, hint="the scale is 100 or 1000")
        scale = 100_000 if scale is None and scale_ok else scale
        self.seen[self.root] = r.where(plan, "code", self.root)
        self.scale_location = r.where(plan, "scale", self.root)
        if plan.get("departments") is not None and r.mapping(plan["departments"], "departments", plan,
                                                               "departments"):
            self.departments = plan["departments"]
            for code, text in self.departments.items():
                if not isinstance(code, str) or not isinstance(text, str):
                    r.add(f"department {short(code)}: {short(text)} must be CODE: name, both strings",
                          self.departments, code)
        self._read_defaults(plan)
        outputs = pack.outputs
        if plan.get("outputs") is not None:
            outputs = tuple(read_outputs(r, plan, "outputs"))
        settings = dict(pack.settings)
        if plan.get("settings") is not None and r.mapping(plan["settings"], "settings", plan, "settings"):
            settings.update(plain(plan["settings"]))
        entries = r.get(plan, "nodes", LIST, required=True, hint="add nodes: with the plan's items")
        if entries is not None:
            if not entries:
                r.add("the plan has no nodes", plan, "nodes", hint="list the major items under nodes:")
            self._walk(entries, None, detached=False)
        checked = [ref for ref in outputs if self._check_plugin(ref, "output", None) is not None]
        scheme = self._tree(name, scale, pack, outputs, settings)
        self._check_settings(scheme, checked, plan, pack)
        return scheme

    def _read_defaults(self, plan: Mapping) -> None:
        r = self.r
        defaults = plan.get("defaults")
        if defaults is None or not r.mapping(defaults, "defaults", plan, "defaults"):
            return
        r.known(defaults, DEFAULT_FIELDS, "defaults")
        for key in ("rule", "collector"):
            if defaults.get(key) is not None:
                self.defaults[key] = r.plugin_ref(defaults, key, key)
        self.defaults["department"] = self._department(defaults, None)

    def _department(self, data: Mapping, code: str | None) -> str | None:
        department = self.r.text(data, "department", node=code)
        if department is not None and self.departments is not None and department not in self.departments:
            known = ", ".join(map(str, self.departments)) or "none"
            self.r.add(f"unknown department {department!r}", data, "department", node=code,
                       hint=f"the plan's departments are: {known}")
        return department

    # -- walking the nodes as written -----------------------------------------------------------
    def _walk(self, entries: Sequence, nest_parent: str | None, detached: bool) -> None:
        for i, entry in enumerate(entries):
            if self.count >= MAX_NODES:
                self.r.add(f"more than {MAX_NODES} nodes", entries, i, hint="is a YAML alias repeating a subtree?")
                return
            self.count += 1
            if not isinstance(entry, Mapping):
                self.r.add(f"a node must be a mapping with code, name, points …, not {short(entry)}", entries, i,
                           node=nest_parent)
                continue
            code, broken = self._code(entry)
            children = self.r.get(entry, "children", LIST, node=code, default=())
            raw = self._read_node(entry, code, nest_parent) if code else None
            if broken and not detached:  # its parent's sum cannot be checked: one child is missing
                written = entry.get("parent")
                self.incomplete.add(nest_parent or (written if isinstance(written, str) else self.root))
            broken = broken or detached
            if raw is not None and code and not broken:
                self.raws[code] = raw
            elif code:
                self.detached.add(code)
            self._walk(children, code, detached=broken or code is None)

    def _code(self, entry: Mapping) -> tuple[str | None, bool]:
        """The node's code if usable, and whether the node is broken (duplicate, second root)."""
        r = self.r
        code = r.get(entry, "code", str, required=True, hint="every node needs a unique code, e.g. code: QYJG")
        if code is None:
            r.known(entry, NODE_FIELDS, "a node")
            return None, True
        r.known(entry, NODE_FIELDS, f"node {code}", node=code)
        if not code.strip() or any(c.isspace() for c in code):
            r.add(f"code {code!r} is empty or contains spaces", entry, "code", node=code or None,
                  hint="use letters, digits, dots or underscores, e.g. QYJG.NJYZ")
            return None, True
        if code in self.seen:
            first = self.seen[code]
            if code == self.root:
                r.add(f"more than one root: {code} is also the plan's root code (at {first})", entry, "code",
                      node=code, hint="the plan itself is the root; give this node another code")
            else:
                r.add(f"duplicate code {code}: also at {first.file}:{first.line}", entry, "code", node=code,
                      hint="every code must be unique within a plan; rename one of them")
            return code, True
        self.seen[code] = r.where(entry, "code", code)
        return code, False

    def _read_node(self, entry: Mapping, code: str, nest_parent: str | None) -> _Raw:
        r = self.r
        parent: str | None = nest_parent or self.root
        if "parent" in entry:
            written = entry["parent"]
            if written is None:
                r.add(f"more than one root: {code} has parent: null, so it hangs under nothing", entry, "parent",
                      node=code, hint=f"remove parent: to place it under the root {self.root}, or name its parent")
                parent = None
                self.cut.add(code)
            elif not isinstance(written, str):
                r.add(f"'parent' must be a node code, not {short(written)}", entry, "parent", node=code)
            elif nest_parent is not None and written != nest_parent:
                r.add(f"two parents: nested under {nest_parent} and parent: {written}", entry, "parent", node=code,
                      hint="remove parent:, or move the node to the top level of nodes:")
            else:
                parent = written
        scoring = None
        value = entry.get("scoring")
        if value is not None:
            if value in _SCORINGS:
                scoring = Scoring(value)
            else:
                r.add(f"'scoring' must be one of {', '.join(_SCORINGS)}, not {short(value)}", entry, "scoring",
                      node=code, hint="weighted, the default, counts in the 100 %; reward and deduction do not")
        points, points_ok = r.points(entry, "points", node=code)
        cap, cap_ok = r.points(entry, "cap", node=code)
        return _Raw(
            code=code, data=entry, order=self.count, parent=parent, location=r.where(entry, "code", code),
            name=r.text(entry, "name", node=code, required=True, default=""),
            points=points, points_ok=points_ok, scoring=scoring, cap=cap, cap_ok=cap_ok,
            department=self._department(entry, code),
            description=r.get(entry, "description", str, node=code, default=""),
            rule=self._ref(entry, "rule", code), collector=self._ref(entry, "collector", code),
            stages=self._stages(entry, code),
        )

    def _ref(self, entry: Mapping, key: str, code: str) -> PluginRef | None:
        if entry.get(key) is None:
            return None
        return self.r.plugin_ref(entry, key, key, node=code, name_required=self.defaults.get(key) is None)

    def _stages(self, entry: Mapping, code: str) -> tuple[Stage, ...]:
        r, period = self.r, self.period
        stages: list[Stage] = []
        last: dt.date | None = None
        written = r.get(entry, "stages", LIST, node=code, default=())
        for i, stage in enumerate(written):
            if not r.mapping(stage, "a stage", written, i, node=code):
                continue
            r.known(stage, STAGE_FIELDS, "a stage", node=code)
            day = r.get(stage, "date", dt.date, node=code, required=True)
            target = r.get(stage, "target", NUMBER, node=code, required=True)
            if target is not None and not (math.isfinite(target) and abs(target) <= NUMBER_LIMIT):
                r.add(f"stage target {target!r} is not a finite number within ±{NUMBER_LIMIT:,.0f}", stage, "target",
                      node=code, hint="write the value the indicator should reach by the date, e.g. 0.9")
                target = None
            if day is not None:
                if not period.start <= day <= period.end:
                    r.add(f"stage date {day} is outside the period {period.year} ({period.start} to {period.end})",
                          stage, "date", node=code, hint="stage dates fall inside the plan's year")
                    day = None
                elif last is not None and day <= last:
                    r.add(f"stage dates must increase: {day} is not after {last}", stage, "date", node=code,
                          hint="list stages in date order, one per date")
                    day = None
                else:
                    last = day
            if day is not None and target is not None:
                stages.append(Stage(day, float(target)))
        self._plausible_targets(entry, code, written, stages)
        return tuple(stages)

    def _plausible_targets(self, entry: Mapping, code: str, written: Sequence, stages: list[Stage]) -> None:
        """A warning for targets on two scales in one indicator (0.9 beside 97): a rate written as a
        percentage. The rule's ``target`` parameter, when it has one, counts among them."""
        rule = entry.get("rule")
        params = rule.get("params") if isinstance(rule, Mapping) else None
        targets = [s.target for s in stages]
        if isinstance(params, Mapping) and is_type(params.get("target"), NUMBER):
            targets.append(params["target"])
        if not any(0 < t <= 1 for t in targets):
            return
        for stage in written:
            target = stage.get("target") if isinstance(stage, Mapping) else None
            if target is not None and is_type(target, NUMBER) and 1 < target <= 100:
                self.r.warn(f"stage target {target:g} looks like a percentage; the indicator's other targets "
                            "are rates between 0 and 1", stage, "target", node=code,
                            hint=f"did you mean {target / 100:g}?")

    # -- the tree -------------------------------------------------------------------------------
    def _graph(self) -> dict[str, list[str]]:
        """Parent → children of the nodes reachable from the root; reports orphans, cycles and
        nodes cut off from the root. Every node has one parent, so when all are reachable there is
        no cycle, and networkx is imported only to name the cycles of a broken plan."""
        r, root = self.r, self.root
        children: dict[str, list[str]] = {root: [], **{code: [] for code in self.raws}}
        for raw in self.raws.values():
            if raw.parent is None:
                continue
            if raw.parent in children:
                children[raw.parent].append(raw.code)
                continue
            self.cut.add(raw.code)
            if raw.parent not in self.detached:
                close = difflib.get_close_matches(raw.parent, [c for c in children if c != raw.code], n=3)
                hint = ("did you mean " + " or ".join(close) + "?") if close else "name an existing node's code"
                r.add(f"parent {raw.parent} does not exist", raw.data, "parent", node=raw.code, hint=hint)
        reachable, stack = {root}, [root]
        while stack:
            for child in children[stack.pop()]:
                reachable.add(child)
                stack.append(child)
        if len(reachable) < len(children):
            self._unreachable(children, reachable)
        return {code: kids for code, kids in children.items() if code in reachable}

    def _unreachable(self, children: dict[str, list[str]], reachable: set[str]) -> None:
        """Report the cycles among the nodes not reachable from the root, then the nodes below them."""
        import networkx as nx  # only for broken plans: its import costs ~0.1 s

        r = self.r
        graph = nx.DiGraph([(parent, kid) for parent, kids in children.items() if parent not in reachable
                            for kid in kids])
        for cycle in sorted(nx.simple_cycles(graph), key=lambda c: min(self.raws[n].order for n in c)):
            start = min(range(len(cycle)), key=lambda i: self.raws[cycle[i]].order)
            cycle = cycle[start:] + cycle[:start]
            first = self.raws[cycle[0]]
            r.add("cycle: " + " --> ".join([*cycle, cycle[0]]) + " (each is the parent of the next)",
                  first.data, "parent" if "parent" in first.data else "code", node=first.code,
                  hint="a node cannot be its own ancestor; change the parent: of one of them")
            self.cut.update(cycle)
        for code, raw in self.raws.items():
            if code in reachable or code in self.cut:
                continue
            top, visited = code, set()
            while top not in self.cut and top not in visited:
                visited.add(top)
                parent = self.raws[top].parent
                top = parent if parent in self.raws else top
            r.add(f"not reachable from the root {self.root}: its ancestor {top} is not in the tree", raw.data, "code",
                  node=code, hint=f"fix the parent of {top}")

    def _tree(self, name: str, scale: int | None, pack: PackInfo, outputs: Sequence[PluginRef],
              settings: dict) -> Scheme:
        root, raws = self.root, self.raws
        children = {code: sorted(kids, key=lambda c: raws[c].order) for code, kids in self._graph().items()}
        # stable sort: weighted items first, then rewards and deductions, each as written
        children[root].sort(key=lambda c: raws[c].scoring not in (None, Scoring.WEIGHTED))
        order, stack = [], [root]
        while stack:
            code = stack.pop()
            order.append(code)
            stack.extend(reversed(children[code]))
        depth, scoring = {root: 0}, {root: Scoring.WEIGHTED}
        department: dict[str, str | None] = {root: None}
        for code in order[1:]:
            raw = raws[code]
            parent = cast(str, raw.parent)  # every node below the root has one
            depth[code] = depth[parent] + 1
            department[code] = raw.department or department[parent]
            scoring[code] = self._scoring(raw, depth[code], scoring[parent])
        points = {root: scale}
        for code in reversed(order[1:]):
            points[code] = self._points(raws[code], depth[code], scoring[code], [points[c] for c in children[code]])
        for code in order:
            self._check_sum(code, children[code], points, scoring)
        nodes = {root: Node(code=root, name=name, kind=NodeKind.ROOT, parent=None, points=scale or 0,
                            children=tuple(children[root]), location=self.seen[root])}
        for code in order[1:]:
            nodes[code] = self._node(raws[code], children[code], depth[code], scoring[code], department[code],
                                     points[code])
        return Scheme(name=pack.name, title=pack.title, period=self.period, root=root, nodes=nodes,
                      units=pack.units, sources=pack.sources, outputs=tuple(outputs), settings=settings,
                      language=pack.language, path=pack.path)

    def _scoring(self, raw: _Raw, depth: int, inherited: Scoring) -> Scoring:
        r = self.r
        if depth == 1:
            scoring = raw.scoring or Scoring.WEIGHTED
            if scoring is not Scoring.WEIGHTED and not raw.written("cap"):
                r.add(f"missing field 'cap' on the {scoring.value} item {raw.code}", raw.data, node=raw.code,
                      hint=f"add cap: N, the most a unit can get from {raw.code} in total")
        else:
            scoring = inherited
            if raw.scoring not in (None, inherited):
                r.add(f"'scoring' can only be set on items (depth 1); {raw.code} inherits {inherited.value}",
                      raw.data, "scoring", node=raw.code, hint="remove scoring: here, or move the node")
        if raw.written("cap") and (depth != 1 or scoring is Scoring.WEIGHTED):
            r.add("'cap' is only for reward and deduction items", raw.data, "cap", node=raw.code,
                  hint="remove cap:, or add scoring: reward / deduction to this item")
        return scoring

    def _points(self, raw: _Raw, depth: int, scoring: Scoring, kids: list[int | None]) -> int | None:
        """The node's milli-points; None when unknown (a problem was already reported)."""
        if scoring is Scoring.WEIGHTED or not kids:
            if raw.points is None and raw.points_ok:
                what = "" if scoring is Scoring.WEIGHTED else f" (the most a unit can get: {scoring.value})"
                self.r.add(f"missing field 'points'{what}", raw.data, node=raw.code, hint="add points: N")
            return raw.points
        if depth == 1:
            if raw.points is not None and raw.cap is not None and raw.points != raw.cap:
                self.r.add(f"points of a {scoring.value} item are its cap ({format_points(raw.cap)})", raw.data,
                           "points", node=raw.code, hint="remove points:, or make them equal to cap:")
            return raw.cap
        if raw.points is not None or None in kids:
            return raw.points
        return sum(kids)  # type: ignore[arg-type]

    def _check_sum(self, code: str, kids: list[str], points: dict[str, int | None],
                   scoring: dict[str, Scoring]) -> None:
        if not kids or scoring[code] is not Scoring.WEIGHTED or code in self.incomplete:
            return
        weighted = [points[k] for k in kids if scoring[k] is Scoring.WEIGHTED]
        expected = points[code]
        if expected is None or None in weighted or sum(weighted) == expected:  # type: ignore[arg-type]
            return
        total = format_points(sum(weighted))  # type: ignore[arg-type]
        if code == self.root:
            message = f"the weighted items' points sum to {total}, expected the scale {format_points(expected)}"
            hint = "make the items add up to the scale; reward and deduction items do not count"
            self.r.problems.append(Problem(message, self.scale_location, hint))
            return
        raw = self.raws[code]
        self.r.add(f"children's points sum to {total}, expected {format_points(expected)} (the points of {code})",
                   raw.data, "points", node=code,
                   hint=f"make the children add up to {format_points(expected)}, or change the points of {code}")

    def _node(self, raw: _Raw, kids: list[str], depth: int, scoring: Scoring, department: str | None,
              points: int | None) -> Node:
        code = raw.code
        rule = collector = None
        if kids:
            written = [key for key in ("rule", "collector", "stages") if raw.written(key)]
            if written:
                self.r.add(f"{code} has children, so it cannot have {', '.join(written)}", raw.data, written[0],
                           node=code, hint="only indicators, the leaves, are scored; move it to them")
        else:
            rule = self._indicator_ref(raw, "rule")
            collector = self._indicator_ref(raw, "collector")
            department = department or self.defaults.get("department")
        kind = NodeKind.INDICATOR if not kids else NodeKind.ITEM if depth == 1 else NodeKind.SUBITEM
        return Node(code=code, name=raw.name, kind=kind, parent=raw.parent, points=points or 0, scoring=scoring,
                    cap=raw.cap if depth == 1 and scoring is not Scoring.WEIGHTED else None,
                    department=department, rule=rule, collector=collector, stages=raw.stages,
                    description=raw.description, children=tuple(kids), location=raw.location)

    def _indicator_ref(self, raw: _Raw, kind: str) -> PluginRef | None:
        ref = merge_ref(getattr(raw, kind), self.defaults.get(kind))
        if ref is None or not ref.name:
            if ref is not None or not raw.written(kind):
                self.r.add(f"indicator {raw.code} has no {kind}", raw.data, kind, node=raw.code,
                           hint=f"add {kind}: NAME or {kind}: {{name: NAME, params: …}}, or a plan default")
            return None
        ref = attrs.evolve(ref, location=attrs.evolve(ref.location, node=raw.code))
        values = self._check_plugin(ref, kind, raw.code)
        if values is not None:
            self._deep_check(ref, kind, raw, values)
        return ref

    def _deep_check(self, ref: PluginRef, kind: str, raw: _Raw, values: dict[str, Any]) -> None:
        """A plugin may check what its declared params cannot say alone (fields that go together,
        values against the indicator's points): an optional ``check(requests) -> list[Problem]``.
        ``values`` are the checked params with their defaults."""
        plugin = getattr(self.registry, kind + "s")[ref.name].obj
        check = getattr(plugin, "check", None)
        if check is None:
            return
        node = Node(raw.code, raw.name, NodeKind.INDICATOR, raw.parent, raw.points or 0,
                    location=raw.location, rule=ref if kind == "rule" else None,
                    collector=ref if kind == "collector" else None)
        self.r.problems.extend(self._call_check(f"{kind} {ref.name}", lambda _: check([CollectRequest(node, values)]),
                                                None, ref.location))

    def _check_plugin(self, ref: PluginRef, kind: str, node: str | None) -> dict[str, Any] | None:
        """Is the rule/collector/output registered, and are its params what it declares? Its params
        with their defaults if so, else None."""
        if self.registry is None or not ref.name:
            return None
        table = getattr(self.registry, kind + "s")
        registered = table.get(ref.name)
        location = attrs.evolve(ref.location, node=node)
        if registered is None:
            key = (kind, ref.name, ref.location.file, ref.location.line)
            if key not in self.reported_plugins:
                self.reported_plugins.add(key)
                known = ", ".join(sorted(table)) or "none"
                self.r.problems.append(Problem(f"unknown {kind} {ref.name!r}", location,
                                               f"the installed {kind}s are: {known}"))
            return None
        values, issues = check_params(registered.obj.params, ref.params)
        self.r.problems.extend(Problem(f"{kind} {ref.name}: {issue}", location,
                                       f"see `jx plugins` for the parameters of {ref.name}") for issue in issues)
        return None if issues else values


    def _check_settings(self, scheme: Scheme, outputs: Sequence[PluginRef], plan: Mapping, pack: PackInfo) -> None:
        """The core checks ``settings.ranking`` (every run ranks); an output, and a rule or collector
        the plan uses, may check the settings it reads (and its parameters against them): an optional
        ``check_settings(scheme) -> list[Problem]``. A problem whose ``location.node`` is a dotted
        path (``settings.checklists.inspection``) is located here in the files; one with a file keeps it."""
        from jxcore.settings import known_settings_keys, records_problems, unknown_settings_problems

        checks: list[tuple[str, Any]] = [("ranking", ranking_problems), ("records", records_problems)]
        if self.registry is not None and self.registry.pm is not None:  # top-level keys nothing reads
            pm = self.registry.pm
            checks.insert(0, ("settings", lambda s: unknown_settings_problems(s, known_settings_keys(pm))))
        if self.registry is not None:
            checks += [(f"output {ref.name}", self.registry.outputs[ref.name].obj) for ref in outputs]
            tables = {"rule": self.registry.rules, "collector": self.registry.collectors}
            used = {(kind, ref.name) for node in scheme.indicators() for kind in tables
                    if (ref := getattr(node, kind)) is not None and ref.name in tables[kind]}
            checks += [(f"{kind} {name}", tables[kind][name].obj) for kind, name in sorted(used)]
        seen = set()
        for label, plugin in checks:
            check = plugin if label in ("settings", "ranking", "records") else getattr(plugin, "check_settings", None)
            for problem in self._call_check(label, check, scheme):
                if (problem.message, problem.location.node) in seen:
                    continue
                seen.add((problem.message, problem.location.node))
                node = problem.location.node or "settings"
                if problem.location.file is None and (node == "settings" or node.startswith("settings.")):
                    problem = attrs.evolve(problem, location=self._setting_location(node, plan, pack))
                elif problem.location.file is None and node in scheme.nodes:
                    problem = attrs.evolve(problem, location=scheme.nodes[node].location)
                self.r.problems.append(problem)

    def _call_check(self, label: str, check: Any, scheme: Scheme | None,
                    where: Location | None = None) -> list[Problem]:
        """A plugin's check's problems; a check that fails is itself a problem, not a crash."""
        if check is None:
            return []
        try:
            return list(check(scheme))
        except JxError as exc:
            return list(exc.problems)
        except Exception as exc:  # a plugin's check must not turn a bad pack into a traceback
            return [Problem(f"{label} failed to check what is written: {type(exc).__name__}: {exc}",
                            where or Location(file=self.r.file, node="settings"),
                            "check the values this plugin reads here; if they look right, report it to the "
                            "plugin's authors")]

    def _setting_location(self, path: str, plan: Mapping, pack: PackInfo) -> Location:
        """Where ``settings.a.b`` is written: the plan's settings (deepest key found), else scheme.yaml."""
        keys, written = path.split(".")[1:], plan.get("settings")
        if keys and isinstance(written, Mapping) and keys[0] in written:
            return Location(file=self.r.file, line=_deepest_line(written, keys), node=path)
        if keys and keys[0] in pack.settings:
            file = pack.files.shown(pack.files.scheme) if pack.files else "<scheme>"
            return Location(file=file, line=_deepest_line(pack.settings_lines, keys), node=path)
        return Location(file=self.r.file, line=line_of(plan, "settings" if "settings" in plan else None), node=path)


def _deepest_line(data: Any, keys: Sequence[str]) -> int | None:
    """The line of the deepest of ``keys`` (a path into nested mappings) written in ``data``."""
    line = line_of(data)
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            break
        line, data = line_of(data, key), data[key]
    return line


def read_outputs(r: Reader, data: Mapping, key: str) -> list[PluginRef]:
    """``outputs:``, a list of names or {name, params} mappings."""
    outputs = r.get(data, key, LIST, default=())
    refs = (r.plugin_ref(outputs, i, "an output") for i in range(len(outputs)))
    return [ref for ref in refs if ref is not None]
