"""The plugin-author kit (jxcore.testing): score_rule, case files, and their pytest collection."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy as np
import pytest

from jxcore.errors import PluginError, SchemeError, UsageError
from jxcore.params import Param
from jxcore.testing import CaseFailure, make_units, run_rule_cases, score_rule


def test_make_units_gives_codes_staff_and_entities():
    units = make_units(3, staff=[5, 6, 7])
    assert units.codes.tolist() == ["u1", "u2", "u3"]
    assert units.staff.tolist() == [5, 6, 7]
    assert make_units([{"code": "humen", "entities": 50000}]).entities.tolist() == [50000]


def test_score_rule_names_the_installed_rules_when_unknown():
    with pytest.raises(UsageError, match="base_score"):
        score_rule("no_such_rule", points=1, value=[1])


def test_score_rule_reports_every_bad_parameter_at_once():
    with pytest.raises(SchemeError) as info:
        score_rule("base_score", points=10, value=[1], params={"cap": -1, "steps": "some", "x": 1})
    # cap below 0, steps not a choice, unknown x, missing target and per_step_below
    assert len(info.value.problems) == 5
    assert all(p.location.node == "T.IND" for p in info.value.problems)


class Broken:
    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "returns floats"
    params: ClassVar[tuple[Param, ...]] = ()

    def score(self, inp):
        return np.zeros(len(inp.units))


def test_a_rule_returning_floats_is_a_plugin_error():
    with pytest.raises(PluginError, match="int64"):
        score_rule(Broken(), points=1, value=[1, 2])


def test_run_rule_cases_lists_unit_expected_and_got(tmp_path):
    path = tmp_path / "x.rulecases.yaml"
    path.write_text(textwrap.dedent("""\
        cases:
          - name: wrong on purpose
            rule: deduct_only
            points: 5
            params: {target: 10, step: 1, per_step_below: 1}
            value: [10, 8]
            expect: [5, 4]
          - name: right
            rule: deduct_only
            points: 5
            params: {target: 10, step: 1, per_step_below: 1}
            value: [7]
            expect: [2]
        """), encoding="utf-8")
    with pytest.raises(CaseFailure) as info:
        run_rule_cases(path)
    text = str(info.value)
    assert "1 of 2 cases failed" in text
    assert "wrong on purpose" in text and "unit u2: expected 4, got 3" in text


def test_case_files_are_collected_by_pytest(tmp_path):
    (tmp_path / "demo.rulecases.yaml").write_text(textwrap.dedent("""\
        defaults: {rule: honours, points: 5, units: 2}
        cases:
          - name: national beats town
            events: [{unit: u1, kind: town}, {unit: u1, kind: national}]
            expect: [5, 0]
          - name: a deliberately wrong expectation
            events: [{unit: u2, kind: city}]
            expect: [0, 3]
        """), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-q", "-p", "no:cacheprovider",
                          "-rf"], capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "unit u2: expected 3, got 2" in run.stdout
