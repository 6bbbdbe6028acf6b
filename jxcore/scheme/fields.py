"""Typed reading of the fields of one scheme file, recording a Problem (with its line) per mistake.

Every read either returns a good value or records what is wrong and returns the default, so one
pass over a file collects every problem and never raises for bad input.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from jxcore.errors import Location, Problem
from jxcore.models import PluginRef
from jxcore.params import INVALID
from jxcore.points import to_milli

NUMBER = (int, float)
LIST = (list, tuple)
_NAMES = {str: "a string", NUMBER: "a number", int: "an integer", LIST: "a list", Mapping: "a mapping",
          dt.date: "a date such as 2010-04-30"}


def short(value: Any) -> str:
    """A value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def line_of(data: Any, key: Any = None) -> int | None:
    """The line of ``key`` in a LineDict (or item ``key`` of a LineList), else where ``data`` starts."""
    lines = getattr(data, "lines", None)
    if key is not None and lines is not None:
        if isinstance(lines, dict) and key in lines:
            return lines[key]
        if isinstance(lines, list) and isinstance(key, int) and 0 <= key < len(lines):
            return lines[key]
    return getattr(data, "line", None)


def plain(value: Any) -> Any:
    """LineDict/LineList → dict/list, recursively: what a Scheme holds."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, LIST):
        return [plain(v) for v in value]
    return value


def is_type(value: Any, types: Any) -> bool:
    """isinstance, except that a bool is not a number; a datetime is not a date."""
    if isinstance(value, bool) and types in (NUMBER, int):
        return False
    if isinstance(value, dt.datetime) and types is dt.date:
        return False
    return isinstance(value, types)


@attrs.define
class Reader:
    """Reads the fields of one file; ``problems`` collects what is wrong, with file:line and node;
    ``warnings`` what is valid but probably not meant (``jx validate`` prints them, exit 0)."""

    file: str
    problems: list[Problem] = attrs.field(factory=list)
    warnings: list[Problem] = attrs.field(factory=list)

    def where(self, data: Any = None, key: Any = None, node: str | None = None) -> Location:
        return Location(file=self.file, line=line_of(data, key), node=node)

    def add(self, message: str, data: Any = None, key: Any = None, *, node: str | None = None,
            hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.where(data, key, node), hint))

    def warn(self, message: str, data: Any = None, key: Any = None, *, node: str | None = None,
             hint: str | None = None) -> None:
        self.warnings.append(Problem(message, self.where(data, key, node), hint))

    def mapping(self, value: Any, what: str, data: Any, key: Any = None, *, node: str | None = None) -> bool:
        """Is ``value`` a mapping? If not, record it."""
        if isinstance(value, Mapping):
            return True
        self.add(f"{what} must be a mapping (key: value lines), not {short(value)}", data, key, node=node)
        return False

    def known(self, data: Mapping, known: Sequence[str], what: str, *, node: str | None = None) -> None:
        """Record every key of ``data`` that is not in ``known``, suggesting the closest one."""
        for key in data:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + "known fields: " + ", ".join(known)
            self.add(f"unknown field {short(key)} in {what}", data, key, node=node, hint=hint)

    def get(self, data: Mapping, key: str, types: Any, *, node: str | None = None, required: bool = False,
            default: Any = None, hint: str | None = None) -> Any:
        """The value of ``key`` if it has the right type; else record a problem and return ``default``.

        A missing key and a null value are the same: absent.
        """
        value = data.get(key)
        if value is INVALID:  # already reported where it is written
            return default
        if value is None:
            if required:
                self.add(f"missing field {key!r}", data, node=node, hint=hint or f"add {key}: …")
            return default
        if not is_type(value, types):
            self.add(f"{key!r} must be {_NAMES.get(types, 'something else')}, not {short(value)}",
                     data, key, node=node, hint=hint)
            return default
        return value

    def text(self, data: Mapping, key: str, *, node: str | None = None, required: bool = False,
             default: Any = None, hint: str | None = None) -> Any:
        """A string field that, when present, is not empty."""
        value = self.get(data, key, str, node=node, required=required, default=default, hint=hint)
        if isinstance(data.get(key), str) and not value.strip():
            self.add(f"{key!r} is empty", data, key, node=node, hint=f"write a {key}")
            return default
        if isinstance(value, str) and "??" in value and not value.strip("? "):
            self.warn(f"{key} {value!r} is only question marks: text lost in a conversion to another encoding?",
                      data, key, node=node, hint="restore the file from a UTF-8 copy")
        return value

    def points(self, data: Mapping, key: str, *, node: str | None = None) -> tuple[int | None, bool]:
        """Points (or a cap) in milli-points: (value or None when absent, whether it was valid)."""
        value = data.get(key)
        if value is INVALID:
            return None, False
        if value is None:
            return None, True
        if not is_type(value, NUMBER):
            self.add(f"{key!r} must be a number, not {short(value)}", data, key, node=node,
                     hint="write points as a plain number such as 40 or 2.5, without quotes")
            return None, False
        try:
            milli = to_milli(value)
        except ValueError as exc:
            self.add(str(exc), data, key, node=node, hint="use at most 3 decimals, e.g. 2.125")
            return None, False
        if milli < 0:
            self.add(f"{key!r} must not be negative, not {short(value)}", data, key, node=node,
                     hint="deductions are written as positive maximums under a deduction item")
            return None, False
        return milli, True

    def plugin_ref(self, data: Mapping, key: Any, what: str, *, node: str | None = None,
                   name_required: bool = True) -> PluginRef | None:
        """A rule/collector/output: ``NAME`` or ``{name: NAME, params: {...}}``."""
        value = data[key]
        location = self.where(data, key, node)
        if isinstance(value, str) and value.strip():
            return PluginRef(value, {}, location)
        if not isinstance(value, Mapping):
            self.add(f"{what} must be a name or a mapping with name and params, not {short(value)}",
                     data, key, node=node, hint=f"write {what}: NAME or {what}: {{name: NAME, params: {{...}}}}")
            return None
        self.known(value, ("name", "params"), what, node=node)
        name = self.text(value, "name", node=node, required=name_required) or ""
        params = self.get(value, "params", Mapping, node=node, default={})
        location = attrs.evolve(location, line=line_of(value, "name") or location.line)
        return PluginRef(name, plain(params), location)
