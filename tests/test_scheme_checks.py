"""The one-pass tree check: every problem of a plan, each as file:line: node: what (how to fix)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jxcore import hookimpl
from jxcore.errors import SchemeError
from jxcore.models import NodeKind, Scoring
from jxcore.params import Param
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import check_pack, load_scheme, scheme_from_dict

HEAD = "period: 2010\nscale: 100\n"


def pack_with(root: Path, plan: str) -> Path:
    (root / "plans").mkdir(parents=True, exist_ok=True)
    (root / "scheme.yaml").write_text("name: t\n", encoding="utf-8")
    (root / "units.yaml").write_text("units: [{code: u, name: U}]\n", encoding="utf-8")
    (root / "plans" / "2010.yaml").write_text(HEAD + textwrap.dedent(plan), encoding="utf-8")
    return root


def problems(root: Path, plan: str, registry: Registry | None = None) -> list[str]:
    """The problems of a plan (text after HEAD, so the plan's first node line is 3)."""
    return [str(p) for p in check_pack(pack_with(root, plan), registry)]


def without_hints(found: list[str]) -> list[str]:
    return [m.rsplit(" (", 1)[0] if m.endswith(")") else m for m in found]


def leaf(code: str, points: Any = 100, extra: str = "") -> str:
    return f"  - {{code: {code}, name: n, points: {points}, rule: r, collector: c{extra}}}\n"


def test_a_valid_plan_has_no_problems(tmp_path):
    assert problems(tmp_path, "nodes:\n" + leaf("A", 60) + leaf("B", 40)) == []


def test_missing_and_mistyped_fields(tmp_path):
    plan = """\
    nodes:
      - name: no code
        points: 10
      - code: B
        points: 50
        rule: r
        collector: c
      - code: C
        name: 12
        rule: r
        collector: c
    """
    found = problems(tmp_path, plan)
    assert "plans/2010.yaml:4: missing field 'code' (every node needs a unique code, e.g. code: QYJG)" in found
    assert "plans/2010.yaml:6: B: missing field 'name' (add name: …)" in found
    assert "plans/2010.yaml:11: C: 'name' must be a string, not 12" in found
    assert "plans/2010.yaml:10: C: missing field 'points' (add points: N)" in found


def test_unknown_field_suggests_the_known_one(tmp_path):
    found = problems(tmp_path, "nodes:\n" + leaf("A", 100, ", pionts: 3"))
    assert len(found) == 1
    assert found[0].startswith("plans/2010.yaml:4: A: unknown field 'pionts' in node A (did you mean 'points'? "
                               "known fields: code, name, points, parent, children")


@pytest.mark.parametrize(("points", "message"), [
    ("lots", "'points' must be a number, not 'lots'"),
    ("'40'", "'points' must be a number, not '40'"),
    ("2.0005", "points 2.0005 have more than 3 decimals; the finest unit is 0.001"),
    ("-5", "'points' must not be negative, not -5"),
    ("true", "'points' must be a number, not True"),
])
def test_bad_points(tmp_path, points, message):
    found = problems(tmp_path, "nodes:\n" + leaf("A", points))
    assert without_hints(found) == [f"plans/2010.yaml:4: A: {message}"]


def test_duplicate_code_names_both_places(tmp_path):
    found = problems(tmp_path, "nodes:\n" + leaf("A", 50) + leaf("B", 50) + leaf("A", 50))
    assert found == ["plans/2010.yaml:6: A: duplicate code A: also at plans/2010.yaml:4 "
                     "(every code must be unique within a plan; rename one of them)"]


def test_parent_that_does_not_exist(tmp_path):
    found = problems(tmp_path, "nodes:\n" + leaf("A", 100) + leaf("QYJG.X", 5, ", parent: QYJK"))
    assert found == ["plans/2010.yaml:5: QYJG.X: parent QYJK does not exist (name an existing node's code)"]


def test_orphan_hint_suggests_close_codes(tmp_path):
    plan = "nodes:\n  - {code: QYJG, name: n, points: 100, children: [" \
           "{code: X, name: n, points: 100, rule: r, collector: c}]}\n" + leaf("Y", 1, ", parent: QYJ")
    (problem,) = problems(tmp_path, plan)
    assert problem.endswith("Y: parent QYJ does not exist (did you mean QYJG?)")


def test_two_parents(tmp_path):
    plan = """\
    nodes:
      - code: A
        name: A
        points: 100
        children:
          - {code: A1, name: n, points: 100, rule: r, collector: c, parent: B}
      - {code: B, name: B, points: 0, rule: r, collector: c}
    """
    found = problems(tmp_path, plan)
    assert found == ["plans/2010.yaml:8: A1: two parents: nested under A and parent: B "
                     "(remove parent:, or move the node to the top level of nodes:)"]


def test_cycle_is_shown_as_arrows(tmp_path):
    plan = "nodes:\n" + leaf("Z", 100) + """\
      - {code: A, name: n, points: 1, parent: B}
      - {code: B, name: n, points: 1, parent: A}
      - {code: C, name: n, points: 1, parent: C}
    """.replace("    -", "-")
    found = problems(tmp_path, plan)
    assert ("plans/2010.yaml:5: A: cycle: A --> B --> A (each is the parent of the next) "
            "(a node cannot be its own ancestor; change the parent: of one of them)") in found
    assert any(m.startswith("plans/2010.yaml:7: C: cycle: C --> C ") for m in found)
    assert len(found) == 2


def test_nodes_not_reachable_from_the_root(tmp_path):
    plan = "nodes:\n" + leaf("Z", 100) + """\
      - {code: A, name: n, points: 1, parent: B}
      - {code: B, name: n, points: 1, parent: A}
      - {code: D, name: n, points: 1, parent: A, rule: r, collector: c}
    """.replace("    -", "-")
    found = problems(tmp_path, plan)
    assert ("plans/2010.yaml:7: D: not reachable from the root TOTAL: its ancestor A is not in the tree "
            "(fix the parent of A)") in found


def test_more_than_one_root(tmp_path):
    found = problems(tmp_path, "nodes:\n" + leaf("A", 100) + leaf("TOTAL", 1) + leaf("B", 1, ", parent: null"))
    assert found[0].startswith("plans/2010.yaml:5: TOTAL: more than one root: TOTAL is also the plan's root code")
    assert found[1].startswith("plans/2010.yaml:6: B: more than one root: B has parent: null")
    assert len(found) == 2


def test_children_must_sum_to_the_parent(tmp_path):
    plan = """\
    nodes:
      - code: A
        name: A
        points: 60
        children:
          - {code: A1, name: n, points: 30.5, rule: r, collector: c}
          - {code: A2, name: n, points: 20, rule: r, collector: c}
      - {code: B, name: n, points: 30, rule: r, collector: c}
      - {code: J, name: n, scoring: reward, cap: 5, children: [{code: J1, name: n, points: 9, rule: r, collector: c}]}
    """
    found = problems(tmp_path, plan)
    assert found == [
        "plans/2010.yaml:2: TOTAL: the weighted items' points sum to 90, expected the scale 100 "
        "(make the items add up to the scale; reward and deduction items do not count)",
        "plans/2010.yaml:6: A: children's points sum to 50.5, expected 60 (the points of A) "
        "(make the children add up to 60, or change the points of A)",
    ]


def test_indicator_needs_rule_and_collector_and_parents_may_not_have_them(tmp_path):
    plan = """\
    nodes:
      - code: A
        name: A
        points: 100
        rule: r
        children:
          - {code: A1, name: n, points: 100}
    """
    assert without_hints(problems(tmp_path, plan)) == [
        "plans/2010.yaml:7: A: A has children, so it cannot have rule",
        "plans/2010.yaml:9: A1: indicator A1 has no rule",
        "plans/2010.yaml:9: A1: indicator A1 has no collector",
    ]


def test_reward_and_deduction_scoring_and_cap(tmp_path):
    plan = """\
    nodes:
      - {code: A, name: n, points: 100, rule: r, collector: c, cap: 3}
      - code: J
        name: J
        scoring: reward
        children:
          - {code: J1, name: n, points: 2, rule: r, collector: c, scoring: deduction, cap: 1}
      - {code: K, name: n, scoring: punish, cap: 2, children: [{code: K1, name: n, points: 1, rule: r, collector: c}]}
    """
    assert without_hints(problems(tmp_path, plan)) == [
        "plans/2010.yaml:4: A: 'cap' is only for reward and deduction items",
        "plans/2010.yaml:5: J: missing field 'cap' on the reward item J",
        "plans/2010.yaml:9: J1: 'scoring' can only be set on items (depth 1); J1 inherits reward",
        "plans/2010.yaml:9: J1: 'cap' is only for reward and deduction items",
        "plans/2010.yaml:10: K: 'scoring' must be one of weighted, reward, deduction, not 'punish'",
        "plans/2010.yaml:10: K: 'cap' is only for reward and deduction items",
        "plans/2010.yaml:10: K: missing field 'points'",  # K counts as weighted once its scoring is wrong
    ]


def test_stages(tmp_path):
    plan = """\
    nodes:
      - code: A
        name: A
        points: 100
        rule: r
        collector: c
        stages:
          - {date: 2010-06-30, target: 0.5}
          - {date: 2010-03-31, target: 0.2}
          - {date: 2011-01-15, target: 1}
          - {date: 2010-09-30, target: high}
          - {date: soon, target: 1}
    """
    assert without_hints(problems(tmp_path, plan)) == [
        "plans/2010.yaml:11: A: stage dates must increase: 2010-03-31 is not after 2010-06-30",
        "plans/2010.yaml:12: A: stage date 2011-01-15 is outside the period 2010 (2010-01-01 to 2010-12-31)",
        "plans/2010.yaml:13: A: 'target' must be a number, not 'high'",
        "plans/2010.yaml:14: A: 'date' must be a date such as 2010-04-30, not 'soon'",
    ]


def test_unknown_department(tmp_path):
    plan = "departments: {DJK: 登记注册科}\ndefaults: {department: QYK}\nnodes:\n" + leaf("A", 100, ", department: XX")
    found = problems(tmp_path, plan)
    assert found == [
        "plans/2010.yaml:4: unknown department 'QYK' (the plan's departments are: DJK)",
        "plans/2010.yaml:6: A: unknown department 'XX' (the plan's departments are: DJK)",
    ]


def test_many_problems_at_once(tmp_path):
    plan = """\
    nodes:
      - code: A
        name: A
        points: 50
        children:
          - {code: A1, name: n, points: 2.0001, rule: r, collector: c}
          - {code: A1, name: n, points: 10, rule: r, collector: c}
      - {code: B, name: B, points: 40, rule: r, collector: c, parent: Q}
      - {code: C, nmae: C, points: 10, rule: r}
      - {code: D, name: D, points: 10, scoring: reward, rule: r, collector: c}
    """
    with pytest.raises(SchemeError) as info:
        load_scheme(pack_with(tmp_path, plan))
    text = str(info.value)
    assert text.startswith("scheme t is invalid: 8 problems\n")
    for expected in ["plans/2010.yaml:2: TOTAL: the weighted items' points sum to 60, expected the scale 100",
                     "plans/2010.yaml:8: A1: points 2.0001 have more than 3 decimals",
                     "plans/2010.yaml:9: A1: duplicate code A1: also at plans/2010.yaml:8",
                     "plans/2010.yaml:10: B: parent Q does not exist",
                     "plans/2010.yaml:11: C: unknown field 'nmae' in node C (did you mean 'name'?",
                     "plans/2010.yaml:11: C: missing field 'name'",
                     "plans/2010.yaml:11: C: indicator C has no collector",
                     "plans/2010.yaml:12: D: missing field 'cap' on the reward item D"]:
        assert expected in text


# -- plugins -----------------------------------------------------------------------------------

class FakeRule:
    name: ClassVar[str] = "base_score"
    description: ClassVar[str] = "meet the target"
    params: ClassVar[tuple[Param, ...]] = (Param("target", "number", minimum=0, maximum=1),
                                           Param("bonus", "number", default=0.0))

    def score(self, inp):  # pragma: no cover - never scored here
        raise NotImplementedError


class FakeCollector:
    name: ClassVar[str] = "system_feed"
    description: ClassVar[str] = "counts from a source"
    params: ClassVar[tuple[Param, ...]] = (Param("source", "string"), Param("table", "string"))

    def collect(self, ctx, requests):  # pragma: no cover
        raise NotImplementedError


class FakeOutput:
    name: ClassVar[str] = "ranking"
    description: ClassVar[str] = "ranks"
    params: ClassVar[tuple[Param, ...]] = (Param("ties", "string", default="shared", choices=("shared", "dense")),)

    def emit(self, ctx):  # pragma: no cover
        raise NotImplementedError


class FakePlugin:
    @hookimpl
    def jx_register_rules(self, register):
        register(FakeRule())

    @hookimpl
    def jx_register_collectors(self, register):
        register(FakeCollector())

    @hookimpl
    def jx_register_outputs(self, register):
        register(FakeOutput())


@pytest.fixture
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager(autoload=False, plugins=[FakePlugin()]))


def test_unknown_plugin_names_and_bad_params_are_reported_with_node_codes(tmp_path, registry):
    plan = """\
    defaults:
      collector: {name: system_feed, params: {source: business}}
    outputs: [ranking, {name: rankng}, {name: ranking, params: {ties: random}}]
    nodes:
    - {code: A, name: n, points: 40, rule: {name: base_score, params: {target: 1.5}}, collector: {params: {table: t}}}
    - {code: B, name: n, points: 30, rule: {name: base_score, params: {target: 0.9, bouns: 1}}, collector: {params: {}}}
    - {code: C, name: n, points: 30, rule: base_scor, collector: {name: system_feed, params: {table: t}}}
    """
    found = problems(tmp_path, plan, registry)
    assert found == [
        "plans/2010.yaml:5: unknown output 'rankng' (the installed outputs are: ranking)",
        "plans/2010.yaml:5: output ranking: parameter 'ties' = 'random' is not one of 'shared', 'dense' "
        "(see `jx plugins` for the parameters of ranking)",
        "plans/2010.yaml:7: A: rule base_score: parameter 'target' = 1.5 is above its maximum 1 "
        "(see `jx plugins` for the parameters of base_score)",
        "plans/2010.yaml:8: B: rule base_score: unknown parameter 'bouns' (known parameters: bonus, target) "
        "(see `jx plugins` for the parameters of base_score)",
        "plans/2010.yaml:8: B: collector system_feed: missing required parameter 'table' (string) "
        "(see `jx plugins` for the parameters of system_feed)",
        "plans/2010.yaml:9: C: unknown rule 'base_scor' (the installed rules are: base_score)",
    ]


def test_plugin_names_are_not_checked_without_a_registry(tmp_path, registry):
    plan = "nodes:\n" + leaf("A", 100)
    assert problems(tmp_path, plan) == []
    assert problems(tmp_path, plan, registry) == [
        "plans/2010.yaml:4: A: unknown rule 'r' (the installed rules are: base_score)",
        "plans/2010.yaml:4: A: unknown collector 'c' (the installed collectors are: system_feed)",
    ]


def test_default_collector_params_merge_under_the_nodes(registry):
    plan = {"defaults": {"collector": {"name": "system_feed", "params": {"source": "s", "table": "d"}}},
            "nodes": [{"code": "A", "name": "n", "points": 100, "rule": {"name": "base_score",
                                                                        "params": {"target": 0.5}},
                       "collector": {"params": {"table": "t"}}}]}
    scheme = scheme_from_dict(plan, units=[{"code": "u", "name": "U"}], registry=registry)
    assert dict(scheme.node("A").collector.params) == {"source": "s", "table": "t"}


# -- random trees --------------------------------------------------------------------------------

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=4),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                 st.dates())
CODES = st.sampled_from(["A", "B", "C", "D", "E", "TOTAL"])
FIELDS = ["code", "name", "points", "parent", "scoring", "cap", "rule", "collector", "stages", "department",
          "children", "description", "bogus"]


@st.composite
def random_nodes(draw) -> list[Any]:
    nodes = []
    for _ in range(draw(st.integers(0, 7))):
        node: dict[Any, Any] = {"code": draw(CODES), "name": "n", "points": draw(st.sampled_from([0, 1, 2.5, 10])),
                                "rule": "r", "collector": "c"}
        if draw(st.booleans()):
            node["parent"] = draw(st.one_of(CODES, st.just("Q")))
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            node[field] = draw(JUNK)
        nodes.append(node if draw(st.integers(0, 20)) else draw(JUNK))
    return nodes


@settings(max_examples=300, deadline=None)
@given(nodes=random_nodes(), scale=st.one_of(st.just(10), JUNK), units=st.one_of(st.just([{"code": "u",
                                                                                       "name": "U"}]), JUNK))
def test_random_trees_give_a_scheme_or_located_problems(nodes, scale, units):
    try:
        scheme = scheme_from_dict({"scale": scale, "nodes": nodes}, units=units)
    except SchemeError as exc:
        assert exc.problems and all(p.location.file or p.location.node for p in exc.problems)
    else:
        assert next(iter(scheme.nodes)) == "TOTAL"


@settings(max_examples=300, deadline=None)
@given(nodes=random_nodes(), data=st.data())
def test_random_plan_files_give_a_scheme_or_located_problems(tmp_path_factory, nodes, data):
    import yaml
    root = tmp_path_factory.mktemp("pack")
    plan = {"period": 2010, "scale": data.draw(st.one_of(st.just(10), JUNK)), "nodes": nodes}
    text = yaml.safe_dump(plan, allow_unicode=True)
    if data.draw(st.booleans()):  # cut the text somewhere: broken YAML
        text = text[: data.draw(st.integers(0, len(text)))]
    pack_with(root, "")
    (root / "plans" / "2010.yaml").write_text(text, encoding="utf-8")
    try:
        load_scheme(root)
    except SchemeError as exc:
        assert exc.problems and all(p.location.file for p in exc.problems)


@st.composite
def valid_trees(draw) -> tuple[list[dict], list[str], dict[str, int]]:
    """A random valid tree written flat in a random order: (nodes, expected tree order, milli-points)."""
    count = draw(st.integers(1, 12))
    parents = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, count)]
    written = draw(st.permutations(range(count)))
    kids: dict[int | None, list[int]] = {}
    for i in written:  # children in the order they are written
        kids.setdefault(parents[i], []).append(i)
    points: dict[str, int] = {}
    order: list[str] = []

    def give(i: int | None, milli: int) -> None:
        if i is not None:
            points[f"N{i}"] = milli
            order.append(f"N{i}")
        children = kids.get(i, [])
        if not children:
            return
        cuts = sorted(draw(st.lists(st.integers(0, milli), min_size=len(children) - 1, max_size=len(children) - 1)))
        for child, lo, hi in zip(children, [0, *cuts], [*cuts, milli], strict=False):
            give(child, hi - lo)
    give(None, 100_000)
    nodes = [{"code": f"N{i}", "name": f"node {i}", "points": points[f"N{i}"] / 1000,
              **({} if parents[i] is None else {"parent": f"N{parents[i]}"}),
              **({} if kids.get(i) else {"rule": "r", "collector": "c"})} for i in written]
    return nodes, order, points


@settings(max_examples=200, deadline=None)
@given(tree=valid_trees())
def test_valid_random_tree_round_trips(tree):
    nodes, order, points = tree
    scheme = scheme_from_dict({"scale": 100, "nodes": nodes}, units=[{"code": "u", "name": "U"}])
    assert list(scheme.nodes) == ["TOTAL", *order]
    for code, node in scheme.nodes.items():
        if code != "TOTAL":
            assert node.points == points[code]
        if node.children:
            assert sum(scheme.nodes[c].points for c in node.children) == node.points
            assert node.kind in (NodeKind.ROOT, NodeKind.ITEM, NodeKind.SUBITEM)
        else:
            assert node.kind is NodeKind.INDICATOR and node.rule.name == "r"
        assert node.scoring is Scoring.WEIGHTED
    assert all(n.kind in (NodeKind.ITEM, NodeKind.INDICATOR) for n in scheme.items())
    assert scheme.period.end == dt.date(2010, 12, 31)


def test_a_duplicate_child_does_not_also_break_its_parents_sum(tmp_path):
    plan = "nodes:\n  - {code: A, name: n, points: 100, children: [" \
           "{code: A1, name: n, points: 60, rule: r, collector: c}, {code: A1, name: n, points: 40, rule: r, " \
           "collector: c}]}\n"
    found = problems(tmp_path, plan)
    assert [m.split(" (")[0] for m in found] == ["plans/2010.yaml:4: A1: duplicate code A1: also at plans/2010.yaml:4"]
