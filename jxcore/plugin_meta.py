"""What the installed plugins declare, read from distribution metadata without importing them.

``jx --help`` and ``jx plugins`` are answered from here: the plugin entry points (groups ``jx`` and
``jx.schemes``) and the commands plugins declare in the ``jx.commands`` group (entry-point name =
command name, value = ``module:click_command``). Nothing here imports a plugin, pluggy, attrs or
numpy; the command modules are imported by :mod:`jxcore.cli` only when their command runs.

The same switches as :func:`jxcore.plugins.get_plugin_manager` apply: with
``JX_DISABLE_PLUGIN_AUTOLOAD=1`` only the commands of the distributions whose plugin modules
``JX_PLUGINS`` names are used, and ``JX_BLOCK_PLUGINS=name,…`` hides a distribution's commands once
every plugin of that distribution is blocked.

Short help of declared commands (the one-line text ``jx --help`` shows) is read from the command
object the first time and kept in ``JX_HOME/cache/commands.json``, keyed by the distribution's name
and version, the entry point and the modification times of the command module's package files, so
an edited or reinstalled plugin is read again. Without a writable JX_HOME the help is read every time.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import NamedTuple

ENTRY_POINT_GROUPS = ("jx", "jx.schemes")
COMMANDS_GROUP = "jx.commands"
_GROUPS = (*ENTRY_POINT_GROUPS, COMMANDS_GROUP)


def env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def autoload() -> bool:
    return os.environ.get("JX_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")


class DeclaredPlugin(NamedTuple):
    """A plugin entry point: its name, group, module and distribution (read, not imported)."""

    name: str
    group: str
    module: str
    distribution: str | None
    version: str | None


class DeclaredCommand(NamedTuple):
    """A ``jx.commands`` entry point: the command's name, ``module:attr`` and its distribution."""

    name: str
    value: str
    distribution: str | None
    version: str | None
    plugins: tuple[str, ...] = ()  # the distribution's plugin entry points

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    def load(self):
        """Import the module and return the click command (TypeError if the value names none)."""
        import click

        obj = load(self.value)
        if not isinstance(obj, click.Command):
            raise TypeError(f"entry point {self.name} = {self.value} is not a click command")
        return obj

    def where(self) -> str:
        return f"{self.distribution} {self.version}" if self.distribution else self.value


def load(value: str) -> object:
    """Import what an entry point's value names (``module`` or ``module:attr.attr``) and return it."""
    import importlib

    module_name, _, attr = value.partition(":")
    obj: object = importlib.import_module(module_name.strip())
    for part in attr.strip().split(".") if attr.strip() else ():
        obj = getattr(obj, part)
    return obj


class _EntryPoint(NamedTuple):
    group: str
    name: str
    value: str
    distribution: str | None
    version: str | None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _headers(info_dir: str) -> tuple[str | None, str | None]:
    """Name and Version from a dist-info's METADATA (egg-info: PKG-INFO), headers only."""
    name = version = None
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info_dir, filename), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    if key == "Name" and name is None:
                        name = value.strip()
                    elif key == "Version" and version is None:
                        version = value.strip()
            return name, version
        except OSError:
            continue
    return name, version


def _scan() -> list[_EntryPoint]:
    """The jx entry points of every distribution on sys.path, read from their entry_points.txt.

    The same distributions as importlib.metadata finds on directory entries of sys.path (the first
    of a normalized name wins), without importing importlib.metadata and its e-mail parser; a
    zipped path entry is skipped (no jx plugin ships as a zip).
    """
    found: list[_EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for filename in names:
            if not filename.endswith(("-info", "-INFO")):
                continue
            stem, ext = os.path.splitext(filename)
            if ext.lower() not in (".dist-info", ".egg-info"):
                continue
            key = _normalize(stem.partition("-")[0])
            if key in seen:
                continue
            seen.add(key)
            info_dir = os.path.join(entry or ".", filename)
            try:
                with open(os.path.join(info_dir, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            group = None
            pairs: list[tuple[str, str, str]] = []
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith(("#", ";")):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    group = line[1:-1].strip()
                    continue
                if group in _GROUPS and "=" in line:
                    name, _, value = line.partition("=")
                    pairs.append((group, name.strip(), value.strip()))
            if pairs:
                dist, version = _headers(info_dir)
                found += [_EntryPoint(g, n, v, dist, version) for g, n, v in pairs]
    return found


def plugins(eps: list[_EntryPoint] | None = None) -> list[DeclaredPlugin]:
    """Every plugin entry point (groups ``jx`` and ``jx.schemes``), blocked ones included, by group and name."""
    eps = _scan() if eps is None else eps
    result: list[DeclaredPlugin] = []
    seen: set[str] = set()
    for group in ENTRY_POINT_GROUPS:
        for ep in sorted((e for e in eps if e.group == group), key=lambda e: e.name):
            if ep.name in seen:  # the first of a name wins, as in the plugin manager
                continue
            seen.add(ep.name)
            result.append(DeclaredPlugin(ep.name, group, ep.value, ep.distribution, ep.version))
    return result


def commands(eps: list[_EntryPoint] | None = None, *, respect_switches: bool = True) -> dict[str, DeclaredCommand]:
    """The declared commands by name, without those of disabled or blocked plugins' distributions.

    With autoload disabled, only the commands of the distributions whose plugin modules
    ``JX_PLUGINS`` names (``jx_outputs.plugin``) are there."""
    eps = _scan() if eps is None else eps
    blocked = set(env_list("JX_BLOCK_PLUGINS")) if respect_switches else set()
    by_dist: dict[str | None, list[str]] = {}
    named: set[str | None] | None = None
    if respect_switches and not autoload():
        modules = set(env_list("JX_PLUGINS")) - blocked
        named = set()
    for plugin in plugins(eps):
        by_dist.setdefault(plugin.distribution, []).append(plugin.name)
        if named is not None and plugin.distribution and plugin.module.partition(":")[0].strip() in modules:
            named.add(plugin.distribution)
    found: dict[str, DeclaredCommand] = {}
    for ep in sorted((e for e in eps if e.group == COMMANDS_GROUP), key=lambda e: e.name):
        if ep.name in found:
            continue
        if named is not None and ep.distribution not in named:
            continue
        own = tuple(by_dist.get(ep.distribution, ())) if ep.distribution else ()
        if named is None and own and all(p in blocked for p in own):
            continue
        found[ep.name] = DeclaredCommand(ep.name, ep.value, ep.distribution, ep.version, own)
    return found


# -- the short-help cache -------------------------------------------------------------------------

def _cache_file():
    from jxcore.config import jx_home

    return jx_home() / "cache" / "commands.json"


def _stamp(command: DeclaredCommand) -> str:
    """Distribution, version, entry point and the mtimes of the files of the module's package."""
    import importlib.util

    parts = [command.name, command.value, str(command.distribution), str(command.version)]
    top = command.module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: finds, imports nothing
    except (ImportError, ValueError):
        spec = None
    dirs = list(spec.submodule_search_locations or []) if spec else []
    if spec and spec.origin and not dirs:
        parts.append(f"{spec.origin}:{_mtime(spec.origin)}")
    for directory in dirs:
        sub = os.path.join(directory, *command.module.split(".")[1:-1])
        for where in dict.fromkeys((directory, sub)):
            parts += _listing(where)
    return "\n".join(parts)


_listings: dict[str, list[str]] = {}


def _listing(where: str) -> list[str]:
    """``path:mtime:size`` of the .py files of a directory (once per process)."""
    if where not in _listings:
        try:
            with os.scandir(where) as entries:
                found = [(e.path, e.stat()) for e in entries if e.name.endswith(".py")]
            _listings[where] = sorted(f"{p}:{st.st_mtime_ns}:{st.st_size}" for p, st in found)
        except OSError:
            _listings[where] = [f"{where}:missing"]
    return _listings[where]


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _read_cache() -> dict:
    try:
        with open(_cache_file(), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(data: dict) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only JX_HOME: the help is read from the commands every time


def short_helps(declared: dict[str, DeclaredCommand], load) -> dict[str, tuple[str, str, bool]]:
    """``{name: (short help, help's first paragraph, hidden)}`` of the declared commands: from the cache where its stamp
    still matches, else from ``load(command)`` (the click command, or None if it failed to load;
    a failed one is not cached, so it is tried again next time)."""
    cache = _read_cache()
    result: dict[str, tuple[str, str, bool]] = {}
    changed = False
    for name, command in declared.items():
        stamp = _stamp(command)
        hit = cache.get(name)
        if isinstance(hit, dict) and hit.get("stamp") == stamp:
            result[name] = (str(hit.get("short_help", "")), str(hit.get("help", "")), bool(hit.get("hidden")))
            continue
        obj = load(command)
        if obj is None:
            continue
        first = (obj.help or "").strip().split("\n\n")[0]
        result[name] = (obj.short_help or "", first, bool(obj.hidden))
        cache[name] = {"stamp": stamp, "short_help": obj.short_help or "", "help": first, "hidden": bool(obj.hidden)}
        changed = True
    if changed:
        _write_cache(cache)
    return result
