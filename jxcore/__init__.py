"""jx core: hook specifications, models, scheme loading and checks, the engine, the store, the CLI.

The core knows no plugin by name: rules, collectors, outputs and scheme packs arrive through the
``jx`` and ``jx.schemes`` entry-point groups (see :func:`jxcore.plugins.get_plugin_manager`).
``jxcore.hookimpl`` is imported on first use, so ``import jxcore`` (and ``jx --help``) costs no pluggy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jxcore.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from jxcore.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'jxcore' has no attribute {name!r}")
