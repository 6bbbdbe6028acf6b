"""The example third-party pack (examples/jx-scheme-example-county), installed with pip and run end to end.

The proof that a province needs no fork of the core: a distribution of its own, with a scheme pack
and a rule none of the standard plugins has, installed into a directory of its own (never into the
project's venv) and found through entry points. Its own tests run here, against the installed copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "jx-scheme-example-county"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, Path]:
    """(site, source copy): pip installs a copy, so no build files land in the repository."""
    src = tmp_path_factory.mktemp("example-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    site = tmp_path_factory.mktemp("example-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True)
    return site, src


def run(site: Path, *args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JX_DATABASE_URL", "EXAMPLE_COUNTY_SOURCE_URL")}
    env.update(PYTHONPATH=str(site), JX_HOME=str(home))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd)


def jx(site: Path, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    code = "import sys; from jxcore.cli import main; sys.exit(main())"
    return run(site, "-c", code, *args, home=tmp_path / "home", cwd=tmp_path)


def test_the_example_is_not_installed_in_the_project(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import jx_scheme_example_county"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr


def test_installed_pack_validates(example, tmp_path):
    proc = jx(example[0], "validate", "--scheme", "example_county", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok: scheme example_county: plans 2011, 2012 are valid"


def test_its_rule_is_listed_with_its_distribution(example, tmp_path):
    proc = jx(example[0], "plugins", "--json", "--load", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["example_county_rules"]["distribution"] == "jx-scheme-example-county"
    assert rows["example_county_rules"]["version"] == "2012.1"
    assert rows["example_county_rules"]["rules"] == ["efficacy_coefficient"]
    assert rows["example_county"]["schemes"] == ["example_county"]
    assert "efficacy_coefficient" not in rows["rules"]["rules"]  # none of the standard rules


def test_run_scores_the_demo_data_as_worked_out_by_hand(example, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    proc = jx(example[0], "run", "--scheme", "example_county", "--json", "--db", db, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["scheme"], doc["period"], doc["as_of"]) == ("example_county", 2012, "2012-12-31")
    units = {u["code"]: u for u in doc["units"]}
    # 孝丰: 19/20 registrations in time (5 steps above 0.9, bonus capped at 2): 22; 32 cases / 8 staff
    # = 4 per head between the worst 2 and the best 6: 20 × (0.6 + 0.4 × 2/4) = 16; 30/32 closed in
    # time: 22; 144 patrols / 36 hundred entities = 4 between 1 and 5: 18; all complaints on time: 20.
    assert units["xiaofeng"]["items"] == {"DJ": 22, "ZF": 38, "SC": 38}
    assert (units["xiaofeng"]["total"], units["xiaofeng"]["rank"]) == (98, 1)
    # 章村: 3/4 in time, 15 steps below: 0 (扣完为止); 12/3 = 4 per head: 16; 11/12 closed in time:
    # 20 + 1.667; 24 / 8 = 3 patrols per 100 entities: 16; all complaints on time: 20.
    assert units["zhangcun"]["items"] == {"DJ": 0, "ZF": 37.667, "SC": 36}
    assert (units["zhangcun"]["total"], units["zhangcun"]["rank"]) == (73.667, 6)
    assert [u["code"] for u in doc["units"]] == [
        "xiaofeng", "dipu", "baofu", "meixi", "hanggai", "zhangcun", "xilong", "tianhuangping"]
    assert (tmp_path / "home" / "data" / "example-county-demo.sqlite").exists()


def test_the_packs_own_tests_pass_against_the_installed_copy(example, tmp_path):
    site, src = example
    proc = run(site, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(src / "tests"),
               home=tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "18 passed" in proc.stdout  # 12 table cases, 2 rule tests, 4 pack tests
