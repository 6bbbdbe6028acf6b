"""Settings of a scheme (``settings:`` in scheme.yaml and the plans), checked against declarations.

The core and outputs declare the settings they read as :class:`jxcore.params.Param`; problems name
the setting's dotted path (``settings.leadership_review.pass_line``), which ``jx validate`` turns
into file:line.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from jxcore.errors import Location, PluginError, Problem, SchemeError
from jxcore.models import Scheme
from jxcore.params import Param, check_params

#: The top-level settings the core reads (docs/scheme-format.md); plugins add theirs through the
#: ``jx_settings_keys`` hook.
CORE_SETTINGS_KEYS = ("ranking", "records", "plans")


def known_settings_keys(pm: Any) -> dict[str, str]:
    """Top-level setting → who reads it ("jx" for the core, else the plugin's name), from the
    ``jx_settings_keys`` hook of every plugin of ``pm`` (a :class:`jxcore.plugins.JxPluginManager`).
    A plugin whose hook fails or returns something other than names raises PluginError naming it."""
    known = dict.fromkeys(CORE_SETTINGS_KEYS, "jx")
    for impl in pm.hook.jx_settings_keys.get_hookimpls():
        try:
            given = impl.function()
            keys = [] if given is None else list(given)
        except Exception as exc:
            raise PluginError(f"the jx_settings_keys hook of plugin {impl.plugin_name!r} failed: "
                              f"{type(exc).__name__}: {exc}",
                              hint="report it to the plugin's authors, or block it with JX_BLOCK_PLUGINS") from exc
        if isinstance(given, str) or not all(isinstance(k, str) and k for k in keys):
            raise PluginError(f"the jx_settings_keys hook of plugin {impl.plugin_name!r} returned {given!r}",
                              hint='it returns an iterable of setting names, e.g. ("commendation",)')
        for key in keys:
            known.setdefault(key, impl.plugin_name)
    return known


def unknown_settings_problems(scheme: Scheme, known: Mapping[str, str]) -> list[Problem]:
    """A problem per top-level key of ``scheme.settings`` that nothing reads (not in ``known``, see
    :func:`known_settings_keys`). Each problem's ``location.node`` is the key's path
    (``settings.comendation``), which ``jx validate`` turns into file:line."""
    problems = []
    names = ", ".join(sorted(known))
    for key in scheme.settings:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), list(known), n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"known settings: {names}"
        if not close:
            hint += "; a setting of a plugin that is not installed is unknown too (see `jx plugins`)"
        problems.append(Problem(f"unknown setting {key!r}", Location(node=f"settings.{key}"), hint))
    return problems


def checked_settings(scheme: Scheme, key: str, declared: Sequence[Param], *,
                     node_lists: Collection[str] = ()) -> dict[str, Any]:
    """The scheme's ``settings.<key>`` checked against ``declared`` (defaults filled in)."""
    problems = settings_problems(scheme, key, declared, node_lists=node_lists)
    if problems:
        where = Location(file=str(scheme.path) if scheme.path else None)
        raise SchemeError.from_problems(f"scheme {scheme.name}: bad settings.{key}",
                                        [attrs.evolve(p, location=attrs.evolve(where, node=p.location.node))
                                         for p in problems])
    return check_params(declared, scheme.settings.get(key) or {})[0]


def settings_problems(scheme: Scheme, key: str, declared: Sequence[Param], *,
                      node_lists: Collection[str] = ()) -> list[Problem]:
    """What is wrong with ``settings.<key>``: each Problem's ``location.node`` is the setting's
    dotted path (``settings.leadership_review.pass_line``), which ``jx validate`` turns into file:line.
    ``node_lists`` name the list settings whose items must be node codes of the plan."""
    given = scheme.settings.get(key) or {}
    path = f"settings.{key}"
    if not isinstance(given, Mapping):
        return [Problem(f"{path} must be a mapping, not {given!r}", Location(node=path),
                        "write it as `" + key + ": {name: value, …}`")]
    by_name = {p.name: p for p in declared}
    problems = []
    for name, value in given.items():
        where = Location(node=f"{path}.{name}")
        if name not in by_name:
            close = difflib.get_close_matches(str(name), list(by_name), n=1)
            problems.append(Problem(f"unknown setting {name!r}", where, (f"did you mean {close[0]!r}? " if close
                                                                           else "") + "known: " + ", ".join(by_name)))
            continue
        param = by_name[name]
        issues = check_params([param], {name: value})[1]
        if not issues and name in node_lists and isinstance(value, list):
            issues += _node_list_issues(scheme, name, value)
        problems += [Problem(issue, where, f"{name}: {param.help} ({param.describe()})") for issue in issues]
    problems += [Problem(f"missing required setting {p.name!r}", Location(node=path),
                         f"add {p.name}: … ({p.help}; {p.describe()})")
                 for p in declared if p.required and p.name not in given]
    return problems


def _node_list_issues(scheme: Scheme, name: str, codes: list) -> list[str]:
    """What is wrong with a list setting whose items must be node codes of the plan."""
    odd = [c for c in codes if not isinstance(c, str)]
    if odd:
        return [f"{name} must list node codes, not {odd[0]!r}"]
    unknown = [c for c in codes if c not in scheme.nodes]
    if unknown:
        return [f"{name} names {', '.join(unknown)}, which the {scheme.period.year} plan does not have"]
    return []


#: ``settings.records``: read by the entry services (jxcore.services.entries), checked by ``jx validate``
RECORDS_SETTINGS = (
    Param("inspection_kinds", "list", "entry kinds the inspection team (role inspector) may enter for any "
          "indicator and unit", default=[]),
)


def records_problems(scheme: Scheme) -> list[Problem]:
    """What is wrong with ``settings.records`` (checked by ``jx validate``)."""
    return settings_problems(scheme, "records", RECORDS_SETTINGS)
