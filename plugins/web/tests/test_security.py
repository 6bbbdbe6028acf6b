"""Security of the web app: every route × role (0 wrong allows), CSRF on every unsafe request,
names rendered inert, session fixation, sign-out, throttling, cookie flags."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from jx_web.app import create_app
from jxcore.records.access import add_user
from jxcore.services import auth
from web_kit import BRANCH, OTHER_UNIT, csrf_of, login

ROLES = ("anonymous", BRANCH, "clerk-djk", "inspector", "admin")
OWN = BRANCH.removeprefix("branch-")
SIGNED = {"anonymous": "login", BRANCH: 200, "clerk-djk": 200, "inspector": 200, "admin": 200}
SIGNED_API = {**SIGNED, "anonymous": 401}
PUBLIC = dict.fromkeys(ROLES, 200)
BUREAU = {**SIGNED, BRANCH: 403}
BUREAU_API = {**SIGNED_API, BRANCH: 403}
ADMIN = {"anonymous": "login", BRANCH: 403, "clerk-djk": 403, "inspector": 403, "admin": 200}
ADMIN_POST = {"anonymous": 403, BRANCH: 403, "clerk-djk": 403, "inspector": 403, "admin": 303}
# entry, records and administration pages (jx_web.entry, .locks, .admin); the POSTs carry no fields,
# so an allowed account gets the service's refusal of empty input (400) or of an unknown id (404)
ENTER = {**SIGNED, BRANCH: 403}
ENTER_MISSING = {**ENTER, "clerk-djk": 404, "inspector": 404, "admin": 404}
ENTER_POST = {"anonymous": 403, BRANCH: 403, "clerk-djk": 400, "inspector": 400, "admin": 400}
ENTER_POST_MISSING = {**ENTER_POST, "clerk-djk": 404, "inspector": 404, "admin": 404}
ADMIN_POST_EMPTY = {**ADMIN_POST, "admin": 400}
# plan-making (jx_web.planning): the shared store holds no plan version, so an allowed account gets
# 404 for a version page or act; the drafting, approving and answering POSTs are for bureau accounts
# (the services then decide by department and role: tests test_plan_web.py); anyone may comment,
# the service admits branch accounts only
SIGNED_MISSING = {**SIGNED, BRANCH: 404, "clerk-djk": 404, "inspector": 404, "admin": 404}
SIGNED_API_MISSING = {**SIGNED_API, BRANCH: 404, "clerk-djk": 404, "inspector": 404, "admin": 404}
BUREAU_MISSING = {**ENTER_MISSING}
PLAN_POST = {**ENTER_POST}  # bureau accounts: the service's refusal of empty input (400)
PLAN_POST_MISSING = {**ENTER_POST_MISSING}
COMMENT_POST_MISSING = {**PLAN_POST_MISSING, BRANCH: 404}
VALIDATE_POST = {**PLAN_POST}  # a form body is no JSON document: 400

# (method, route path) -> [(concrete URL, expected per role)]; "login" = redirected to the sign-in form.
MATRIX = {
    ("GET", "/login"): [("/login", PUBLIC)],
    ("POST", "/login"): [],  # tested by the sign-in tests below
    ("POST", "/logout"): [],  # tested by test_sign_out_ends_the_session
    ("GET", "/healthz"): [("/healthz", PUBLIC)],
    ("GET", "/"): [("/", SIGNED)],
    ("GET", "/units/{code}"): [(f"/units/{OWN}", SIGNED), (f"/units/{OTHER_UNIT}", BUREAU)],
    ("GET", "/units/{code}/explain"): [(f"/units/{OWN}/explain", SIGNED),
                                       (f"/units/{OTHER_UNIT}/explain?node=DJZC", BUREAU)],
    ("GET", "/warnings"): [("/warnings", SIGNED), ("/warnings?new=1", SIGNED)],
    ("GET", "/commendations"): [("/commendations", SIGNED)],
    ("GET", "/review"): [("/review", BUREAU)],
    ("GET", "/evaluation"): [("/evaluation", BUREAU)],  # jx-evaluation's page (its plugin's hook)
    ("GET", "/api/evaluation"): [("/api/evaluation", BUREAU_API)],
    ("GET", "/compare"): [("/compare", SIGNED)],
    ("GET", "/admin/sessions"): [("/admin/sessions", ADMIN)],
    ("POST", "/admin/sessions/revoke"): [("/admin/sessions/revoke", ADMIN_POST)],
    ("POST", "/admin/run"): [],  # scores a whole run: tested once in test_admin_run_now
    ("GET", "/api/openapi.json"): [("/api/openapi.json", PUBLIC)],
    ("GET", "/api/me"): [("/api/me", SIGNED_API)],
    ("GET", "/api/latest"): [("/api/latest", SIGNED_API)],
    ("GET", "/api/runs"): [("/api/runs", SIGNED_API)],
    ("GET", "/api/leaderboard"): [("/api/leaderboard", SIGNED_API)],
    ("GET", "/api/units/{code}"): [(f"/api/units/{OWN}", SIGNED_API), (f"/api/units/{OTHER_UNIT}", BUREAU_API)],
    ("GET", "/api/units/{code}/explain"): [(f"/api/units/{OWN}/explain", SIGNED_API),
                                           (f"/api/units/{OTHER_UNIT}/explain", BUREAU_API)],
    ("GET", "/api/warnings"): [("/api/warnings", SIGNED_API)],
    ("GET", "/api/commendations"): [("/api/commendations", SIGNED_API)],
    ("GET", "/api/review"): [("/api/review", BUREAU_API)],
    ("GET", "/api/compare"): [("/api/compare", SIGNED_API)],
    ("GET", "/static"): [("/static/app.css", PUBLIC), ("/static/app.js", PUBLIC)],
    ("GET", "/entry"): [("/entry", ENTER)],
    ("GET", "/entry/new/{kind}"): [("/entry/new/inspection", ENTER), ("/entry/new/spot_check", ENTER)],
    ("POST", "/entry/new/{kind}"): [("/entry/new/inspection", ENTER_POST)],
    ("GET", "/entry/new/{kind}/template.xlsx"): [("/entry/new/honour/template.xlsx", ENTER)],
    ("POST", "/entry/new/{kind}/upload"): [("/entry/new/inspection/upload", ENTER_POST)],
    ("POST", "/entry/uploads/{token}/confirm"): [("/entry/uploads/no-such-upload-token-000/confirm",
                                                   ENTER_POST_MISSING)],
    ("POST", "/entry/uploads/{token}/cancel"): [("/entry/uploads/no-such-upload-token-000/cancel", ENTER_POST_MISSING)],
    ("GET", "/entry/entries"): [("/entry/entries?kind=inspection", ENTER)],
    ("GET", "/entry/entries/{entry_id}"): [("/entry/entries/1", ENTER), ("/entry/entries/999999999", ENTER_MISSING)],
    ("POST", "/entry/entries/{entry_id}/withdraw"): [("/entry/entries/1/withdraw", ENTER_POST)],
    ("GET", "/entry/batches"): [("/entry/batches", ENTER)],
    ("GET", "/entry/batches/{batch_id}"): [("/entry/batches/no-such-batch", ENTER_MISSING)],
    ("POST", "/entry/batches/{batch_id}/withdraw"): [("/entry/batches/no-such-batch/withdraw", ENTER_POST)],
    ("GET", "/records"): [("/records", ADMIN)],
    ("POST", "/records/lock"): [("/records/lock", ADMIN_POST_EMPTY)],
    ("POST", "/records/unlock/{lock_id}"): [("/records/unlock/999999", ADMIN_POST_EMPTY)],
    ("GET", "/records/verify"): [("/records/verify", ADMIN)],
    ("GET", "/records/head"): [("/records/head", ADMIN)],
    ("GET", "/records/head.txt"): [("/records/head.txt", ADMIN)],
    ("POST", "/records/publish"): [],  # scores a final run: tested in test_records_web
    ("GET", "/announcement"): [("/announcement", SIGNED), ("/announcement?year=2009", SIGNED)],
    ("GET", "/admin/users"): [("/admin/users", ADMIN)],
    ("POST", "/admin/users"): [("/admin/users", ADMIN_POST_EMPTY)],
    ("POST", "/admin/users/{name}/disable"): [("/admin/users/nobody/disable", ADMIN_POST_EMPTY)],
    ("POST", "/admin/users/{name}/enable"): [("/admin/users/nobody/enable", ADMIN_POST_EMPTY)],
    ("POST", "/admin/users/{name}/password"): [("/admin/users/nobody/password", ADMIN_POST_EMPTY)],
    ("POST", "/admin/users/{name}/unit"): [("/admin/users/nobody/unit", ADMIN_POST_EMPTY)],
    ("POST", "/admin/users/{name}/role"): [("/admin/users/nobody/role", ADMIN_POST_EMPTY)],
    ("GET", "/admin/access"): [("/admin/access?outcome=refused", ADMIN)],
    ("GET", "/admin/chain"): [("/admin/chain?table=entries", ADMIN)],
    ("GET", "/plans"): [("/plans", SIGNED)],
    ("POST", "/plans/new"): [("/plans/new", PLAN_POST)],
    ("POST", "/plans/upload"): [("/plans/upload", PLAN_POST)],
    ("GET", "/plans/diff"): [("/plans/diff", SIGNED), ("/plans/diff?a=2010v7&b=2010", SIGNED_MISSING)],
    ("GET", "/plans/{ref}"): [("/plans/2010", SIGNED_MISSING), ("/plans/2010v3?node=DJZC", SIGNED_MISSING)],
    ("GET", "/plans/{ref}/export.yaml"): [("/plans/2010/export.yaml", SIGNED_MISSING)],
    ("GET", "/plans/{ref}/edit"): [("/plans/2010/edit", BUREAU_MISSING)],
    ("POST", "/plans/{ref}/save"): [("/plans/2010/save", PLAN_POST_MISSING)],
    ("POST", "/plans/{ref}/submit"): [("/plans/2010/submit", PLAN_POST_MISSING)],
    ("POST", "/plans/{ref}/approve"): [("/plans/2010/approve", PLAN_POST_MISSING)],
    ("POST", "/plans/{ref}/publish"): [("/plans/2010/publish", PLAN_POST_MISSING)],
    ("POST", "/plans/{ref}/revise"): [("/plans/2010/revise", PLAN_POST_MISSING)],
    ("POST", "/plans/{ref}/comment"): [("/plans/2010/comment", COMMENT_POST_MISSING)],
    ("POST", "/plans/{ref}/answer"): [("/plans/2010/answer", PLAN_POST)],
    ("GET", "/plans/{ref}/whatif"): [("/plans/2010/whatif", BUREAU_MISSING)],
    ("GET", "/plans/{ref}/lint"): [("/plans/2010/lint", BUREAU_MISSING)],
    ("GET", "/api/plans"): [("/api/plans", SIGNED_API)],
    ("GET", "/api/plans/{ref}"): [("/api/plans/2010", SIGNED_API_MISSING)],
    ("POST", "/api/plans/{ref}/validate"): [("/api/plans/2010/validate", VALIDATE_POST)],
}
#: a concrete URL of every unsafe route of the entry, records and administration pages
WORKFLOW_POSTS = ["/entry/new/inspection", "/entry/new/inspection/upload",
                  "/entry/uploads/no-such-upload-token-000/confirm",
                  "/entry/uploads/no-such-upload-token-000/cancel", "/entry/entries/1/withdraw",
                  "/entry/batches/no-such-batch/withdraw", "/records/lock", "/records/unlock/1", "/records/publish",
                  "/admin/users", "/admin/users/nobody/disable", "/admin/users/nobody/enable",
                  "/admin/users/nobody/password", "/admin/users/nobody/unit", "/admin/users/nobody/role",
                  "/plans/new", "/plans/upload", "/plans/2010/save", "/plans/2010/submit", "/plans/2010/approve",
                  "/plans/2010/publish", "/plans/2010/revise", "/plans/2010/comment", "/plans/2010/answer",
                  "/api/plans/2010/validate"]


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, APIRoute) or hasattr(route, "methods"):
            found |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return found


def test_every_route_is_in_the_matrix(web_app):
    assert _routes(web_app) == set(MATRIX)


def test_route_role_matrix_has_no_wrong_allow(client_for):
    wrong = []
    for role in ROLES:
        client = client_for(None if role == "anonymous" else role)
        token = csrf_of(client) if role != "anonymous" else ""
        for (method, _), cases in MATRIX.items():
            for url, expected in cases:
                if method == "POST":
                    response = client.post(url, data={"csrf": token, "user": "nobody"}, follow_redirects=False)
                else:
                    response = client.get(url, follow_redirects=False)
                want = expected[role]
                if want == "login":
                    ok = response.status_code == 303 and response.headers["location"].startswith("/login?next=")
                else:
                    ok = response.status_code == want
                if not ok:
                    wrong.append(f"{role} {method} {url}: {response.status_code}, expected {want}")
    assert wrong == []


def test_branch_sees_only_its_own_warnings(client_for):
    rows = client_for(BRANCH).get("/api/warnings").json()["rows"]
    assert {r["code"] for r in rows} <= {OWN}
    everyone = client_for("admin").get("/api/warnings").json()["rows"]
    assert len({r["code"] for r in everyone}) > 1


@pytest.mark.parametrize("path", ["/admin/sessions/revoke", "/admin/run", "/logout", "/login", *WORKFLOW_POSTS])
def test_every_post_without_a_csrf_token_is_refused(client_for, path):
    client = client_for("admin")
    for data in ({}, {"csrf": "forged"}):
        response = client.post(path, data={**data, "user": "admin", "name": "admin", "password": "x"},
                               follow_redirects=False)
        assert response.status_code == 403, (path, data)
        assert "CSRF" in response.text
    assert client.get("/api/me").status_code == 200  # still signed in: nothing was done


def test_every_unsafe_route_is_in_the_csrf_test(web_app):
    unsafe = {path for method, path in _routes(web_app) if method not in ("GET", "HEAD")}
    workflow = {route.path for route in web_app.routes if getattr(route, "methods", None) == {"POST"}
                and any(route.path_regex.match(url) for url in WORKFLOW_POSTS)}
    assert unsafe == {"/admin/sessions/revoke", "/admin/run", "/logout", "/login"} | workflow


def test_csrf_header_is_accepted_instead_of_the_form_field(client_for):
    client = client_for("admin")
    response = client.post("/admin/sessions/revoke", data={"user": "nobody-at-all"},
                           headers={"X-CSRF-Token": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303


def test_script_in_names_is_rendered_inert(web_home, tmp_path, accounts):
    copy = tmp_path / "xss.sqlite"
    with sqlite3.connect(web_home["home"] / "jx.sqlite") as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the WAL's commits too
    evil = "<script>alert(1)</script>"
    app = create_app(scheme="guangdong", period=2010, db=f"sqlite:///{copy}")
    store = app.state.web.store
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE run_units SET name = :n WHERE code = 'humen'"), {"n": evil})
    add_user(store, evil, role="viewer", by="admin")
    auth.set_password(store, evil, "evil-password-1", by="admin")
    with TestClient(app) as client:
        assert login(client, evil, "evil-password-1").status_code == 303
        for path in ("/", "/units/humen", "/units/humen/explain", "/compare", "/commendations", "/warnings"):
            page = client.get(path).text
            assert evil not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/").text
        assert client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_sign_in_gives_a_new_session_id_and_ends_the_old_one(client_for, accounts):
    client = client_for("admin")
    first = client.cookies["jx_session"]
    assert login(client, "inspector", accounts["inspector"]).status_code == 303
    second = client.cookies["jx_session"]
    assert second != first
    stale = TestClient(client.app, cookies={"jx_session": first})
    assert stale.get("/api/me").status_code == 401
    assert client.get("/api/me").json()["name"] == "inspector"


def test_a_session_id_planted_before_sign_in_is_not_adopted(web_app, client_for, accounts):
    """An attacker's own live session id, planted in the victim's browser, ends at the victim's
    sign-in; the victim gets a new id, so the attacker never rides the victim's account."""
    planted = client_for(BRANCH).cookies["jx_session"]
    victim = TestClient(web_app, cookies={"jx_session": planted})
    response = login(victim, "admin", accounts["admin"])
    assert response.status_code == 303
    assert response.cookies["jx_session"] != planted
    assert TestClient(web_app, cookies={"jx_session": planted}).get("/api/me").status_code == 401


def test_sign_out_ends_the_session(client_for):
    client = client_for("clerk-djk")
    cookie = client.cookies["jx_session"]
    response = client.post("/logout", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    replay = TestClient(client.app, cookies={"jx_session": cookie})
    assert replay.get("/api/me").status_code == 401
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_cookie_flags(web_app, accounts):
    client = TestClient(web_app)
    response = login(client, "admin", accounts["admin"])
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    secure = TestClient(web_app, base_url="https://testserver")
    cookie = login(secure, "admin", accounts["admin"]).headers["set-cookie"]
    assert "Secure" in cookie


def test_throttling_per_account_then_the_right_password_is_refused_too(web_app, accounts):
    client = TestClient(web_app)
    for _ in range(3):  # the test policy: 3 failures per account
        assert login(client, "clerk-jck", "wrong password").status_code == 401
    response = login(client, "clerk-jck", accounts["clerk-jck"])
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text
    assert login(client, "clerk-fzk", accounts["clerk-fzk"]).status_code == 303  # other accounts unaffected


def test_throttling_holds_across_worker_processes(web_home, accounts):
    """Two apps on the same store (two workers): failures counted by one refuse at the other."""
    policy = auth.Policy(account_failures=2, address_failures=100)
    one = TestClient(create_app(scheme="guangdong", period=2010, db=web_home["db"], policy=policy))
    two = TestClient(create_app(scheme="guangdong", period=2010, db=web_home["db"], policy=policy))
    for _ in range(2):
        assert login(one, "clerk-sck", "wrong password").status_code == 401
    assert login(two, "clerk-sck", accounts["clerk-sck"]).status_code == 429


def test_throttling_per_address(web_app, accounts):
    client = TestClient(web_app, client=("10.9.8.7", 5000))
    names = [n for n in accounts if n.startswith("branch-")][-6:]
    for name in names:  # the test policy: 6 failures per address, each account below its own limit
        assert login(client, name, "wrong password").status_code == 401
    assert login(client, "admin", accounts["admin"]).status_code == 429
    other = TestClient(web_app, client=("10.9.8.8", 5000))
    assert login(other, "admin", accounts["admin"]).status_code == 303


def test_unknown_user_and_wrong_password_read_the_same(web_app):
    client = TestClient(web_app, client=("10.1.1.1", 1))
    a = login(client, "no-such-user", "whatever")
    b = login(client, "admin", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert "用户名或密码错误" in a.text and "用户名或密码错误" in b.text


def test_sign_in_redirects_only_to_this_site(web_app, accounts):
    client = TestClient(web_app)
    form = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text
    client.close()


def test_admin_run_now_stores_a_run_the_leaderboard_shows(client_for):
    client = client_for("admin")
    before = client.get("/api/latest").json()["run_id"]
    response = client.post("/admin/run", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303
    after = client.get("/api/latest").json()["run_id"]
    assert after != before
    assert client.get("/api/leaderboard").json()["run_id"] == after
