"""Plan-making in Debian's headless Chromium (Playwright, as test_entry_browser.py): the personnel
section (人事科, the drafting department) starts 2011's draft from 2010, edits an indicator's points
and sees the problem appear beside its item as it types (the sub-item's points no longer add up),
fixes it and saves; sends it out for comments; a branch comments on a node from the tree; the
section answers; the bureau (an admin) approves with the meeting and its minutes and publishes; the
published version's edit page refuses, and so does a POST of an edit. Screenshots: .artifacts/web/plan-*.png."""

from __future__ import annotations

import json
import re
import time

import pytest

from entry_support import copied_app
from jxcore.services import plans
from web_kit import ARTIFACTS, serving

PORT = 8710


SERVER_LOG: list[str] = []


class Logged:
    """ASGI wrapper noting each request's start, body and end (shown when the test fails)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        name = f"{scope['method']} {scope['path']}"
        SERVER_LOG.append(f"begin {name}")

        async def logged_receive():
            message = await receive()
            SERVER_LOG.append(f"received {name} {message['type']} {len(message.get('body', b''))}")
            return message

        async def logged_send(message):
            if message["type"] == "http.response.start":
                SERVER_LOG.append(f"respond {name} {message['status']}")
            await send(message)

        await self.app(scope, logged_receive, logged_send)
        SERVER_LOG.append(f"end {name}")


@pytest.fixture(scope="module")
def served(web_home, accounts, tmp_path_factory):
    app = copied_app(web_home, tmp_path_factory.mktemp("plan-browser"))
    with serving(Logged(app), PORT) as base:
        yield app, base


def sign_in(browser, base: str, name: str, password: str, target: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login?next={target}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form#login button[type=submit]")
    page.wait_for_load_state()
    return page


def _settled(page, state: str, text: str = "", seconds: float = 90) -> str:
    """Wait (polling from here, the page left alone) until the editor's last check says ``state``
    with ``text`` beside DJZC.XL; the problems shown there then."""
    for _ in range(int(seconds * 4)):
        if page.get_attribute("#editor", "data-state") == state:
            shown = page.inner_text('tr[data-code="DJZC.XL"] .node-problems')
            if text in shown:
                return shown
        time.sleep(0.25)
    raise AssertionError(f"the editor never became {state}: {page.inner_text('#status')}; server: {SERVER_LOG[-8:]}")


def test_draft_edit_consult_answer_approve_publish_and_the_published_plan_is_frozen(served, browser, accounts):
    app, base = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    section = sign_in(browser, base, "clerk-rsk", accounts["clerk-rsk"], "/plans")
    assert section.url.endswith("/plans")
    section.fill("#new-draft input[name=year]", "2011")
    section.select_option("#new-draft select[name=source]", "2010")
    section.click("#new-draft button[type=submit]")
    section.wait_for_url(re.compile(r"/plans/2011v1/edit$"))
    section.wait_for_selector("#editor[data-state=valid]", timeout=60_000)
    assert section.inner_text("#problem-count") == "检查通过，没有问题"
    asbj = 'tr[data-code="DJZC.XL.ASBJ"]'
    assert section.input_value(f"{asbj} input.points") == "9"
    assert section.inner_text(f"{asbj} td.weight") == "0.9"  # 9 of 1000 points

    seen: list[str] = []
    section.on("console", lambda message: seen.append(f"console: {message.text}"))
    section.on("requestfailed", lambda request: seen.append(f"failed: {request.url} {request.failure}"))
    section.on("requestfinished", lambda request: seen.append(f"done: {request.method} {request.url}"))
    section.on("request", lambda request: seen.append(f"start: {request.method} {request.url}"))
    section.bring_to_front()
    section.click(f"{asbj} input.points", click_count=3)
    section.keyboard.type("10", delay=80)  # typed key by key over the selected 9: checked as one types
    item = 'tr[data-code="DJZC.XL"]'
    shown = _settled(section, "invalid", "children's points sum to 19")
    assert "children's points sum to 19, expected 18" in shown, (shown, seen, SERVER_LOG[-8:])
    assert section.inner_text("#problem-count") == "1 个问题"
    assert not [line for line in seen if line.startswith("failed")], seen
    assert "has-problem" in section.get_attribute(item, "class")
    assert section.is_disabled("#save")
    assert section.inner_text(f"{asbj} td.weight") == "1.0"
    section.screenshot(path=str(ARTIFACTS / "plan-edit-problem.png"), full_page=False)

    section.fill(f"{asbj} input.points", "9")
    section.fill('tr[data-code="DJZC.XL.SLBJ"] input.points', "4")
    section.fill(f"{asbj} input.points", "10")  # 10 + 4 + 4 = 18 again
    assert _settled(section, "valid") == ""
    section.fill("#note", "按时办结率加重，设立登记按时办结率减轻")
    section.click("#save")
    section.wait_for_url(re.compile(r"/plans/2011v2\?saved=1$"))
    assert "已保存为 2011v2" in section.inner_text("#saved")
    saved = plans.get_version(app.state.web.store, "guangdong", 2011, 2).plan()
    assert (saved.nodes["DJZC.XL.ASBJ"].points, saved.nodes["DJZC.XL.SLBJ"].points) == (10_000, 4_000)
    assert "按时办结率加重" in section.inner_text("#record")
    section.click("#submit-form button[type=submit]")
    section.wait_for_load_state()
    assert section.inner_text("#state") == "征求意见中"

    branch = sign_in(browser, base, "branch-humen", accounts["branch-humen"], "/plans/2011v2")
    branch.click('tr[data-code="DJZC.XL.ASBJ"] a.comment-node')
    branch.wait_for_load_state()
    assert branch.input_value("#comment select[name=node]") == "DJZC.XL.ASBJ"
    branch.fill("#comment textarea[name=text]", "按时办结率目标偏高，建议 95%")
    branch.click("#comment button[type=submit]")
    branch.wait_for_load_state()
    asked = branch.locator("#comments li").first
    assert "按时办结率目标偏高" in asked.inner_text() and "待答复" in asked.inner_text()
    assert branch.locator("#approve-form").count() == 0 and branch.locator(".answer-form").count() == 0

    section.goto(f"{base}/plans/2011v2")
    section.fill("#comments li .answer-form input[name=text]", "维持 97%，系省局统一要求")
    section.click("#comments li .answer-form button[type=submit]")
    section.wait_for_load_state()
    assert "维持 97%" in section.inner_text("#comments") and "已答复" in section.inner_text("#comments")
    section.screenshot(path=str(ARTIFACTS / "plan-consultation.png"), full_page=False)

    bureau = sign_in(browser, base, "admin", accounts["admin"], "/plans/2011v2")
    bureau.fill("#approve-form input[name=meeting]", "2011年第2次局务会议")
    bureau.fill("#approve-form input[name=minutes]", "会议纪要〔2011〕2号")
    bureau.click("#approve-form button[type=submit]")
    bureau.wait_for_load_state()
    assert bureau.inner_text("#state") == "局务会议已通过"
    assert "会议纪要〔2011〕2号" in bureau.inner_text("#record")
    bureau.click("#publish-form button[type=submit]")
    bureau.wait_for_load_state()
    assert bureau.inner_text("#state") == "已发布施行"
    assert bureau.locator("#edit-link").count() == 0
    bureau.screenshot(path=str(ARTIFACTS / "plan-published.png"), full_page=False)

    refused = section.goto(f"{base}/plans/2011v2/edit")
    assert refused.status == 409
    assert "published plan is frozen" in section.inner_text("main")
    section.goto(f"{base}/plans")
    token = section.get_attribute("#new-draft input[name=csrf]", "value")
    document = section.request.get(f"{base}/api/plans/2011v2").json()["document"]
    posted = section.request.post(f"{base}/plans/2011v2/save", form={"csrf": token, "document": json.dumps(document)})
    assert posted.status == 409 and "frozen" in posted.text()
    assert [v.label for v in plans.versions(app.state.web.store, "guangdong", 2011)] == ["2011v1", "2011v2"]
    assert plans.published(app.state.web.store, "guangdong", 2011).label == "2011v2"
    for page in (section, branch, bureau):
        page.context.close()
