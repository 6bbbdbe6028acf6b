"""Administration on the web (jx_web.admin): users added with a password shown once, a reset
password, disabling (sessions end), a branch account tied to its unit, departments, and the
access log and audit chain browsed and filtered."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from entry_support import copied_app, signed
from jxcore.services import auth
from web_kit import login


@pytest.fixture(scope="module")
def app(web_home, accounts, tmp_path_factory):
    return copied_app(web_home, tmp_path_factory.mktemp("admin-web"))


def _new_password(page: str) -> str:
    return re.search(r'id="new-password">[^<]*<code>([^<]+)</code>', page).group(1)


def test_add_a_clerk_of_a_new_department_who_then_signs_in(app, accounts):
    admin, token = signed(app, "admin", accounts["admin"])
    page = admin.post("/admin/users", data={"csrf": token, "name": "陈科员", "role": "clerk", "department": "AQK",
                                            "department_name": "安全科"})
    assert page.status_code == 200
    password = _new_password(page.text)
    assert "陈科员" in page.text and "安全科" in re.search(r'<table id="departments-table">.*?</table>', page.text,
                                                          re.DOTALL).group(0)
    assert password not in admin.get("/admin/users").text  # shown once
    me, _ = signed(app, "陈科员", password)
    assert me.get("/api/me").json() == {"name": "陈科员", "role": "clerk", "department": "AQK", "unit": None}
    twice = admin.post("/admin/users", data={"csrf": token, "name": "陈科员", "role": "clerk", "department": "AQK"})
    assert twice.status_code == 400 and "exists already" in twice.text
    nodept = admin.post("/admin/users", data={"csrf": token, "name": "无科室", "role": "clerk"})
    assert nodept.status_code == 400 and "belongs to a department" in nodept.text


def test_reset_password_and_disable_end_the_sessions(app, accounts):
    admin, token = signed(app, "admin", accounts["admin"])
    page = admin.post("/admin/users", data={"csrf": token, "name": "tmp-viewer", "role": "viewer"})
    first = _new_password(page.text)
    user, _ = signed(app, "tmp-viewer", first)
    second = _new_password(admin.post("/admin/users/tmp-viewer/password", data={"csrf": token}).text)
    assert second != first
    assert user.get("/api/me").status_code == 401  # the old session ended with the reset
    assert login(TestClient(app), "tmp-viewer", first).status_code == 401
    user, _ = signed(app, "tmp-viewer", second)
    assert admin.post("/admin/users/tmp-viewer/disable", data={"csrf": token}).status_code == 200
    assert auth.get_account(app.state.web.store, "tmp-viewer").disabled
    assert user.get("/api/me").status_code == 401
    assert login(TestClient(app), "tmp-viewer", second).status_code == 401
    assert admin.post("/admin/users/tmp-viewer/enable", data={"csrf": token}).status_code == 200
    assert login(TestClient(app), "tmp-viewer", second).status_code == 303
    own = admin.post("/admin/users/admin/disable", data={"csrf": token})
    assert own.status_code == 400 and "may not disable their own account" in own.text


def test_a_branch_account_is_tied_to_its_unit(app, accounts):
    admin, token = signed(app, "admin", accounts["admin"])
    page = admin.post("/admin/users", data={"csrf": token, "name": "长安分局长", "role": "viewer", "unit": "changan"})
    head, _ = signed(app, "长安分局长", _new_password(page.text))
    assert head.get("/api/me").json()["unit"] == "changan"
    assert head.get("/units/humen").status_code == 403
    assert admin.post("/admin/users/%E9%95%BF%E5%AE%89%E5%88%86%E5%B1%80%E9%95%BF/unit",
                      data={"csrf": token, "unit": "humen"}).status_code == 200
    assert head.get("/api/me").json()["unit"] == "humen"
    bad = admin.post("/admin/users/%E9%95%BF%E5%AE%89%E5%88%86%E5%B1%80%E9%95%BF/unit",
                     data={"csrf": token, "unit": "atlantis"})
    assert bad.status_code == 400 and "unknown unit" in bad.text


def test_access_log_and_audit_chain_are_browsable_and_filterable(app, accounts):
    clerk, token = signed(app, "clerk-jck", accounts["clerk-jck"])
    clerk.post("/entry/new/spot_check", data={"date": "2010-05-04", "unit": "humen", "archive": "registration",
                                              "file_no": "X-1", "csrf": token, "action": "preview"})
    admin, _ = signed(app, "admin", accounts["admin"])
    refused = admin.get("/admin/access?user=clerk-jck&outcome=refused").text
    rows = re.findall(r'<tr class="(allowed|refused)">', refused)
    assert rows and set(rows) == {"refused"} and "may not enter" in refused
    allowed = admin.get("/admin/access?outcome=allowed&action=users").text
    assert set(re.findall(r'<tr class="(allowed|refused)">', allowed)) == {"allowed"}
    chain = admin.get("/admin/chain?table=entries").text
    tables = re.findall(r'<tr><td class="n">\d+</td><td>([^<]+)</td>', chain)
    assert tables and set(tables) == {"entries"}
    bundles = re.findall(r'<td>(\d+)\.\.(\d+) \((\d+)\)</td>', chain)  # an imported file's entries: one record
    assert bundles and all(int(last) - int(first) + 1 == int(n) for first, last, n in bundles)
    whole = admin.get("/admin/chain").text
    seqs = [int(s) for s in re.findall(r'<tr><td class="n">(\d+)</td>', whole)]
    assert seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="/admin/chain\?table=&amp;before=(\d+)"', whole)
    assert older is not None  # the demo store has more than a page of records
    page2 = admin.get(f"/admin/chain?before={older.group(1)}").text
    assert max(int(s) for s in re.findall(r'<tr><td class="n">(\d+)</td>', page2)) < int(older.group(1))


def test_an_admin_changes_a_role_and_department_which_holds_at_the_next_page(app, accounts):
    admin, token = signed(app, "admin", accounts["admin"])
    page = admin.post("/admin/users", data={"csrf": token, "name": "调岗人员", "role": "clerk", "department": "DJK"})
    person, _ = signed(app, "调岗人员", _new_password(page.text))
    assert person.get("/entry").status_code == 200
    quoted = "/admin/users/%E8%B0%83%E5%B2%97%E4%BA%BA%E5%91%98/role"
    assert admin.post(quoted, data={"csrf": token, "role": "clerk"}).status_code == 400  # a clerk needs a department
    moved = admin.post(quoted, data={"csrf": token, "role": "inspector", "department": "DCX",
                                     "department_name": "督察新科"})
    assert moved.status_code == 200 and "督察新科" in moved.text
    assert person.get("/api/me").json() == {"name": "调岗人员", "role": "inspector", "department": "DCX", "unit": None}
    assert admin.post(quoted, data={"csrf": token, "role": "viewer"}).status_code == 200
    assert person.get("/entry").status_code == 403  # a viewer enters nothing, from the next page on
    own = admin.post("/admin/users/admin/role", data={"csrf": token, "role": "viewer"})
    assert own.status_code == 400 and "may not change their own role" in own.text
    assert "made 调岗人员 viewer" in admin.get("/admin/access?outcome=allowed&action=users").text
