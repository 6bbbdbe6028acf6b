"""The live 绩效之窗 in Debian's headless Chromium (Playwright, ``executable_path``: no browser
download): sign in, the own row pinned, a unit page with its charts drawn, explain, a phone-size
screen, sign out. Screenshots go to ``.artifacts/web/`` (gitignored) for a person to look at."""

from __future__ import annotations

import pytest

from web_kit import ARTIFACTS, BRANCH, serving

PORT = 18031


@pytest.fixture(scope="module")
def server(web_app, accounts):
    """The app under uvicorn on 127.0.0.1, in a thread of this process."""
    with serving(web_app, PORT) as base:
        yield base


def sign_in(page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/")
    assert "/login" in page.url  # anonymous: sent to the sign-in form
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form#login button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_branch_head_morning_round(server, browser, accounts):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, BRANCH, accounts[BRANCH])
    pinned = page.locator("#pinned tr.mine")
    assert pinned.count() == 1
    assert "虎门" in pinned.locator("th.unit").inner_text()
    assert page.locator("#leaderboard tbody:not(.pinned) tr").count() == 33
    assert page.locator("#leaderboard tbody:not(.pinned) tr.mine").count() == 1
    assert page.locator("#distribution rect.bar.mine").count() == 1
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)

    page.click("#pinned tr.mine th.unit a")
    page.wait_for_url(f"{server}/units/humen")
    for chart in ("#rank-history", "#total-history"):
        assert page.locator(f"{chart} polyline").count() == 1
        box = page.locator(chart).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 30
        assert page.locator(f"{chart} circle").count() >= 2  # two 2010 runs
    assert page.locator("#years-history circle").count() == 1  # 2009's final result
    assert page.locator("#indicators tbody tr").count() == 178
    page.screenshot(path=str(ARTIFACTS / "unit.png"), full_page=True)

    page.click("#indicators tbody tr:first-child a")
    assert page.locator("#rule").inner_text()
    assert page.locator("#crumbs a").count() >= 3  # root › item › … › indicator
    assert page.locator("#source-rows tbody tr").count() > 0
    page.screenshot(path=str(ARTIFACTS / "explain.png"), full_page=True)

    page.goto(f"{server}/units/changan")
    assert page.locator("h1").inner_text() == "无权访问"

    page.click("#sign-out")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/units/humen")
    assert "/login" in page.url
    page.close()


def test_phone_viewport(server, browser, accounts):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                device_scale_factor=2)
    page = phone.new_page()
    sign_in(page, server, BRANCH, accounts[BRANCH])
    row = page.locator("#pinned tr.mine")
    box = row.bounding_box()
    assert box and box["y"] < 844  # the own row is on the first screen
    unit_cell = row.locator("th.unit").bounding_box()
    assert unit_cell and 0 <= unit_cell["x"] and unit_cell["x"] + unit_cell["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # only the table scrolls
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=False)
    phone.close()
