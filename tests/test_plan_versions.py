"""Plan versions: the workflow's transitions, refusals by role, the record, the database's guards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from jxcore.errors import AccessDenied, LockedError, SchemeError, StoreError, UsageError
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


@pytest.fixture
def store(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'jx.sqlite'}") as opened:
        yield opened


@pytest.fixture
def staffed(store):
    """A store with an admin, the personnel section's clerk, another clerk, a branch and a viewer."""
    add_user(store, "局长", role="admin")
    add_user(store, "人事", role="clerk", department="RSK", by="局长")
    add_user(store, "企监", role="clerk", department="QYK", by="局长")
    add_user(store, "虎门所", role="viewer", by="局长")
    set_unit(store, "虎门所", "humen", by="局长")
    add_user(store, "访客", role="viewer", by="局长")
    return store


def test_the_packs_plans_become_the_published_record_once(store, registry):
    first = plans.import_pack(store, registry, SCHEME, user="局长")
    assert [(r.version.label, r.version.state, r.created) for r in first] == [
        (f"{y}v1", State.PUBLISHED, True) for y in (2007, 2008, 2009, 2010)]
    again = plans.import_pack(store, registry, SCHEME, user="局长")
    assert [r.created for r in again] == [False] * 4
    assert len(plans.versions(store, SCHEME)) == 4
    from jxcore.engine import scheme_digest
    from jxcore.services import open_scheme

    assert first[-1].version.digest == scheme_digest(open_scheme(registry, SCHEME, 2010))
    assert first[-1].version.departments["RSK"] == "人事科"


def test_a_year_is_drafted_consulted_approved_and_published_with_its_whole_record(staffed, registry):
    store = staffed
    plans.import_pack(store, registry, SCHEME, user="局长")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="人事")
    assert (draft.label, draft.state, draft.origin) == ("2011v1", State.DRAFT, "from 2010v1")
    plan = draft.plan()
    assert plan.period.year == 2011 and plan.nodes[plan.root].name == "2011年度基层单位绩效考核"
    assert all(s.date.year == 2011 for n in plan.indicators() for s in n.stages)

    consulting = plans.submit(store, draft, user="人事")
    assert consulting.state is State.CONSULTATION
    asked = plans.comment(store, consulting, "DJZC", "登记注册权重偏低", user="虎门所")
    assert (asked.unit, asked.node) == ("humen", "DJZC")
    with pytest.raises(UsageError, match="unanswered comments: #1 \\(DJZC\\)"):
        plans.approve(store, consulting, user="局长", meeting="2011年第2次局务会议", minutes_ref="纪要〔2011〕2号")
    plans.answer(store, consulting, asked.id, "维持，理由见说明", user="人事")
    approved = plans.approve(store, consulting, user="局长", meeting="2011年第2次局务会议",
                             minutes_ref="纪要〔2011〕2号")
    assert approved.state is State.APPROVED
    published = plans.publish(store, approved, user="局长")
    assert published.state is State.PUBLISHED

    record = plans.record(store, published)
    assert [(t.from_state and t.from_state.value, t.to_state.value, t.by) for t in record.transitions] == [
        (None, "draft", "人事"), ("draft", "consultation", "人事"), ("consultation", "approved", "局长"),
        ("approved", "published", "局长")]
    assert (record.transitions[2].meeting, record.transitions[2].minutes_ref) == ("2011年第2次局务会议",
                                                                                  "纪要〔2011〕2号")
    assert [(c.by, c.answers) for c in record.comments] == [("虎门所", None), ("人事", asked.id)]
    assert record.unanswered() == []
    assert verify_store(store).ok


def test_a_mid_year_change_is_a_new_version_that_supersedes_the_published_one_only_when_approved(staffed, registry):
    store = staffed
    plans.import_pack(store, registry, SCHEME, user="局长")
    change = plans.new_version(store, registry, SCHEME, 2010, source="2010v1", user="人事")
    assert (change.label, change.parent, change.state) == ("2010v2", 1, State.DRAFT)
    with pytest.raises(UsageError, match="draft: it cannot become published"):
        plans.publish(store, change, user="局长")
    with pytest.raises(UsageError, match="never sent to the branches for comments"):
        plans.approve(store, change, user="局长", meeting="m", minutes_ref="r")
    plans.submit(store, change, user="人事")
    revised = plans.new_version(store, registry, SCHEME, 2010, source="2010v2", user="人事")
    assert plans.get_version(store, SCHEME, 2010, 2).state is State.SUPERSEDED  # revised as version 3
    approved = plans.approve(store, revised, user="局长", meeting="局务会议", minutes_ref="纪要2号")
    plans.publish(store, approved, user="局长")
    states = {v.label: v.state for v in plans.versions(store, SCHEME, 2010)}
    assert states == {"2010v1": State.SUPERSEDED, "2010v2": State.SUPERSEDED, "2010v3": State.PUBLISHED}
    with store.engine.connect() as connection:
        assert plans.published_digest(connection, SCHEME, 2010) == revised.digest
        assert plans.published_digest(connection, SCHEME, 2031) is None
    assert plans.get_version(store, SCHEME, 2010).label == "2010v3"
    assert plans.published(store, SCHEME, 2010).label == "2010v3"
    # the version in force is what a final run scores with (records.plans.approved_digests)
    done = plans.run_version(store, registry, plans.published(store, SCHEME, 2010), final=True, actor="局长")
    assert done.run.final and store.load_run(done.run.id).scheme_digest == revised.digest


@pytest.mark.parametrize(("who", "act"), [
    ("企监", "new"), ("虎门所", "new"), ("访客", "submit"), ("企监", "submit"), ("人事", "approve"),
    ("虎门所", "approve"), ("人事", "publish"), ("访客", "comment"), ("人事", "comment"), ("企监", "answer"),
    ("虎门所", "answer"), ("nobody", "submit"), ("人事", "import"),
])
def test_refusals_by_role_are_access_denied_and_logged(staffed, registry, who, act):
    store = staffed
    plans.import_pack(store, registry, SCHEME, user="局长")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="人事")
    consulting = plans.submit(store, draft, user="人事")
    asked = plans.comment(store, consulting, "QYJG", "年检率目标过高", user="虎门所")
    plans.answer(store, consulting, asked.id, "已下调", user="人事")
    approved = plans.approve(store, consulting, user="局长", meeting="m", minutes_ref="r") if act == "publish" else None
    calls = {
        "new": lambda: plans.new_version(store, registry, SCHEME, 2012, source="2011", user=who),
        "submit": lambda: plans.submit(store, plans.new_version(store, registry, SCHEME, 2012, source="2011",
                                                                user="人事"), user=who),
        "approve": lambda: plans.approve(store, consulting, user=who, meeting="m", minutes_ref="r"),
        "publish": lambda: plans.publish(store, approved, user=who),
        "comment": lambda: plans.comment(store, consulting, "QYJG", "意见", user=who),
        "answer": lambda: plans.answer(store, consulting, asked.id, "答复", user=who),
        "import": lambda: plans.import_pack(store, registry, SCHEME, user=who),
    }
    before = {v.label: v.state for v in plans.versions(store, SCHEME)}
    with pytest.raises(AccessDenied):
        calls[act]()
    refused = access_log(store, user=who, allowed=False)
    assert refused and refused[0].action.startswith("plan_") and refused[0].target.startswith("plan ")
    after = {v.label: v.state for v in plans.versions(store, SCHEME)}
    assert {k: v for k, v in after.items() if k in before} == before


def test_what_each_role_may_do(staffed, registry):
    store = staffed
    plans.import_pack(store, registry, SCHEME, user="局长")
    admin_draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="局长")  # admins draft too
    assert admin_draft.created_by == "局长"
    with pytest.raises(UsageError, match="approving plan 2011v1 needs the bureau meeting and its minutes"):
        plans.approve(store, admin_draft, user="局长", meeting=" ", minutes_ref="r")


def test_an_open_store_lets_anyone_act_until_its_first_user(store, registry):
    plans.import_pack(store, registry, SCHEME, user="someone")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="someone")
    assert plans.submit(store, draft, user="else").state is State.CONSULTATION


def test_comments_only_while_in_consultation_and_on_existing_nodes(staffed, registry):
    store = staffed
    plans.import_pack(store, registry, SCHEME, user="局长")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="人事")
    with pytest.raises(UsageError, match="2011v1 is draft, not out for comments"):
        plans.comment(store, draft, "QYJG", "意见", user="虎门所")
    consulting = plans.submit(store, draft, user="人事")
    with pytest.raises(UsageError, match="has no node 'QYJG.NJYZ.NJLL'.*did you mean QYJG.NJYZ.NJL"):
        plans.comment(store, consulting, "QYJG.NJYZ.NJLL", "意见", user="虎门所")
    with pytest.raises(UsageError, match="the comment is empty"):
        plans.comment(store, consulting, "QYJG", "  ", user="虎门所")
    whole = plans.comment(store, consulting, consulting.plan().root, "整体偏细", user="虎门所")
    assert whole.node == "GD2011"


def test_a_plan_file_is_checked_like_jx_validate_and_becomes_a_draft(store, registry, tmp_path):
    plans.import_pack(store, registry, SCHEME, user="a")
    text = plans.export_yaml(plans.get_version(store, SCHEME, 2010)).replace("points: 80\n", "points: 81\n", 1)
    bad = tmp_path / "2010.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SchemeError) as caught:
        plans.import_file(store, registry, SCHEME, bad, user="a")
    assert any("sum to" in p.message and p.location.line for p in caught.value.problems)
    assert len(plans.versions(store, SCHEME, 2010)) == 1  # nothing stored
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("points: 81\n", "points: 80\n", 1).replace("年检率", "年检完成率"), encoding="utf-8")
    version = plans.import_file(store, registry, SCHEME, good, user="a")
    assert (version.label, version.state, version.parent) == ("2010v2", State.DRAFT, 1)
    assert version.origin == "file good.yaml"
    assert any(n.name == "年检完成率" for n in version.plan().indicators())


def test_references_name_versions_and_a_wrong_one_says_what_exists(store, registry):
    plans.import_pack(store, registry, SCHEME, user="a")
    assert plans.parse_ref("2010v3") == (2010, 3) and plans.parse_ref("2010") == (2010, None)
    with pytest.raises(UsageError, match="names no plan version"):
        plans.parse_ref("v3")
    with pytest.raises(UsageError, match="no plan version 2010v9.*2010v1"):
        plans.get_version(store, SCHEME, 2010, 9)
    with pytest.raises(UsageError, match="no plan version of scheme guangdong for 2031"):
        plans.get_version(store, SCHEME, 2031)


def test_versions_transitions_and_comments_are_append_only_in_the_database(store, registry):
    plans.import_pack(store, registry, SCHEME, user="a")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="a")
    plans.comment(store, plans.submit(store, draft, user="a"), "DJZC", "意见", user="b")
    for statement in ("UPDATE plan_versions SET document = '{}' WHERE number = 1",
                      "DELETE FROM plan_versions WHERE period = 2011",
                      "UPDATE plan_transitions SET to_state = 'published'",
                      "DELETE FROM plan_transitions", "UPDATE plan_comments SET text = 'x'",
                      ("INSERT OR REPLACE INTO plan_versions (id, scheme, period, number, document, digest, origin, "
                       "created_by, created_at) "
                       "VALUES (1, 'guangdong', 2007, 1, '{}', 'x', 'forged', 'x', '2011-01-01')"),
                      ("INSERT INTO plan_transitions (version_id, from_state, to_state, by_user, at) "
                      f"VALUES ({draft.id}, 'consultation', 'published', 'x', '2011-01-01')")):
        with pytest.raises(LockedError):
            store.write(lambda tx, sql=statement: tx.connection.execute(sa.text(sql)))
    assert verify_store(store).ok


def test_a_row_changed_around_jx_is_found_by_verify_and_jx_stops_writing(store, registry):
    plans.import_pack(store, registry, SCHEME, user="a")
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER jx_plan_versions_update_append_only"))
        connection.execute(sa.text("UPDATE plan_versions SET created_by = 'forger' WHERE period = 2010"))
    found = verify_store(store).findings
    assert [(f.kind, f.table) for f in found] == [("changed", "plan_versions"), ("unguarded", "guards")]
    assert "jx_plan_versions_update_append_only" in found[1].message
    with pytest.raises(StoreError, match="guards are not in place: trigger jx_plan_versions_update_append_only"):
        plans.new_version(store, registry, SCHEME, 2011, source="2010", user="a")  # jx writes no more


def test_runs_say_which_version_scored_them(store, registry):
    plans.import_pack(store, registry, SCHEME, user="a")
    v1 = plans.get_version(store, SCHEME, 2010)
    assert plans.version_numbers(store, SCHEME, [v1.digest, "0" * 64]) == {v1.digest: "2010v1"}
    with pytest.raises(UsageError, match="runs score with the published plan"):
        plans.run_version(store, registry, plans.new_version(store, registry, SCHEME, 2010, source="2010",
                                                             user="a"))


@pytest.fixture
def postgres_store(make_postgres_url):
    """A store in a fresh database of the local PostgreSQL (tests/conftest.py: fails under CI when unreachable)."""
    with Store.open(make_postgres_url()) as store:
        yield store


def test_postgresql_keeps_the_same_guards(postgres_store, registry):
    store = postgres_store
    plans.import_pack(store, registry, SCHEME, user="a")
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="a")
    consulting = plans.submit(store, draft, user="a")
    plans.comment(store, consulting, "DJZC", "意见", user="b")
    for statement in ("UPDATE plan_versions SET document = '{}'", "DELETE FROM plan_comments",
                      "TRUNCATE plan_transitions CASCADE",
                      ("INSERT INTO plan_transitions (version_id, from_state, to_state, by_user, at) "
                      f"VALUES ({consulting.id}, 'consultation', 'published', 'x', now())")):
        with pytest.raises(LockedError):
            store.write(lambda tx, sql=statement: tx.connection.execute(sa.text(sql)))
    with pytest.raises(Exception, match="approval_minuted"):
        store.write(lambda tx: tx.connection.execute(sa.text(
            "INSERT INTO plan_transitions (version_id, from_state, to_state, by_user, at) "
            f"VALUES ({consulting.id}, 'consultation', 'approved', 'x', now())")))
    plans.answer(store, consulting, 1, "答复", user="a")
    plans.publish(store, plans.approve(store, consulting, user="a", meeting="m", minutes_ref="r"), user="a")
    assert plans.get_version(store, SCHEME, 2011).state is State.PUBLISHED
    assert verify_store(store).ok


def test_a_new_year_starts_from_the_packs_plan_when_the_store_has_none(store, registry):
    draft = plans.new_version(store, registry, SCHEME, 2011, source="2010", user="a")
    assert (draft.label, draft.origin, draft.parent, draft.state) == ("2011v1", "from plans/2010.yaml", None,
                                                                     State.DRAFT)
    assert draft.departments["RSK"] == "人事科" and draft.plan().root == "GD2011"
    with pytest.raises(UsageError, match="no plan version 2010v2"):
        plans.new_version(store, registry, SCHEME, 2011, source="2010v2", user="a")


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n", ":1: a plan must be a mapping"),
    ("nodes: []\n", ":1: missing field 'period'"),
    ("period: [", "2012.yaml:2: YAML syntax error"),
])
def test_a_plan_file_that_is_no_plan_is_refused_at_its_line(store, registry, tmp_path, text, message):
    path = tmp_path / "2012.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemeError, match=message):
        plans.import_file(store, registry, SCHEME, path, user="a")
    assert plans.versions(store, SCHEME) == []
