"""Editing a draft (plans.save_draft, the browser's plan editor): checked like jx validate with every
problem's node, stored as a new version on the record, refused by role and by state in the service
(a published plan is frozen), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json

import pytest

from jxcore.errors import AccessDenied, LockedError, SchemeError
from jxcore.records import add_user
from jxcore.services import access_log, plans, verify_store
from jxcore.services.auth import set_unit
from jxcore.services.plans import State
from jxcore.store import Store
from jxcore.testing import installed_registry

SCHEME = "guangdong"


@pytest.fixture(scope="module")
def registry():
    return installed_registry()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'jx.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("make_postgres_url")())
    with Store.open(url) as opened:
        add_user(opened, "局长", role="admin")
        add_user(opened, "人事", role="clerk", department="RSK", by="局长")
        add_user(opened, "企监", role="clerk", department="QYK", by="局长")
        add_user(opened, "督察", role="inspector", department="DCS", by="局长")
        add_user(opened, "虎门所", role="viewer", by="局长")
        set_unit(opened, "虎门所", "humen", by="局长")
        yield opened


@pytest.fixture
def draft(store, registry):
    plans.import_pack(store, registry, SCHEME, user="局长")
    return plans.new_version(store, registry, SCHEME, 2011, source="2010", user="人事")


def _node(doc: dict, code: str) -> dict:
    stack = list(doc["nodes"])
    while stack:
        node = stack.pop()
        if node["code"] == code:
            return node
        stack.extend(node.get("children", ()))
    raise KeyError(code)


def test_an_edit_is_checked_with_every_problem_at_its_node_and_saved_as_a_new_version(store, registry, draft):
    doc = plans.editable(draft)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON: what the browser edits
    assert plans.check_data(registry, draft, doc) == []
    _node(doc, "DJZC.XL.ASBJ")["points"] = 10  # 登记效率's parts no longer add up to 18
    _node(doc, "DJZC.XL.SLBJ")["rule"]["params"]["target"] = "high"
    found = {(p.location.node, p.message.split(":")[0]) for p in plans.check_data(registry, draft, doc)}
    assert ("DJZC.XL", "children's points sum to 19, expected 18 (the points of DJZC.XL)") in found
    assert any(node == "DJZC.XL.SLBJ" for node, _ in found)
    with pytest.raises(SchemeError) as caught:
        plans.save_draft(store, registry, draft, doc, user="人事")
    assert {p.location.node for p in caught.value.problems} >= {"DJZC.XL", "DJZC.XL.SLBJ"}
    assert [v.label for v in plans.versions(store, SCHEME, 2011)] == ["2011v1"]  # nothing stored

    _node(doc, "DJZC.XL.SLBJ")["rule"]["params"]["target"] = 0.98
    _node(doc, "DJZC.XL.SLBJ")["points"] = 4  # 9 + 4 + 4 = 17 … and one more node of 1 point
    like = _node(doc, "DJZC.XL.ASBJ")
    _node(doc, "DJZC.XL")["children"].append({"code": "DJZC.XL.WSBL", "name": "网上办理率", "points": 0,
                                              "rule": copy.deepcopy(like["rule"]),
                                              "collector": copy.deepcopy(like["collector"])})
    _node(doc, "DJZC.XL.ASBJ")["points"] = 9
    _node(doc, "DJZC.XL.WSBL")["points"] = 1
    _node(doc, "DJZC.XL.WSBL")["stages"] = [{"date": {"$date": "2011-06-30"}, "target": 0.3}]
    saved = plans.save_draft(store, registry, draft, json.dumps(doc), user="人事", note="登记效率增设网上办理率")
    assert (saved.label, saved.state, saved.parent, saved.created_by) == ("2011v2", State.DRAFT, 1, "人事")
    plan = saved.plan()
    assert plan.nodes["DJZC.XL.WSBL"].stages[0].date.isoformat() == "2011-06-30"
    assert plan.nodes["DJZC.XL.SLBJ"].rule.params["target"] == 0.98
    assert plans.get_version(store, SCHEME, 2011, 1).state is State.SUPERSEDED
    first = plans.record(store, saved).transitions[0]
    assert (first.to_state, first.by, first.reason) == (State.DRAFT, "人事", "登记效率增设网上办理率")
    assert plans.editable(saved)["departments"]["RSK"] == "人事科"
    assert plans.save_draft(store, registry, saved, plans.editable(saved), user="人事") == saved  # unchanged
    assert access_log(store, user="人事", allowed=True)[0].action == "plan_draft"
    assert verify_store(store).ok


@pytest.mark.parametrize("who", ["企监", "督察", "虎门所", "nobody"])
def test_only_the_drafting_department_and_admins_may_save(store, registry, draft, who):
    doc = plans.editable(draft)
    _node(doc, "DJZC")["name"] = "登记注册工作"
    with pytest.raises(AccessDenied, match="may not draft plan 2011v1|not a branch|unknown user"):
        plans.save_draft(store, registry, draft, doc, user=who)
    refused = access_log(store, user=who, allowed=False)
    assert refused and refused[0].action == "plan_draft" and refused[0].target == "plan 2011v1"
    assert [v.label for v in plans.versions(store, SCHEME, 2011)] == ["2011v1"]
    assert plans.save_draft(store, registry, draft, doc, user="局长").label == "2011v2"  # admins may


def test_only_drafts_are_edited_and_a_published_plan_is_frozen_in_the_service(store, registry, draft):
    doc = plans.editable(draft)
    changed = copy.deepcopy(doc)
    _node(changed, "DJZC")["name"] = "登记注册工作"
    consulting = plans.submit(store, draft, user="人事")
    with pytest.raises(LockedError, match="2011v1 is consultation, not a draft.*revise it as a new draft"):
        plans.save_draft(store, registry, consulting, changed, user="人事")
    with pytest.raises(LockedError, match="not a draft"):
        plans.save_draft(store, registry, draft, changed, user="人事")  # the stale object: its state is re-read
    asked = plans.comment(store, consulting, "DJZC", "名称不够明确", user="虎门所")
    plans.answer(store, consulting, asked.id, "改为登记注册工作", user="人事")
    revised = plans.new_version(store, registry, SCHEME, 2011, source="2011v1", user="人事")
    edited = plans.save_draft(store, registry, revised, changed, user="人事", note="按意见修改名称")
    assert (edited.label, edited.parent) == ("2011v3", 2)
    # consulted as 2011v1, revised as v2, edited as v3: the consultation covers the edit
    approved = plans.approve(store, edited, user="局长", meeting="2011年第2次局务会议", minutes_ref="纪要〔2011〕2号")
    with pytest.raises(LockedError, match="approved plan is frozen"):
        plans.save_draft(store, registry, approved, doc, user="局长")
    published = plans.publish(store, approved, user="局长")
    for who in ("局长", "人事"):
        with pytest.raises(LockedError, match="2011v3 is published, not a draft: a published plan is frozen"):
            plans.save_draft(store, registry, published, doc, user=who)
        with pytest.raises(LockedError, match="published plan is frozen"):
            plans.check_editable(store, published, user=who)
    assert plans.get_version(store, SCHEME, 2011, 3).digest == published.digest
    # a change to the published plan is a new version, consulted again before approval
    change = plans.new_version(store, registry, SCHEME, 2011, source="2011v3", user="人事")
    edited = plans.save_draft(store, registry, change, doc, user="人事")
    from jxcore.errors import UsageError

    with pytest.raises(UsageError, match="never sent to the branches for comments"):
        plans.approve(store, edited, user="局长", meeting="m", minutes_ref="r")


def test_the_period_stays_and_bad_json_is_refused_with_a_clear_message(store, registry, draft):
    doc = plans.editable(draft)
    doc["period"] = 2012
    with pytest.raises(SchemeError, match="'period' must stay 2011, not 2012"):
        plans.save_draft(store, registry, draft, doc, user="人事")
    with pytest.raises(SchemeError, match="is not JSON"):
        plans.save_draft(store, registry, draft, "{nodes: [", user="人事")
    assert plans.check_data(registry, draft, [1, 2])[0].message.startswith("the edited plan 2011v1 must be a mapping")
    bad_date = plans.editable(draft)
    _node(bad_date, "DJZC.XL.ASBJ")["stages"] = [{"date": {"$date": "2011-02-30"}, "target": 0.9}]
    problems = plans.check_data(registry, draft, bad_date)
    assert [p.location.node for p in problems] == ["DJZC.XL.ASBJ"] and "date" in problems[0].message
