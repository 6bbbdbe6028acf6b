"""The leaderboard shows the common figures the lecture names beside the scores (settings.web.figures)."""

from __future__ import annotations

import re

import attrs
import pytest

from jx_web import pages
from jxcore.errors import UsageError


def test_the_leaderboard_shows_the_plans_common_figures_for_every_unit(client_for, web_app):
    web = web_app.state.web
    scheme = web.catalog.scheme
    codes = pages.figure_codes(scheme)
    assert codes == ["DJZC.XL.ASBJ", "ZFBA.SL.RJBA", "SCJG.XC.RJXC"]
    page = client_for("admin").get("/").text
    header = re.search(r"<thead>.*?</thead>", page, re.DOTALL).group(0)
    assert [scheme.nodes[c].name for c in codes] == re.findall(r'<th class="figure">([^<]*)</th>', header)
    cells = re.findall(r'<td class="n figure">([^<]*)</td>', page)
    assert len(cells) == 3 * len(scheme.units)  # pinned rows come only for a branch account
    assert all(c.endswith("%") for c in cells[0::3]) and all(c and c != "—" for c in cells)
    doc = client_for("admin").get("/api/leaderboard").json()
    assert [f["code"] for f in doc["figures"]] == codes and len(doc["rows"][0]["figures"]) == 3


def test_a_figure_that_is_not_an_indicator_is_named():
    from jxcore.scheme import scheme_from_dict

    scheme = scheme_from_dict({"nodes": [{"code": "A", "name": "a", "points": 100, "rule": "x", "collector": "y"}]},
                             units=[{"code": "u", "name": "u"}])
    with pytest.raises(UsageError, match="settings.web.figures of .* names NOPE"):
        pages.figure_codes(attrs.evolve(scheme, settings={"web": {"figures": ["NOPE"]}}))
    assert pages.figure_codes(scheme) == []
