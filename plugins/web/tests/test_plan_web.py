"""Plan-making pages (TestClient, a private copy of the web tests' store): who may do what on a real
draft (the services decide, the pages show their words with 4xx), the validator's answers, YAML
uploads refused with the same words as `jx plan import`, export and re-import with the same digest."""

from __future__ import annotations

import json
import re

import pytest

from entry_support import copied_app, signed
from jxcore.cli import main
from jxcore.services import plans

SCHEME = "guangdong"


@pytest.fixture(scope="module")
def app(web_home, accounts, tmp_path_factory):
    app = copied_app(web_home, tmp_path_factory.mktemp("plan-web"))
    plans.import_pack(app.state.web.store, app.state.web.registry, SCHEME, user="admin")
    return app


@pytest.fixture(scope="module")
def clients(app, accounts):
    return {who: signed(app, who, accounts[who]) for who in ("clerk-rsk", "clerk-djk", "inspector", "admin",
                                                             "branch-humen")}


def _error(response) -> str:
    from html import unescape

    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', response.text, re.S)
    return unescape(found.group(1) if found else response.text)


def test_who_may_draft_edit_comment_answer_approve_and_publish(app, clients):
    rsk, rsk_token = clients["clerk-rsk"]
    made = rsk.post("/plans/new", data={"csrf": rsk_token, "year": "2012", "source": "2010"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/plans/2012v1/edit"
    djk, djk_token = clients["clerk-djk"]
    refused = djk.post("/plans/new", data={"csrf": djk_token, "year": "2012", "source": "2010"})
    assert refused.status_code == 403 and "clerk-djk (clerk of DJK) may not draft plan 2012 (new)" in _error(refused)

    assert rsk.get("/plans/2012v1/edit").status_code == 200
    assert clients["admin"][0].get("/plans/2012v1/edit").status_code == 200
    for who in ("clerk-djk", "inspector"):
        page = clients[who][0].get("/plans/2012v1/edit")
        assert page.status_code == 403 and "may not draft plan 2012v1" in _error(page), who
    assert clients["branch-humen"][0].get("/plans/2012v1/edit").status_code == 403
    document = rsk.get("/api/plans/2012v1").json()["document"]
    document["nodes"][0]["name"] = "登记注册工作"
    saving = djk.post("/plans/2012v1/save", data={"csrf": djk_token, "document": json.dumps(document)})
    assert saving.status_code == 403

    branch, branch_token = clients["branch-humen"]
    early = branch.post("/plans/2012v1/comment", data={"csrf": branch_token, "node": "DJZC", "text": "意见"})
    assert early.status_code == 400 and "2012v1 is draft, not out for comments" in _error(early)
    assert djk.post("/plans/2012v1/submit", data={"csrf": djk_token}).status_code == 403
    assert rsk.post("/plans/2012v1/submit", data={"csrf": rsk_token}, follow_redirects=False).status_code == 303
    page = branch.get("/plans/2012v1?node=DJZC.XL")
    assert '<option value="DJZC.XL" selected>' in page.text and "comment-node" in page.text
    clerk_comment = rsk.post("/plans/2012v1/comment", data={"csrf": rsk_token, "node": "DJZC", "text": "意见"})
    assert clerk_comment.status_code == 403 and "not a branch account" in _error(clerk_comment)
    wrong_node = branch.post("/plans/2012v1/comment", data={"csrf": branch_token, "node": "DJZC.XX", "text": "意见"})
    assert wrong_node.status_code == 400 and "has no node 'DJZC.XX'" in _error(wrong_node)
    asked = branch.post("/plans/2012v1/comment", data={"csrf": branch_token, "node": "DJZC", "text": "权重偏低"},
                        follow_redirects=False)
    assert asked.status_code == 303
    store = app.state.web.store
    comment_id = plans.record(store, plans.get_version(store, SCHEME, 2012, 1)).comments[0].id
    admin, admin_token = clients["admin"]
    early = admin.post("/plans/2012v1/approve", data={"csrf": admin_token, "meeting": "局务会议", "minutes": "纪要1号"})
    assert early.status_code == 400 and f"unanswered comments: #{comment_id} (DJZC)" in _error(early)
    assert branch.post("/plans/2012v1/answer", data={"csrf": branch_token, "comment": str(comment_id),
                                                      "text": "x"}).status_code == 403
    assert djk.post("/plans/2012v1/answer", data={"csrf": djk_token, "comment": str(comment_id),
                                                   "text": "x"}).status_code == 403
    assert rsk.post("/plans/2012v1/answer", data={"csrf": rsk_token, "comment": str(comment_id), "text": "维持"},
                    follow_redirects=False).status_code == 303
    by_clerk = rsk.post("/plans/2012v1/approve", data={"csrf": rsk_token, "meeting": "局务会议", "minutes": "纪要1号"})
    assert by_clerk.status_code == 403 and "only an admin may approve" in _error(by_clerk)
    no_minutes = admin.post("/plans/2012v1/approve", data={"csrf": admin_token, "meeting": "局务会议", "minutes": " "})
    assert no_minutes.status_code == 400 and "needs the bureau meeting and its minutes' reference" in _error(no_minutes)
    assert admin.post("/plans/2012v1/approve", data={"csrf": admin_token, "meeting": "局务会议", "minutes": "纪要1号"},
                      follow_redirects=False).status_code == 303
    assert rsk.post("/plans/2012v1/publish", data={"csrf": rsk_token}).status_code == 403
    assert admin.post("/plans/2012v1/publish", data={"csrf": admin_token}, follow_redirects=False).status_code == 303
    shown = admin.get("/plans/2012v1").text
    assert "已发布施行" in shown and "纪要1号" in shown and "权重偏低" in shown and "维持" in shown
    frozen = rsk.post("/plans/2012v1/save", data={"csrf": rsk_token, "document": json.dumps(document)})
    assert frozen.status_code == 409
    assert "2012v1 is published, not a draft: a published plan is frozen" in _error(frozen)
    revised = rsk.post("/plans/2012v1/revise", data={"csrf": rsk_token}, follow_redirects=False)
    assert revised.headers["location"] == "/plans/2012v2/edit"  # a change is a new version
    record = rsk.get("/api/plans/2012v1").json()
    assert [t["to"] for t in record["transitions"]] == ["draft", "consultation", "approved", "published"]
    assert [(c["node"], c["unit"], c["answers"]) for c in record["comments"]] == [("DJZC", "humen", None),
                                                                                  ("DJZC", None, comment_id)]


def test_the_validator_names_each_problems_node_and_stores_nothing(app, clients):
    rsk, token = clients["clerk-rsk"]
    rsk.post("/plans/new", data={"csrf": token, "year": "2013", "source": "2010"})
    document = rsk.get("/api/plans/2013v1").json()["document"]
    ok = rsk.post("/api/plans/2013v1/validate", json=document, headers={"X-CSRF-Token": token})
    assert ok.json() == {"valid": True, "problems": []}
    document["nodes"][0]["children"][0]["children"][0]["points"] = 10
    document["nodes"][0]["children"][0]["children"][1]["rule"]["params"]["target"] = "high"
    document["nodes"][1]["department"] = "XYZ"
    found = rsk.post("/api/plans/2013v1/validate", json=document, headers={"X-CSRF-Token": token}).json()
    assert found["valid"] is False
    assert {p["node"] for p in found["problems"]} == {"DJZC.XL", "DJZC.XL.SLBJ", document["nodes"][1]["code"]}
    assert any("sum to 19, expected 18" in p["message"] for p in found["problems"])
    assert rsk.post("/api/plans/2013v1/validate", json=document).status_code == 403  # no CSRF token
    branch, branch_token = clients["branch-humen"]
    assert branch.post("/api/plans/2013v1/validate", json=document,
                       headers={"X-CSRF-Token": branch_token}).status_code == 403
    bad = rsk.post("/api/plans/2013v1/validate", content=b"{nodes", headers={"X-CSRF-Token": token,
                                                                          "Content-Type": "application/json"})
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    page = rsk.post("/plans/2013v1/save", data={"csrf": token, "document": json.dumps(document)})
    assert page.status_code == 400 and "children&#39;s points sum to 19" in page.text  # the editor again, with them
    assert [v.label for v in plans.versions(app.state.web.store, SCHEME, 2013)] == ["2013v1"]


def test_an_upload_is_refused_with_the_words_of_jx_plan_import_and_an_export_comes_back_the_same(
        app, clients, accounts, tmp_path, monkeypatch, capsys):
    rsk, token = clients["clerk-rsk"]
    text = rsk.get("/plans/2010v1/export.yaml").text
    assert text.startswith("# ") and "period: 2010" in text
    bad = text.replace("period: 2010", "period: 2014").replace("points: 80\n", "points: 81\n", 1)
    page = rsk.post("/plans/upload", data={"csrf": token}, files={"file": ("2014.yaml", bad.encode(), "text/yaml")})
    assert page.status_code == 400
    shown = re.findall(r"<li>(.*?)</li>", page.text.split('id="problems"')[1].split("</ol>")[0])
    assert shown and all(line.startswith("2014.yaml:") for line in shown)
    (tmp_path / "2014.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JX_PASSWORD", accounts["admin"])
    capsys.readouterr()
    assert main(["plan", "import", "2014.yaml", "--scheme", SCHEME, "--db", str(app.state.web.store.engine.url),
                 "--as", "admin"]) == 2
    said = capsys.readouterr().err
    from html import unescape

    assert all(unescape(line) in said for line in shown), (shown, said)
    huge = rsk.post("/plans/upload", data={"csrf": token},
                    files={"file": ("big.yaml", b"#" * (5 * 1024 * 1024), "text/yaml")})
    assert huge.status_code == 413 and "larger than 4 MiB" in huge.text
    syntax = rsk.post("/plans/upload", data={"csrf": token}, files={"file": ("x.yaml", b"period: [", "text/yaml")})
    assert syntax.status_code == 400 and "x.yaml:2: YAML syntax error" in syntax.text

    again = rsk.post("/plans/upload", data={"csrf": token}, files={"file": ("2010.yaml", text.encode(), "text/yaml")},
                     follow_redirects=False)
    assert again.status_code == 303
    label = again.headers["location"].rsplit("/", 1)[1]
    store = app.state.web.store
    version = plans.get_version(store, SCHEME, *plans.parse_ref(label))
    assert version.digest == plans.get_version(store, SCHEME, 2010, 1).digest and version.origin == "file 2010.yaml"


def test_diff_whatif_and_lint_pages(app, clients):
    admin, _ = clients["admin"]
    diff = admin.get("/plans/diff?a=2009&b=2010v1")
    assert diff.status_code == 200 and 'id="diff"' in diff.text and "实际权重" in diff.text
    assert 'data-code="QYJG"' in diff.text  # the major items are always listed
    assert admin.get("/plans/diff?a=2010v9&b=2010").status_code == 404
    lint = admin.get("/plans/2010v1/lint")
    assert lint.status_code == 200 and "面面俱到" in lint.text  # 2009's final run: indicators all scored alike
    assert clients["branch-humen"][0].get("/plans/2010v1/lint").status_code == 403
    assert clients["branch-humen"][0].get("/plans/2010v1/whatif").status_code == 403
    whatif = admin.get("/plans/2010v1/whatif?data=to-date&as_of=2010-06-30")
    assert whatif.status_code == 200 and 'id="whatif-summary"' in whatif.text
