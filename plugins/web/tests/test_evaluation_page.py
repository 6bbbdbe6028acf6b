"""jx-evaluation's pages in jx serve (added through jx_web_register_routes): each year-end decision
with its robustness beside it, rank intervals, size against score, nominal against effective weights."""

from __future__ import annotations

import re


def test_the_evaluation_page_shows_decisions_with_their_robustness_and_the_charts(client_for, web_app):
    web = web_app.state.web
    page = client_for("admin").get("/evaluation")
    assert page.status_code == 200
    assert 'id="nav-evaluation"' in page.text  # the nav links to it for bureau accounts
    table = re.search(r'<table id="decisions">.*?</table>', page.text, re.DOTALL).group(0)
    # every decision (the top 10 commended at least) shows its share of variations and whether it is robust
    rows = re.findall(r"<tr class=\"(robust|fragile)\">.*?<td class=\"n\">(\d+)%</td><td>([✓✗])</td>",
                      table, re.DOTALL)
    assert len(rows) >= 10 and all((cls == "robust") == (mark == "✓") for cls, _, mark in rows)
    intervals = re.search(r'<svg id="rank-intervals".*?</svg>', page.text, re.DOTALL).group(0)
    assert intervals.count("<line") == len(web.catalog.scheme.units)  # one interval per unit
    assert re.search(r'<svg id="size-scatter".*?</svg>', page.text, re.DOTALL).group(0).count("<circle") == 33
    weights = re.search(r'<svg id="weights".*?</svg>', page.text, re.DOTALL).group(0)
    assert weights.count("<rect") == 2 * len(web.catalog.scheme.items())


def test_the_evaluation_api_is_the_jx_evaluate_document_and_branches_cannot_see_it(client_for, accounts):
    doc = client_for("admin").get("/api/evaluation").json()
    assert doc["scheme"] == "guangdong" and doc["period"] == 2010 and doc["tables"]
    branch = next(name for name in accounts if name.startswith("branch-"))
    assert client_for(branch).get("/api/evaluation").status_code == 403
    assert 'id="nav-evaluation"' not in client_for(branch).get("/").text
