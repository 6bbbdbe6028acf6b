"""Entry on the web (jx_web.entry): forms built from each kind's declared columns, errors beside the
field, the preview (indicators fed, score change) that stores nothing, saving, corrections,
withdrawals and history, department access, uploads with problems by row and column, preview and
confirm bound to the session, templates, locks."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from entry_support import copied_app, signed
from jx_web import entry as entry_module
from jx_web.kindforms import entry_kinds, kind_form
from jxcore import services

FINDING = {"date": "2010-03-02", "unit": "humen", "finding": "absent", "note": "暗访发现", "inspector": "李四"}


@pytest.fixture(scope="module")
def app(web_home, accounts, tmp_path_factory):
    return copied_app(web_home, tmp_path_factory.mktemp("entry-web"))


@pytest.fixture
def as_user(app, accounts):
    return lambda name: signed(app, name, accounts[name])


def _entries(app) -> int:
    web = app.state.web
    return len(services.list_entries(web.store, web.catalog.scheme, include_dead=True))


def test_every_kind_has_a_form_from_its_declared_columns(as_user):
    client, _ = as_user("inspector")
    home = client.get("/entry").text
    for kind, title in entry_kinds().items():
        assert f'href="/entry/new/{kind}"' in home and title in home
    page = client.get("/entry/new/spot_check").text
    for label in ("日期", "单位", "档案类别", "档案号", "瑕疵"):
        assert f">{label}" in page
    units = re.search(r'<select id="f-unit".*?</select>', page, re.DOTALL).group(0)
    assert units.count("<option") == 33 + 1 and ">虎门<" in units  # units chosen by name
    assert 'type="date"' in page and 'min="2010-01-01"' in page and 'max="2010-12-31"' in page
    assert 'value="beyond_authority"' in page and "超越职权" in page  # the checklist's codes as choices
    discipline = client.get("/entry/new/discipline").text
    assert 'value="warning"' in discipline and ">是<" in discipline
    shopper = next(f for f in kind_form(app_scheme(client), "mystery_shopper") if f.name == "score")
    assert (shopper.input, shopper.minimum, shopper.maximum) == ("number", 0, 100)


def app_scheme(client):
    return client.app.state.web.catalog.scheme


def test_errors_are_shown_beside_their_field_and_nothing_is_stored(app, as_user):
    client, token = as_user("inspector")
    before = _entries(app)
    response = client.post("/entry/new/inspection", data={**FINDING, "inspector": "", "unit": "atlantis",
                                                          "csrf": token, "action": "save"})
    assert response.status_code == 400
    unit = re.search(r'<div class="field invalid" id="field-unit">.*?</div>', response.text, re.DOTALL).group(0)
    assert "unknown unit &#39;atlantis&#39;" in unit
    inspector = re.search(r'<div class="field invalid" id="field-inspector">.*?</div>', response.text,
                          re.DOTALL).group(0)
    assert "inspector is missing" in inspector
    assert 'id="field-finding"' in response.text and 'class="field invalid" id="field-finding"' not in response.text
    assert _entries(app) == before


def test_preview_shows_the_indicators_fed_and_the_score_change_and_saves_nothing(app, as_user):
    client, token = as_user("inspector")
    before = _entries(app)
    page = client.post("/entry/new/inspection", data={**FINDING, "csrf": token, "action": "preview"})
    assert page.status_code == 200
    feeds = re.search(r'<table id="feeds">.*?</table>', page.text, re.DOTALL).group(0)
    assert "DCGZ.CQ.AFQG" in feeds and "暗访发现无故缺岗" in feeds
    change = re.search(r'<table id="score-change">.*?</table>', page.text, re.DOTALL).group(0)
    row = re.search(r"<tr><th class=\"unit\">虎门</th>(.*?)</tr>", change, re.DOTALL).group(1)
    total_before, total_after, rank_before, rank_after = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert "暗访发现无故缺岗: 0 → -2" in row
    assert float(total_before) - float(total_after) == pytest.approx(2)
    assert 'id="save-button"' in page.text
    assert _entries(app) == before

    # the preview is what the engine computes once the entry is stored: score the same day again
    web = app.state.web
    view = web.catalog.results().view
    saved = client.post("/entry/new/inspection", data={**FINDING, "csrf": token, "action": "save"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    services.run(web.store, web.registry, web.catalog.scheme, as_of=view.as_of, actor="admin")
    rerun = services.stored_view(web.store, web.registry, web.catalog.scheme)
    i = rerun.unit_position("humen")
    assert int(rerun.totals[i]) / 1000 == pytest.approx(float(total_after))
    assert int(rerun.ranks[i]) == int(rank_after)
    assert int(rank_before) == int(view.ranks[view.unit_position("humen")])


def test_save_correct_withdraw_and_the_history_one_click_away(app, as_user):
    client, token = as_user("inspector")
    first = client.post("/entry/new/inspection", data={**FINDING, "date": "2010-04-01", "csrf": token,
                                                       "action": "save"}, follow_redirects=False)
    old_id = int(re.search(r"/entry/entries/(\d+)", first.headers["location"]).group(1))
    history = client.get(first.headers["location"]).text
    assert 'id="saved"' in history and "web form" in history and "inspector" in history
    form = client.get(f"/entry/new/inspection?supersedes={old_id}").text  # the correct link, prefilled
    assert f'name="supersedes" value="{old_id}"' in form and 'value="2010-04-01"' in form
    assert re.search(r'<option value="absent" selected>', form)
    fixed = client.post("/entry/new/inspection", data={**FINDING, "date": "2010-04-01", "finding": "late_handling",
                                                       "supersedes": old_id, "reason": "问题类型录错", "csrf": token,
                                                       "action": "save"}, follow_redirects=False)
    assert fixed.status_code == 303
    new_id = int(re.search(r"/entry/entries/(\d+)", fixed.headers["location"]).group(1))
    old_page = client.get(f"/entry/entries/{old_id}").text
    assert f'href="/entry/entries/{new_id}"' in old_page and "问题类型录错" in old_page
    assert 'id="withdraw-form"' not in old_page  # superseded: no longer withdrawable
    assert client.post(f"/entry/entries/{new_id}/withdraw", data={"csrf": token, "reason": ""}).status_code == 400
    done = client.post(f"/entry/entries/{new_id}/withdraw", data={"csrf": token, "reason": "重复通报"},
                       follow_redirects=False)
    assert done.status_code == 303
    state = re.search(r'<dd id="state">(.*?)</dd>', client.get(f"/entry/entries/{new_id}").text, re.DOTALL).group(1)
    assert "已撤回" in state and "重复通报" in state
    web = app.state.web
    assert new_id not in {e.id for e in services.list_entries(web.store, web.catalog.scheme)}


def test_a_clerk_of_another_department_is_refused_for_an_indicator_not_theirs(app, as_user):
    client, token = as_user("clerk-jck")
    before = _entries(app)
    response = client.post("/entry/new/spot_check", data={
        "date": "2010-05-04", "unit": "humen", "archive": "registration", "file_no": "DJ-2010-77",
        "defects": ["beyond_authority"], "csrf": token, "action": "preview"})
    assert response.status_code == 403
    assert "clerk-jck (clerk of JCK) may not enter" in response.text and "(DJK)" in response.text
    assert _entries(app) == before
    web = app.state.web
    assert services.access_log(web.store, user="clerk-jck", allowed=False)[0].action == "enter"


def _upload(client, token, name: str, text: str):
    return client.post("/entry/new/inspection/upload", data={"csrf": token},
                       files={"file": (name, text.encode("utf-8"), "text/csv")})


BAD = "日期,单位,问题类型,说明,督察人\n2010-06-01,虎门,无故缺岗,暗访发现,张三\n2010-13-01,亚特兰蒂斯,迟到,,\n"
GOOD = "日期,单位,问题类型,说明,督察人\n2010-06-01,虎门,无故缺岗,暗访发现,张三\n2010-06-02,长安,dress,,张三\n"


def test_an_upload_with_errors_lists_them_by_row_and_column_and_stores_nothing(app, as_user):
    client, token = as_user("inspector")
    before = _entries(app)
    response = _upload(client, token, "六月督察.csv", BAD)
    assert response.status_code == 400
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"n\">([^<]*)</td><td>([^<]*)</td><td class=\"wrap\">([^<]*)",
                      response.text)
    where = {(r[1], r[2]) for r in rows}
    assert {("3", "A (日期)"), ("3", "B (单位)"), ("3", "C (问题类型)"), ("3", "E (督察人)")} <= where
    assert "六月督察.csv" in response.text
    assert _entries(app) == before
    assert not any(entry_module.uploads_dir().glob("*/六月督察.csv"))  # a rejected file is not kept


def test_an_upload_is_previewed_then_confirmed_by_the_same_session_only(app, as_user, accounts):
    client, token = as_user("inspector")
    before = _entries(app)
    preview = _upload(client, token, "六月督察-改.csv", GOOD)
    assert preview.status_code == 200
    assert "将导入 2 条" in preview.text and "长安、虎门" in preview.text
    assert "DCGZ.CQ.AFQG" in preview.text and 'id="score-change"' in preview.text
    assert len(re.findall(r"<tr><td class=\"n\">\d+</td>", preview.text)) == 2  # the rows to be imported
    assert _entries(app) == before
    upload = re.search(r"/entry/uploads/([^/]+)/confirm", preview.text).group(1)
    other, other_token = signed(client.app, "admin", accounts["admin"])
    assert other.post(f"/entry/uploads/{upload}/confirm", data={"csrf": other_token}).status_code == 404
    done = client.post(f"/entry/uploads/{upload}/confirm", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and "/entry/batches/" in done.headers["location"]
    assert _entries(app) == before + 2
    batch = client.get(done.headers["location"]).text
    assert "已导入 2 条" in batch and batch.count('href="/entry/entries/') == 2
    assert client.post(f"/entry/uploads/{upload}/confirm", data={"csrf": token}).status_code == 404  # used up
    assert not (entry_module.uploads_dir() / upload).exists()
    again = _upload(client, token, "六月督察-改.csv", GOOD)  # the same file twice
    assert again.status_code == 400 and "already" in again.text
    batch_id = done.headers["location"].split("/")[-1].split("?")[0]
    assert client.post(f"/entry/batches/{batch_id}/withdraw", data={"csrf": token, "reason": "整批重报"},
                       follow_redirects=False).status_code == 303
    assert _entries(app) == before + 2  # withdrawn entries stay on the record
    web = app.state.web
    live = {e.batch_id for e in services.list_entries(web.store, web.catalog.scheme)}
    assert batch_id not in live


def test_a_cancelled_or_too_large_upload_keeps_nothing(app, as_user, monkeypatch):
    client, token = as_user("inspector")
    preview = _upload(client, token, "取消.csv", GOOD.replace("2010-06-0", "2010-07-0"))
    upload = re.search(r"/entry/uploads/([^/]+)/confirm", preview.text).group(1)
    assert client.post(f"/entry/uploads/{upload}/cancel", data={"csrf": token},
                       follow_redirects=False).status_code == 303
    assert not (entry_module.uploads_dir() / upload).exists()
    monkeypatch.setattr(entry_module, "UPLOAD_LIMIT", 64)
    response = _upload(client, token, "大.csv", GOOD)  # the form's envelope fits, the file does not
    assert response.status_code == 413 and "larger than" in response.text
    monkeypatch.setattr(entry_module, "_FORM_OVERHEAD", 0)
    response = _upload(client, token, "大.csv", GOOD)  # refused by its Content-Length, before any parsing
    assert response.status_code == 413 and "larger than" in response.text
    assert response.headers["content-type"].startswith("text/plain")  # the middleware's, not the page's
    chunked = client.post("/entry/new/inspection/upload", content=iter([b"x" * 10]),
                          headers={"content-type": "multipart/form-data; boundary=x", "x-csrf-token": token})
    assert chunked.status_code == 411


def test_templates_have_the_headers_and_validation_lists_the_importer_reads(app, as_user, tmp_path):
    client, _ = as_user("inspector")
    response = client.get("/entry/new/inspection/template.xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["日期", "单位", "问题类型", "说明", "督察人"]
    lists = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert lists["B2:B5000"].type == "list" and lists["C2:C5000"].type == "list"
    assert lists["A2:A5000"].type == "date"
    allowed = book["allowed"]
    assert "虎门" in [c.value for c in allowed["B"]] and "无故缺岗" in [c.value for c in allowed["C"]]
    sheet.append([dt.date(2010, 8, 3), "虎门", "无故缺岗", "暗访发现", "张三"])  # filled with the lists' values
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    web = app.state.web
    report = services.import_file(web.store, web.registry, web.catalog.scheme, "inspection", filled,
                                  user="inspector", preview=True)
    assert report.rows == 1 and report.units == ("humen",)
    spot = load_workbook(io.BytesIO(client.get("/entry/new/spot_check/template.xlsx").content)).worksheets[0]
    defects = {str(v.sqref): v for v in spot.data_validations.dataValidation}["E2:E5000"]
    assert "超越职权" in defects.prompt and defects.showInputMessage  # several codes a cell: shown, not a list


def test_an_entry_inside_a_lock_is_refused_with_the_lock_named(app, as_user):
    client, token = as_user("inspector")
    web = app.state.web
    lock = services.lock(web.store, "guangdong", 2010, user="admin", until=dt.date(2010, 1, 31))
    before = _entries(app)
    try:
        response = client.post("/entry/new/inspection", data={**FINDING, "date": "2010-01-15", "csrf": token,
                                                               "action": "save"})
        assert response.status_code == 409
        assert f"lock #{lock.id}" in response.text and "entries up to 2010-01-31" in response.text
        assert _entries(app) == before
    finally:
        services.unlock(web.store, "guangdong", 2010, user="admin", reason="测试", lock_id=lock.id)
        from jxcore.records.access import add_user
        from jxcore.services import auth

        if auth.get_account(web.store, "admin-b") is None:
            add_user(web.store, "admin-b", role="admin", by="admin")
        services.unlock(web.store, "guangdong", 2010, user="admin-b", reason="测试", lock_id=lock.id)


def test_a_saved_entry_reaches_the_leaderboard_without_waiting_for_the_daily_run(app, as_user):
    client, token = as_user("inspector")
    web = app.state.web
    before = web.catalog.latest_id()
    saved = client.post("/entry/new/inspection", data={**FINDING, "date": "2010-05-03", "inspector": "王五",
                                                       "csrf": token, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    assert web.live.done.wait(600)  # the background run of the current day is stored
    latest = client.get("/api/latest").json()["run_id"]
    assert latest != before  # what the open leaderboards poll, to reload
    view = services.stored_view(web.store, web.registry, web.catalog.scheme)
    entry_id = int(re.search(r"/entry/entries/(\d+)", saved.headers["location"]).group(1))
    assert view.run_id == latest and entry_id in {e.id for e in services.list_entries(web.store, web.catalog.scheme)}
