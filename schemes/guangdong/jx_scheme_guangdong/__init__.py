"""The guangdong scheme pack: Dongguan's appraisal of its 33 branches (entry-point group jx.schemes).

The pack is data (``scheme/``: scheme.yaml, units.yaml, plans/<year>.yaml) plus this plugin, which
registers the pack and generates the demo business database on first use.
"""

from __future__ import annotations

from pathlib import Path

from jxcore import hookimpl
from jxcore.config import expand
from jxcore.interfaces import SchemePack

PACK_DIR = Path(__file__).parent / "scheme"
DEMO_URL = "duckdb:///{data_dir}/guangdong-demo.duckdb"


@hookimpl
def jx_register_schemes(register):
    register(SchemePack("guangdong", PACK_DIR, "东莞市工商局基层单位绩效考核"))


@hookimpl
def jx_prepare_source(scheme, source):
    """Generate the demo database the first time a run reads it (only the demo URL, never a real one)."""
    if scheme.name != "guangdong" or expand(source.url) != expand(DEMO_URL):
        return
    from jx_scheme_guangdong import demo

    demo.ensure(Path(expand(source.url).removeprefix("duckdb:///")), scheme.units)
