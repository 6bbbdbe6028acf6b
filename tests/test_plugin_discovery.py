"""Plugins and scheme packs are found through real entry points, like a province's own would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "jx-toy"
version = "4.5.6"
dependencies = []

[project.entry-points.jx]
toy = "jx_toy.plugin"

[project.entry-points."jx.schemes"]
toyland = "jx_toy.pack"

[tool.setuptools.packages.find]
include = ["jx_toy*"]

[tool.setuptools.package-data]
jx_toy = ["scheme/*.yaml", "scheme/plans/*.yaml"]
"""

TOY_PLUGIN = '''
import numpy as np
from jxcore import hookimpl
from jxcore.models import Measure
from jxcore.params import Param


class Doubled:
    """Score = 2 x the value, in points."""
    name = "toy_doubled"
    description = "twice the value"
    params = ()

    def score(self, inp):
        return (inp.measure.value * 2000).astype(np.int64)


class Staff:
    """The unit's staff as the value."""
    name = "toy_staff"
    description = "staff count"
    params = (Param("plus", "number", "added to the staff", default=0),)

    def collect(self, ctx, requests):
        return {r.node.code: Measure(r.node.code, ctx.units.staff.astype(float) + r.params["plus"])
                for r in requests}


@hookimpl
def jx_register_rules(register):
    register(Doubled())


@hookimpl
def jx_register_collectors(register):
    register(Staff())
'''

TOY_PACK = '''
from pathlib import Path
from jxcore import hookimpl
from jxcore.interfaces import SchemePack


@hookimpl
def jx_register_schemes(register):
    register(SchemePack("toyland", Path(__file__).parent / "scheme", "Toy land"))
'''

TOY_SCHEME = "name: toyland\ntitle: Toy land\nunits: units.yaml\n"
TOY_UNITS = """units:
  - {code: a, name: Alpha, staff: 3, entities: 100}
  - {code: b, name: Beta, staff: 5, entities: 200}
  - {code: c, name: Gamma, staff: 4, entities: 300}
"""
TOY_PLAN = """period: 2010
scale: 100
nodes:
  - code: I
    name: only item
    points: 100
    children:
      - code: I.1
        name: staff doubled
        points: 100
        rule: toy_doubled
        collector: {name: toy_staff, params: {plus: 1}}
"""


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory) -> Path:
    """Install a throwaway plugin distribution (pip, from a source tree) into its own directory."""
    src = tmp_path_factory.mktemp("jx-toy-src")
    (src / "pyproject.toml").write_text(TOY_PYPROJECT)
    pkg = src / "jx_toy"
    (pkg / "scheme" / "plans").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(TOY_PLUGIN)
    (pkg / "pack.py").write_text(TOY_PACK)
    (pkg / "scheme" / "scheme.yaml").write_text(TOY_SCHEME)
    (pkg / "scheme" / "units.yaml").write_text(TOY_UNITS)
    (pkg / "scheme" / "plans" / "2010.yaml").write_text(TOY_PLAN)
    site = tmp_path_factory.mktemp("jx-toy-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True)
    return site


def jx(site: Path, *args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(site), "JX_HOME": str(tmp_path / "home"), **env}
    code = "import sys; from jxcore.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=environ)


def test_installed_plugin_is_listed_with_its_distribution(toy_site, tmp_path):
    proc = jx(toy_site, "plugins", "--json", "--load", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["toy"]["distribution"] == "jx-toy"
    assert rows["toy"]["version"] == "4.5.6"
    assert rows["toy"]["rules"] == ["toy_doubled"]
    assert rows["toy"]["collectors"] == ["toy_staff"]
    assert rows["toyland"]["schemes"] == ["toyland"]
    # the standard plugins arrive the same way
    assert rows["rules"]["distribution"] == "jx-rules"


def test_installed_scheme_pack_is_listed(toy_site, tmp_path):
    proc = jx(toy_site, "schemes", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "toyland" in proc.stdout and "2010" in proc.stdout


def test_installed_plugin_is_used_in_a_run(toy_site, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    proc = jx(toy_site, "run", "--scheme", "toyland", "--json", "--db", db, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # staff + 1, doubled: Alpha (3+1)*2 = 8, Beta 12, Gamma 10
    assert [(u["code"], u["total"], u["rank"]) for u in doc["units"]] == [("b", 12, 1), ("c", 10, 2), ("a", 8, 3)]
    assert doc["units"][0]["items"] == {"I": 12}
    assert doc["scheme"] == "toyland" and doc["period"] == 2010 and doc["as_of"] == "2010-12-31"
    assert doc["run_id"]


def test_blocked_plugin_is_not_loaded(toy_site, tmp_path):
    proc = jx(toy_site, "plugins", "--json", tmp_path=tmp_path, JX_BLOCK_PLUGINS="toy")
    names = {row["name"] for row in json.loads(proc.stdout)}
    assert "toy" not in names and "toyland" in names


def test_autoload_switch_loads_only_named_plugins(toy_site, tmp_path):
    proc = jx(toy_site, "plugins", "--json", tmp_path=tmp_path,
              JX_DISABLE_PLUGIN_AUTOLOAD="1", JX_PLUGINS="jx_toy.plugin")
    names = {row["name"] for row in json.loads(proc.stdout)}
    assert names == {"jx_toy.plugin"}


def fake_dist(site: Path, dist_name: str, version: str, plugins: dict[str, str]) -> Path:
    """An installed distribution written by hand: entry point NAME -> module jx_NAME_plugin (source given)."""
    info = site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[jx]\n" + "".join(f"{n} = jx_{n}_plugin\n" for n in plugins))
    for name, source in plugins.items():
        (site / f"jx_{name}_plugin.py").write_text(source)
    return site


def test_broken_plugin_is_reported_by_name_and_version_and_help_still_works(tmp_path):
    site = fake_dist(tmp_path / "site", "jx-broken", "0.9.1",
                     {"broken": "raise RuntimeError('boom at import')\n"})
    proc = jx(site, "--help", tmp_path=tmp_path)  # imports no plugin (tests/test_startup.py)
    assert proc.returncode == 0
    assert "Commands:" in proc.stdout and "run" in proc.stdout
    proc = jx(site, "schemes", tmp_path=tmp_path)  # a command that loads the plugins
    assert proc.returncode == 0
    assert "plugin 'broken' (jx-broken 0.9.1) failed to load: RuntimeError: boom at import" in proc.stderr
    listed = jx(site, "plugins", "--json", "--load", tmp_path=tmp_path)
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["broken"]["error"] == "RuntimeError: boom at import"
    assert rows["broken"]["version"] == "0.9.1"


def test_plugin_commands_are_added_and_a_failing_one_is_reported(tmp_path):
    site = fake_dist(tmp_path / "site", "jx-cmds", "1.0", {"cmds": textwrap.dedent("""
        import click
        from jxcore import hookimpl

        @hookimpl
        def jx_register_commands(cli):
            @cli.command()
            @click.argument("name")
            def greet(name):
                click.echo(f"hello {name}")
    """), "badcmds": textwrap.dedent("""
        from jxcore import hookimpl

        @hookimpl
        def jx_register_commands(cli):
            raise ValueError("no commands today")
    """)})
    proc = jx(site, "greet", "world", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello world"
    assert "plugin 'badcmds' failed to add its commands: ValueError: no commands today" in proc.stderr
