"""docs/evaluation.md stays true: its settings example passes the checks, its functions exist."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import yaml

from jx_evaluation import analysis
from jx_evaluation.settings import EVALUATION_SETTINGS, evaluation_settings
from jxcore.scheme import load_scheme
from jxcore.testing import installed_registry

DOC = Path(__file__).parents[3] / "docs" / "evaluation.md"


def test_the_settings_example_is_valid_for_guangdong_2010_and_names_every_setting():
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    written = yaml.safe_load(block)["settings"]["evaluation"]
    assert set(written) == {p.name for p in EVALUATION_SETTINGS}
    registry = installed_registry()
    plan = load_scheme(registry.scheme_pack("guangdong").path, 2010, registry)
    opts = evaluation_settings(attrs.evolve(plan, settings={**plan.settings, "evaluation": written}))
    defaults = {p.name: p.default for p in EVALUATION_SETTINGS}
    assert {k: v for k, v in opts.items() if k not in ("ranges", "size_classes", "workload")} == \
        {k: v for k, v in defaults.items() if k not in ("ranges", "size_classes", "workload")}


def test_every_function_in_the_api_table_exists():
    text = DOC.read_text(encoding="utf-8")
    api = text[text.index("## Python API"):text.index("## Speed")]
    rows = [line.split(" | ")[0] for line in api.splitlines() if line.startswith("| `")]
    names = [name for row in rows for name in re.findall(r"`(\w+)\(", row)]
    assert len(names) >= 10
    assert [n for n in names if not callable(getattr(analysis, n, None))] == []
