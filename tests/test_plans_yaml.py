"""A plan back to YAML is lossless: loading the export gives the same plan document (same digest)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jxcore.scheme import load_pack, load_scheme, scheme_from_dict
from jxcore.scheme.document import digest, dumps
from jxcore.scheme.export import export_pack, plan_yaml
from jxcore.services.plans import renumber
from jxcore.testing import installed_registry

ROOT = Path(__file__).resolve().parents[1]
GUANGDONG = ROOT / "schemes" / "guangdong" / "jx_scheme_guangdong" / "scheme"
COUNTY = ROOT / "examples" / "jx-scheme-example-county" / "jx_scheme_example_county" / "scheme"
PLANS = [(GUANGDONG, year) for year in (2007, 2008, 2009, 2010)] + [(COUNTY, y) for y in load_pack(COUNTY).periods]


@pytest.mark.parametrize(("pack", "year"), PLANS, ids=[f"{p.parent.name}-{y}" for p, y in PLANS])
def test_every_installed_plan_round_trips_through_yaml(pack, year, tmp_path):
    plan = load_scheme(pack, year)
    text = dumps(plan)
    export_pack(text, tmp_path / "pack")
    assert digest(dumps(load_scheme(tmp_path / "pack", year))) == digest(text)


def test_the_plan_file_alone_loads_into_its_own_pack_with_the_same_digest(tmp_path):
    import shutil

    registry = installed_registry()
    plan = load_scheme(GUANGDONG, 2010, registry)
    copy = tmp_path / "guangdong"
    shutil.copytree(GUANGDONG, copy)
    import yaml

    departments = yaml.safe_load((GUANGDONG / "plans" / "2010.yaml").read_text(encoding="utf-8"))["departments"]
    (copy / "plans" / "2010.yaml").write_text(plan_yaml(dumps(plan), departments), encoding="utf-8")
    again = load_scheme(copy, 2010, registry)  # plugins check the export too
    assert digest(dumps(again)) == digest(dumps(plan))
    assert "departments:\n  DJK: 登记注册科" in (copy / "plans" / "2010.yaml").read_text(encoding="utf-8")


def test_renumbering_moves_the_year_everywhere_and_nothing_else():
    plan = load_scheme(GUANGDONG, 2010)
    moved = renumber(dumps(plan), 2011)
    before = json.loads(dumps(plan))
    assert moved["period"] == [2011, "2011-01-01", "2011-12-31"] and moved["root"] == "GD2011"
    stages = {n["code"]: n["stages"] for n in moved["nodes"] if n["stages"]}
    assert stages and all(d.startswith("2011-") for s in stages.values() for d, _ in s)
    old = {n["code"]: n for n in before["nodes"]}
    for node in moved["nodes"]:
        if node["code"] != "GD2011":
            assert [node["points"], node["rule"], node["name"]] == [old[node["code"]]["points"],
                                                                   old[node["code"]]["rule"], old[node["code"]]["name"]]
    leap = {**before, "period": [2008, "2008-01-01", "2008-12-31"],
            "nodes": [{**before["nodes"][1], "stages": [["2008-02-29", 1.0]]}]}
    assert renumber(leap, 2009)["nodes"][0]["stages"] == [["2009-02-28", 1.0]]


# -- hypothesis: generated plans ------------------------------------------------------------

codes = st.from_regex(r"[A-Z][A-Z0-9]{0,3}", fullmatch=True)
texts = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=12).filter(
    lambda t: t.strip() == t and t)
scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4)),
                    texts, st.booleans(), st.dates(dt.date(2010, 1, 1), dt.date(2010, 12, 31)))
params = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                         st.one_of(scalars, st.lists(scalars, max_size=3),
                                   st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), scalars, max_size=3)),
                         max_size=4)
milli = st.integers(1, 50_000)


@st.composite
def plans(draw):
    """A valid plan: weighted items whose indicators' points sum up, a reward and a deduction item."""
    used: set[str] = set()

    def code(prefix: str) -> str:
        c = draw(codes.filter(lambda c: prefix + c not in used))
        used.add(prefix + c)
        return prefix + c

    def indicator(prefix: str) -> tuple[dict, int]:
        points = draw(milli)
        node = {"code": code(prefix), "name": draw(texts), "points": points / 1000,
                "rule": {"name": draw(st.sampled_from(["r1", "r2"])), "params": draw(params)},
                "collector": {"name": "c", "params": draw(params)}}
        if draw(st.booleans()):
            node["department"] = draw(st.sampled_from(["A", "B"]))
        if draw(st.booleans()):
            node["description"] = draw(texts)
        days = sorted(draw(st.sets(st.dates(dt.date(2010, 1, 1), dt.date(2010, 12, 31)), max_size=3)))
        if days:
            node["stages"] = [{"date": d, "target": draw(st.floats(0, 100, allow_nan=False))} for d in days]
        return node, points

    items, total = [], 0
    for _ in range(draw(st.integers(1, 4))):
        item = {"code": code("I"), "name": draw(texts), "children": []}
        if draw(st.booleans()):
            item["department"] = draw(st.sampled_from(["A", "B"]))
        points = 0
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                sub = {"code": code("S"), "name": draw(texts), "children": []}
                sub_points = 0
                for _ in range(draw(st.integers(1, 3))):
                    node, p = indicator("X")
                    sub["children"].append(node)
                    sub_points += p
                sub["points"] = sub_points / 1000
                item["children"].append(sub)
                points += sub_points
            else:
                node, p = indicator("X")
                item["children"].append(node)
                points += p
        item["points"] = points / 1000
        items.append(item)
        total += points
    for scoring in ("reward", "deduction"):
        if draw(st.booleans()):
            node, _ = indicator("R")
            items.append({"code": code("O"), "name": draw(texts), "scoring": scoring, "cap": draw(milli) / 1000,
                          "children": [node]})
    settings_ = {"ranking": {"ties": draw(st.sampled_from(["shared", "order"]))}, "x": draw(params)}
    return {"code": "T", "name": draw(texts), "scale": total / 1000, "nodes": items, "settings": settings_}


units = st.lists(st.fixed_dictionaries({"code": codes, "name": texts, "staff": st.integers(0, 99),
                                        "entities": st.integers(0, 10**6)},
                                       optional={"kind": texts}), min_size=1, max_size=4, unique_by=lambda u: u["code"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(plan=plans(), unit_list=units)
def test_generated_plans_round_trip(plan, unit_list, tmp_path_factory):
    scheme = scheme_from_dict(plan, units=unit_list, title="生成", language="zh",
                              sources={"db": {"url": "sqlite:///x.db", "options": {"echo": False}}},
                              outputs=["o1", {"name": "o2", "params": {"k": 1}}])
    text = dumps(scheme)
    pack = export_pack(text, tmp_path_factory.mktemp("pack"))
    assert digest(dumps(load_scheme(pack, 2010))) == digest(text)
