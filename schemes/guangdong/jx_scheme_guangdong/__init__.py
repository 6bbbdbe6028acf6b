"""The guangdong scheme pack: Dongguan's appraisal of its 33 branches (entry-point group jx.schemes).

The pack is data (``scheme/``: scheme.yaml, units.yaml, plans/<year>.yaml) plus this plugin, which
registers the pack, generates the demo business database on first use and, at the start of a run
on the demo source, imports that year's demo manual files into an empty store.
"""

from __future__ import annotations

from pathlib import Path

from jxcore import hookimpl
from jxcore.config import expand
from jxcore.interfaces import SchemePack

PACK_DIR = Path(__file__).parent / "scheme"
DEMO_URL = "duckdb:///{data_dir}/guangdong-demo.duckdb"
MANUAL_DIR = "guangdong-demo"  # under JX_HOME/data: the demo manual files, one directory per year


def _on_demo(scheme, source) -> bool:
    return scheme.name == "guangdong" and source is not None and source.url == expand(DEMO_URL)


@hookimpl
def jx_register_schemes(register):
    register(SchemePack("guangdong", PACK_DIR, "东莞市工商局基层单位绩效考核"))


@hookimpl
def jx_prepare_source(scheme, source):
    """Generate the demo database the first time a run reads it (only the demo URL, never a real one)."""
    if not _on_demo(scheme, source):
        return
    from jx_scheme_guangdong import demo

    demo.ensure(Path(source.url.removeprefix("duckdb:///")), scheme.units)


@hookimpl
def jx_run_started(run, scheme, store):
    """On the demo source, import the period's demo manual files if the store has no entries for it yet."""
    if store is None or not _on_demo(scheme, scheme.sources.get("business")):
        return
    if store.has_entries(scheme.name, run.period):
        return
    from jxcore.records import get_user, users

    if users(store) and get_user(store, "demo") is None:  # a bureau's store: its people enter the data
        return
    from jx_scheme_guangdong import manual
    from jxcore.config import data_dir

    manual.import_year(store, scheme, data_dir() / MANUAL_DIR)
