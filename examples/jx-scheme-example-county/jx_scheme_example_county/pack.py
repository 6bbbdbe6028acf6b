"""The scheme pack's plugin (entry point ``example_county`` in group ``jx.schemes``).

It registers the pack directory and writes the demo database the first time a run opens it.
"""

from __future__ import annotations

from pathlib import Path

from jxcore import hookimpl
from jxcore.config import expand
from jxcore.interfaces import SchemePack

NAME = "example_county"
PACK_DIR = Path(__file__).parent / "scheme"
DEMO_URL = "sqlite:///{data_dir}/example-county-demo.sqlite"


@hookimpl
def jx_register_schemes(register):
    register(SchemePack(NAME, PACK_DIR, "安吉县工商局基层工商所绩效考核（示例）"))


@hookimpl
def jx_prepare_source(scheme, source):
    """Write the demo database on first use: only for this scheme's demo URL, never a real source."""
    if scheme.name != NAME or expand(source.url) != expand(DEMO_URL):
        return
    from jx_scheme_example_county import demo

    demo.ensure(Path(expand(source.url).removeprefix("sqlite:///")))
