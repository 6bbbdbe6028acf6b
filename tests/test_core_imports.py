"""jxcore knows no plugin by name: it imports none of the standard plugins or scheme packs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import jxcore

PLUGIN_PACKAGES = ("jx_rules", "jx_collectors", "jx_outputs", "jx_scheme_guangdong")


def test_no_jxcore_module_imports_a_plugin_package():
    offenders = []
    for path in Path(jxcore.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in PLUGIN_PACKAGES]
    assert offenders == []


def test_importing_every_jxcore_module_loads_no_plugin_package():
    modules = sorted(
        "jxcore." + ".".join(p.relative_to(Path(jxcore.__file__).parent).with_suffix("").parts)
        for p in Path(jxcore.__file__).parent.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {PLUGIN_PACKAGES!r}]\n"
        "print(loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_no_generic_top_level_package_names(tmp_path):
    """Nothing named `plugins` or `schemes` may land in site-packages (checked away from the repo)."""
    code = "import importlib.util as u; print([n for n in ('plugins', 'schemes') if u.find_spec(n)])"
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    assert proc.stdout.strip() == "[]"


def test_the_service_layer_loads_the_store_only_when_a_name_needs_it():
    """`jx validate` imports jxcore.services for open_scheme: that must not pull SQLAlchemy in."""
    code = (
        "import sys, jxcore.services as s\n"
        "before = 'sqlalchemy' in sys.modules\n"
        "from jxcore.services import open_scheme, schemes\n"
        "cheap = 'sqlalchemy' in sys.modules\n"
        "from jxcore.services import import_file, RunView, plans\n"
        "print(before, cheap, 'sqlalchemy' in sys.modules, sorted(s.__all__) == sorted(s._HOME_OF))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "False", "True", "True"]
