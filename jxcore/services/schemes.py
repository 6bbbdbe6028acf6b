"""Opening a scheme: an installed pack by name, or a pack directory / scheme.yaml by path."""

from __future__ import annotations

import os
from pathlib import Path

from jxcore.errors import UsageError
from jxcore.models import Scheme
from jxcore.plugins import Registry


def pack_path(registry: Registry, name_or_path: str) -> Path:
    """The pack directory of an installed scheme's name, or the given path if it exists."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        raise UsageError(f"no scheme pack at {name_or_path}",
                         hint="give an installed scheme's name or an existing path")
    return registry.scheme_pack(name_or_path).path


def open_scheme(registry: Registry, name_or_path: str, period: int | None = None) -> Scheme:
    """The checked plan of ``period`` (default the latest) of a scheme given by name or path.

    Every problem of the plan is raised at once as a SchemeError (file:line: node: what).
    """
    from jxcore.scheme import load_scheme

    return load_scheme(pack_path(registry, name_or_path), period, registry)


def installed_plan(registry: Registry, scheme_name: str, period: int | None) -> Scheme | None:
    """The installed pack's plan of ``period`` (None if the pack or the year is not installed, or broken)."""
    from jxcore.errors import JxError

    if scheme_name not in registry.schemes:
        return None
    try:
        return open_scheme(registry, scheme_name, period)
    except JxError:
        return None
