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
            "/api/compare"} <= set(doc["paths"])
    assert not [p for p in doc["paths"] if not p.startswith("/api/")]


def test_no_server_errors(web_app, cookies):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11  # jx-web's ten and jx-evaluation's /api/evaluation
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_500(case):
            for who in ("admin", BRANCH):
                case.call_and_validate(cookies={"jx_session": cookies[who]}, checks=[not_a_server_error])

        no_500()
