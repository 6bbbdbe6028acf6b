"""Locks and publication on the web (jx_web.locks): a lock from the page, the two-admin unlock (the
second admin sees the first's request and reason), the chain head shown, downloaded and printable,
verify from the page, and publishing a year's final results as the announcement every account reads."""

from __future__ import annotations

import re

import pytest

from entry_support import copied_app, signed
from jxcore import services
from jxcore.records.access import add_user
from jxcore.services import auth


@pytest.fixture
def app(web_home, accounts, tmp_path):
    app = copied_app(web_home, tmp_path)
    add_user(app.state.web.store, "admin-2", role="admin", by="admin")
    auth.set_password(app.state.web.store, "admin-2", "second-admin-password", by="admin")
    return app


def test_lock_then_two_admins_unlock(app, accounts):
    first, token = signed(app, "admin", accounts["admin"])
    assert first.post("/records/lock", data={"csrf": token, "scope": "entries", "until": "2010-06-30",
                                             "reason": "上半年数据锁定"}, follow_redirects=False).status_code == 303
    store = app.state.web.store
    (lock,) = services.list_locks(store, "guangdong", 2010)
    assert lock.active and str(lock.until) == "2010-06-30" and lock.by_user == "admin"
    page = first.get("/records").text
    assert "录入数据截至 2010-06-30" in page and "申请解除" in page
    assert first.post(f"/records/unlock/{lock.id}", data={"csrf": token, "reason": "虎门数据需更正"},
                      follow_redirects=False).status_code == 303
    again = first.post(f"/records/unlock/{lock.id}", data={"csrf": token, "reason": "再次"})
    assert again.status_code == 403 and "a second admin must confirm" in again.text
    assert services.list_locks(store, "guangdong", 2010)[0].active

    second, token2 = signed(app, "admin-2", "second-admin-password")
    row = re.search(rf'<tr id="lock-{lock.id}">.*?</tr>', second.get("/records").text, re.DOTALL).group(0)
    assert "admin 已申请解除" in row and "虎门数据需更正" in row and "确认解除" in row
    assert second.post(f"/records/unlock/{lock.id}", data={"csrf": token2, "reason": "同意更正"},
                       follow_redirects=False).status_code == 303
    lifted = services.list_locks(store, "guangdong", 2010)[0]
    assert not lifted.active and lifted.unlocked_by == ("admin", "admin-2")
    assert "已解除（admin 申请，admin-2 确认）" in second.get("/records").text


def test_a_lock_needs_a_date_in_the_period(app, accounts):
    client, token = signed(app, "admin", accounts["admin"])
    bad = client.post("/records/lock", data={"csrf": token, "scope": "entries", "until": "2011-01-05"})
    assert bad.status_code == 400
    assert "outside period 2010" in bad.text
    assert client.post("/records/lock", data={"csrf": token, "scope": "entries", "until": "soon"}).status_code == 400
    assert services.list_locks(app.state.web.store) == []


def test_chain_head_shown_downloaded_printable_and_verified(app, accounts):
    client, token = signed(app, "admin", accounts["admin"])
    client.post("/records/lock", data={"csrf": token, "scope": "entries", "until": "2010-03-31"})
    found = services.verify_store(app.state.web.store)
    page = client.get("/records/head").text
    assert re.search(r'<dd class="head" id="head-value">([0-9a-f]{64})</dd>', page).group(1) == found.head
    assert f'<dd id="head-size">{found.size}</dd>' in page
    text = client.get("/records/head.txt")
    assert text.headers["content-disposition"].startswith("attachment")
    assert f"head: {found.head}" in text.text and f"jx verify --head {found.head}" in text.text
    verified = client.get("/records/verify")
    assert verified.status_code == 200 and "校验通过" in verified.text and found.head in verified.text


def test_verify_from_the_page_reports_a_tampered_store(app, accounts):
    import sqlalchemy as sa

    client, _token = signed(app, "admin", accounts["admin"])
    store = app.state.web.store
    with store.engine.begin() as connection:  # a row changed behind jx's back (the trigger dropped first)
        names = [r[0] for r in connection.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"))]
        for name in names:
            connection.execute(sa.text(f'DROP TRIGGER "{name}"'))
        connection.execute(sa.text("UPDATE access_log SET message = 'nothing happened' WHERE id = "
                                   "(SELECT MIN(id) FROM access_log)"))
    response = client.get("/records/verify")
    assert response.status_code == 409 and "校验发现" in response.text and "changed" in response.text


def test_publishing_a_year_makes_its_announcement_readable_by_every_account(app, accounts):
    admin, token = signed(app, "admin", accounts["admin"])
    branch, _ = signed(app, "branch-humen", accounts["branch-humen"])
    assert "2010 年还没有最终结果" in branch.get("/announcement?year=2010").text
    done = admin.post("/records/publish", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/announcement?year=2010"
    store = app.state.web.store
    final = [r for r in services.list_runs(store, "guangdong", 2010) if r.final]
    assert len(final) == 1 and str(final[0].as_of) == "2010-12-31"
    assert [lk.scope for lk in services.list_locks(store, "guangdong", 2010) if lk.active] == ["final"]
    page = branch.get("/announcement")
    assert page.status_code == 200 and "2010 年度绩效考核结果公示" in page.text
    tables = re.findall(r'<table class="announcement" id="table-(\d)">(.*?)</table>', page.text, re.DOTALL)
    assert len(tables) >= 2  # the ranking and the commendation (and the review when it has rows)
    assert tables[0][1].count("<tr>") == 33 + 1 and "虎门" in tables[0][1]
    assert 'href="/announcement?year=2009"' in page.text
    assert "2009 年度" in branch.get("/announcement?year=2009").text
    again = admin.post("/records/publish", data={"csrf": token})  # published and locked already
    assert again.status_code == 409 and "lock #" in again.text
