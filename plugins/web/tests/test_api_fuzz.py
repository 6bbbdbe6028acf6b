"""The JSON API fuzzed from its OpenAPI document (schemathesis): no request makes a 500, signed in
as an admin (sees everything) and as a branch account (refused most units)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from web_kit import BRANCH, login


def _cookie(web_app, name: str, password: str) -> str:
    from fastapi.testclient import TestClient

    with TestClient(web_app) as client:
        assert login(client, name, password).status_code == 303
        return client.cookies["jx_session"]


@pytest.fixture(scope="module")
def cookies(web_app, accounts) -> dict[str, str]:
    return {who: _cookie(web_app, who, accounts[who]) for who in ("admin", BRANCH)}


def test_openapi_document_lists_the_api(web_app):
    from fastapi.testclient import TestClient

    doc = TestClient(web_app).get("/api/openapi.json").json()
    assert {"/api/leaderboard", "/api/units/{code}", "/api/units/{code}/explain", "/api/warnings",
            "/api/compare", "/api/plans", "/api/plans/{ref}", "/api/plans/{ref}/validate"} <= set(doc["paths"])
    assert not [p for p in doc["paths"] if not p.startswith("/api/")]


def test_no_server_errors(web_app, cookies):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 14  # jx-web's thirteen and jx-evaluation's /api/evaluation
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case):
            for who in ("admin", BRANCH):
                case.call_and_validate(cookies={"jx_session": cookies[who]}, checks=[not_a_server_error])

        no_500()


@pytest.fixture(scope="module")
def plan_app(web_home, accounts, tmp_path_factory):
    """An app on a copy of the store with the pack's plans and a draft of 2011 (the plan API's cases)."""
    from entry_support import copied_app
    from jxcore.services import plans

    app = copied_app(web_home, tmp_path_factory.mktemp("plan-fuzz"))
    store, registry = app.state.web.store, app.state.web.registry
    plans.import_pack(store, registry, "guangdong", user="admin")
    plans.new_version(store, registry, "guangdong", 2011, source="2010", user="admin")
    return app


def test_the_plan_api_has_no_server_errors(plan_app, accounts):
    """/api/plans…: fuzzed documents sent to the validator of a real draft (with the session's CSRF
    token) and to stored versions, as an admin and a branch account: no 500."""
    import re

    from fastapi.testclient import TestClient

    sessions = {}
    for who in ("admin", BRANCH):
        with TestClient(plan_app) as client:
            assert login(client, who, accounts[who]).status_code == 303
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/plans").text).group(1)
            sessions[who] = (client.cookies["jx_session"], token)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", plan_app)
    operations = [result.ok() for result in schema.get_all_operations() if result.ok().path.startswith("/api/plans")]
    assert len(operations) == 3
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case):
            for ref in ("2011v1", "2010", case.path_parameters.get("ref")) if case.path_parameters else (None,):
                if ref is not None:
                    case.path_parameters = {**case.path_parameters, "ref": ref}
                for cookie, token in sessions.values():
                    case.call_and_validate(cookies={"jx_session": cookie}, headers={"X-CSRF-Token": token},
                                           checks=[not_a_server_error])

        no_500()
