"""The plugin manager factory and the registry of what plugins provide.

Standard plugins arrive through entry points exactly like a province's own: group ``jx`` for code
plugins, group ``jx.schemes`` for scheme packs. Switches:

- ``JX_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points; only plugins named in ``JX_PLUGINS``
  (comma-separated module names) or passed to :func:`get_plugin_manager` are used.
- ``JX_BLOCK_PLUGINS=name,name``: never load the plugins with these entry-point names.

A plugin that fails to import is recorded (name, distribution, version, error) and skipped, so
``jx --help`` and every other plugin still work.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from typing import Any, cast

import attrs
import pluggy

from jxcore import hookspecs
from jxcore.errors import PluginError, UsageError
from jxcore.interfaces import Collector, Output, Rule, SchemePack


@attrs.frozen
class PluginInfo:
    """A loaded (or failed) plugin: its name, where it came from, and the error if it failed."""

    name: str
    group: str
    module: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None


class JxPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from and which failed to load."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginInfo] = []

    def load_entry_points(self, block: Iterable[str] = ()) -> None:
        """Import and register every plugin entry point (groups ``jx`` then ``jx.schemes``, by name),
        as read by :func:`jxcore.plugin_meta.plugins` (the entry points importlib.metadata finds,
        read in a fraction of its time)."""
        from jxcore.plugin_meta import load, plugins

        blocked = set(block)
        for declared in plugins():
            if declared.name in blocked or self.is_registered_name(declared.name):
                continue
            info = PluginInfo(name=declared.name, group=declared.group, module=declared.module,
                              distribution=declared.distribution, version=declared.version)
            try:
                self.register(load(declared.module), name=declared.name)
            except Exception as exc:  # a broken plugin must not take jx down
                self.failures.append(attrs.evolve(info, error=f"{type(exc).__name__}: {exc}"))
                continue
            self.infos[declared.name] = info

    def load_modules(self, modules: Iterable[str]) -> None:
        for module_name in modules:
            module_name = module_name.strip()
            if not module_name or self.is_registered_name(module_name):
                continue
            info = PluginInfo(name=module_name, group="JX_PLUGINS", module=module_name)
            try:
                self.register(importlib.import_module(module_name), name=module_name)
            except Exception as exc:
                self.failures.append(attrs.evolve(info, error=f"{type(exc).__name__}: {exc}"))
                continue
            self.infos[module_name] = info

    def is_registered_name(self, name: str) -> bool:
        return self.get_plugin(name) is not None


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def get_plugin_manager(*, autoload: bool | None = None, block: Iterable[str] = (),
                       plugins: Iterable[object] = ()) -> JxPluginManager:
    """Build a plugin manager: entry-point plugins (unless disabled), then ``plugins``.

    ``plugins`` are extra plugin objects (modules, classes, instances) registered by hand, as a
    test or an embedding application does.
    """
    pm = JxPluginManager()
    if autoload is None:
        autoload = os.environ.get("JX_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
    blocked = set(block) | set(_env_list("JX_BLOCK_PLUGINS"))
    if autoload:
        pm.load_entry_points(block=blocked)
    pm.load_modules(m for m in _env_list("JX_PLUGINS") if m not in blocked)
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{id(plugin):x}"
        pm.register(plugin, name=name)
        pm.infos[name] = PluginInfo(name=name, group="manual", module=getattr(plugin, "__module__", name))
    pm.check_pending()
    return pm


@attrs.define
class Registered:
    """One registered object and the plugin that registered it."""

    obj: Any
    plugin: str


@attrs.define
class Registry:
    """Rules, collectors, outputs and scheme packs by name, each with the plugin that gave it."""

    rules: dict[str, Registered] = attrs.field(factory=dict)
    collectors: dict[str, Registered] = attrs.field(factory=dict)
    outputs: dict[str, Registered] = attrs.field(factory=dict)
    schemes: dict[str, Registered] = attrs.field(factory=dict)
    pm: JxPluginManager | None = None

    KINDS = {
        "rules": ("jx_register_rules", Rule, "rule"),
        "collectors": ("jx_register_collectors", Collector, "collector"),
        "outputs": ("jx_register_outputs", Output, "output"),
        "schemes": ("jx_register_schemes", SchemePack, "scheme pack"),
    }

    @classmethod
    def from_plugin_manager(cls, pm: JxPluginManager) -> "Registry":
        """Call every register hook, attributing each object to the plugin that registered it."""
        registry = cls(pm=pm)
        for attr, (hook_name, proto, label) in cls.KINDS.items():
            table = getattr(registry, attr)
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                impl.function(register=_registrar(table, proto, label, impl.plugin_name))
        return registry

    def rule(self, name: str) -> Rule:
        return self._get(self.rules, name, "rule").obj

    def collector(self, name: str) -> Collector:
        return self._get(self.collectors, name, "collector").obj

    def output(self, name: str) -> Output:
        return self._get(self.outputs, name, "output").obj

    def scheme_pack(self, name: str) -> SchemePack:
        return self._get(self.schemes, name, "scheme").obj

    def _get(self, table: dict[str, Registered], name: str, label: str) -> Registered:
        try:
            return table[name]
        except KeyError:
            known = ", ".join(sorted(table)) or "none"
            hint = f"the installed {label}s are: {known}"
            failed = self.pm.failures if self.pm else []
            if failed:
                hint += "; plugins that failed to load: " + ", ".join(f.name for f in failed)
            raise UsageError(f"unknown {label} {name!r}", hint=hint) from None


def _registrar(table: dict[str, Registered], proto: type, label: str, plugin: str) -> Callable[[Any], None]:
    def register(obj: Any) -> None:
        if not isinstance(obj, proto):
            raise PluginError(f"plugin {plugin!r} registered {obj!r}, which is not a {label}",
                              hint=f"a {label} must provide what jxcore.interfaces.{proto.__name__} lists")
        name = cast(Any, obj).name  # the protocol check above guarantees it
        if name in table:
            raise PluginError(
                f"{label} {name!r} is registered twice: by plugin {table[name].plugin!r} and by {plugin!r}",
                hint="rename one of them, or block one plugin with JX_BLOCK_PLUGINS")
        table[name] = Registered(obj, plugin)
    return register
