"""jx core: hook specifications, models, scheme loading and checks, the engine, the store, the CLI.

The core knows no plugin by name: rules, collectors, outputs and scheme packs arrive through the
``jx`` and ``jx.schemes`` entry-point groups (see :func:`jxcore.plugins.get_plugin_manager`).
"""

from jxcore.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
