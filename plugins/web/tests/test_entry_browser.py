"""Entry, locks and unlocks in Debian's headless Chromium (Playwright, as test_browser.py): a clerk
uploads a file with errors and reads them by row and column, fixes it, previews, confirms, and the
leaderboard's next run shows the score the preview promised; a clerk of another department is
refused; an inspector enters a finding on a phone-size screen; an admin locks, an entry inside the
lock is refused with the lock named, and two admins unlock. Screenshots go to .artifacts/web/."""

from __future__ import annotations

import json
import re

import pytest

from entry_support import copied_app
from jxcore import services
from jxcore.records.access import add_user
from jxcore.services import auth
from web_kit import ARTIFACTS, serving

PORT = 19031
BAD = ("日期,单位,档案类别,档案号,瑕疵\n"
       "2010-05-10,虎门,登记,DJ-2010-0501,超越职权\n"
       "2010-05-11,亚特兰蒂斯,登记,DJ-2010-0502,\n"
       "2011-01-03,虎门,登记,DJ-2010-0503,迟到早退\n")
GOOD = ("日期,单位,档案类别,档案号,瑕疵\n"
        "2010-05-10,虎门,登记,DJ-2010-0501,超越职权\n"
        "2010-05-11,虎门,登记,DJ-2010-0502,程序错误\n")


@pytest.fixture(scope="module")
def served(web_home, accounts, tmp_path_factory):
    app = copied_app(web_home, tmp_path_factory.mktemp("entry-browser"))
    store = app.state.web.store
    add_user(store, "admin-2", role="admin", by="admin")
    auth.set_password(store, "admin-2", "second-admin-password", by="admin")
    with serving(app, PORT) as base:
        yield app, base


def sign_in(context, base: str, name: str, password: str):
    page = context.new_page()
    page.goto(f"{base}/login?next=/entry")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form#login button[type=submit]")
    page.wait_for_load_state()
    return page


def _upload(page, base: str, path) -> None:
    page.goto(f"{base}/entry")
    page.set_input_files("#kind-spot_check input[type=file]", str(path))
    page.click("#kind-spot_check form.upload button")
    page.wait_for_load_state()


def _leaderboard_total(page, base: str, code: str) -> tuple[str, float]:
    page.goto(f"{base}/api/leaderboard")
    doc = json.loads(page.inner_text("body"))
    return doc["run_id"], next(r["total"] for r in doc["rows"] if r["code"] == code)


def test_clerk_uploads_sees_errors_fixes_previews_confirms_and_the_leaderboard_follows(served, browser, accounts,
                                                                                        tmp_path):
    app, base = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = sign_in(context, base, "clerk-djk", accounts["clerk-djk"])
    bad = tmp_path / "五月登记档案抽查.csv"
    bad.write_text(BAD, encoding="utf-8")
    _upload(page, base, bad)
    assert "文件有问题，未导入任何数据" in page.inner_text("#upload-error")
    problems = [[c.inner_text() for c in row.locator("td").all()] for row in page.locator("#problems tbody tr").all()]
    where = {(p[1], p[2]) for p in problems}
    assert ("3", "B (单位)") in where and ("4", "A (日期)") in where and ("4", "E (瑕疵)") in where
    page.screenshot(path=str(ARTIFACTS / "entry-upload-errors.png"), full_page=True)

    good = tmp_path / "五月登记档案抽查.csv"
    good.write_text(GOOD, encoding="utf-8")
    _upload(page, base, good)
    assert "将导入 2 条" in page.inner_text("#would-import")
    assert "DJZC" in page.inner_text("#feeds")
    change = page.locator("#score-change tbody tr", has_text="虎门")
    cells = change.locator("td").all_inner_texts()
    promised = float(cells[1])
    assert promised < float(cells[0])  # two defects cost points
    page.screenshot(path=str(ARTIFACTS / "entry-upload-preview.png"), full_page=True)
    page.click("#confirm-button")
    page.wait_for_load_state()
    assert "已导入 2 条" in page.inner_text("#saved")
    assert page.locator("#batch-entries tbody tr").count() == 2

    web = app.state.web
    before, _ = _leaderboard_total(page, base, "humen")
    services.run(web.store, web.registry, web.catalog.scheme, as_of=web.catalog.results().view.as_of)  # the day's run
    after, total = _leaderboard_total(page, base, "humen")
    assert after != before and total == pytest.approx(promised)
    context.close()


def test_a_clerk_of_another_department_is_refused(served, browser, accounts):
    _, base = served
    context = browser.new_context()
    page = sign_in(context, base, "clerk-jck", accounts["clerk-jck"])
    page.goto(f"{base}/entry/new/spot_check")
    page.fill("#f-date", "2010-05-20")
    page.select_option("#f-unit", label="虎门")
    page.select_option("#f-archive", value="registration")
    page.fill("#f-file_no", "DJ-2010-0999")
    page.click("#preview-button")
    page.wait_for_load_state()
    message = page.inner_text("#form-error")
    assert "clerk-jck (clerk of JCK) may not enter" in message and "(DJK)" in message
    assert page.locator("#save-button").count() == 0
    context.close()


def test_an_inspector_enters_a_finding_on_a_phone(served, browser, accounts):
    _, base = served
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                device_scale_factor=2)
    page = sign_in(phone, base, "inspector", accounts["inspector"])
    page.goto(f"{base}/entry/new/inspection")
    page.fill("#f-date", "2010-08-18")
    page.select_option("#f-unit", label="长安")
    page.select_option("#f-finding", value="bad_service")
    page.fill("#f-note", "暗访发现")
    page.fill("#f-inspector", "督察组 王")
    with page.expect_navigation():
        page.tap("#preview-button")
    assert page.locator("#feeds tbody tr").count() >= 1
    box = page.locator("#save-button").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(ARTIFACTS / "entry-phone.png"), full_page=True)
    with page.expect_navigation():
        page.tap("#save-button")
    assert page.inner_text("#saved") == "已保存"
    assert "长安" in page.inner_text("#entry") and "bad_service" in page.inner_text("#entry")
    phone.close()


def test_admin_locks_an_entry_inside_is_refused_and_two_admins_unlock(served, browser, accounts):
    app, base = served
    first = browser.new_context()
    page = sign_in(first, base, "admin", accounts["admin"])
    page.goto(f"{base}/records")
    page.fill("#lock-until", "2010-06-30")
    page.fill("#lock-form input[name=reason]", "上半年数据锁定")
    page.click("#lock-button")
    page.wait_for_load_state()
    lock = services.list_locks(app.state.web.store, "guangdong", 2010)[-1]
    assert lock.active and str(lock.until) == "2010-06-30"
    assert page.inner_text(f"#lock-{lock.id} td.state") == "生效中"

    page.goto(f"{base}/entry/new/inspection")
    page.fill("#f-date", "2010-06-01")
    page.select_option("#f-unit", label="虎门")
    page.select_option("#f-finding", value="dress")
    page.fill("#f-inspector", "王")
    page.click("#preview-button")  # the preview already meets the lock: nothing to save
    page.wait_for_load_state()
    assert page.locator("#save-button").count() == 0
    refused = page.inner_text("#form-error")
    assert f"lock #{lock.id}" in refused and "entries up to 2010-06-30" in refused
    page.screenshot(path=str(ARTIFACTS / "entry-locked.png"), full_page=True)

    page.goto(f"{base}/records")
    row = page.locator(f"#lock-{lock.id}")
    row.locator("input[name=reason]").fill("长安数据需更正")
    row.locator("button").click()
    page.wait_for_load_state()
    assert "admin 已申请解除" in page.inner_text(f"#lock-{lock.id} td.state")

    second = browser.new_context()
    other = sign_in(second, base, "admin-2", "second-admin-password")
    other.goto(f"{base}/records")
    state = other.inner_text(f"#lock-{lock.id} td.state")
    assert "admin 已申请解除" in state and "长安数据需更正" in state
    other.screenshot(path=str(ARTIFACTS / "records-unlock-request.png"), full_page=True)
    row = other.locator(f"#lock-{lock.id}")
    assert row.locator("button").inner_text() == "确认解除"
    row.locator("input[name=reason]").fill("同意")
    row.locator("button").click()
    other.wait_for_load_state()
    assert re.search(r"已解除（admin 申请，admin-2 确认）", other.inner_text(f"#lock-{lock.id} td.state"))
    assert not services.list_locks(app.state.web.store, "guangdong", 2010)[-1].active
    first.close()
    second.close()
