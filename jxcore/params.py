"""Declared parameters of rules, collectors and outputs, and the check of a scheme's values.

A plugin declares what it accepts (``Param``: type, default, range, choices, meaning); the scheme
check validates every indicator's parameters against that declaration before any data is read,
and reports all problems at once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs


class _Required:
    """The type of :data:`REQUIRED`."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: The value of ``Param.default`` for a parameter the scheme must give.
REQUIRED: Any = _Required()

class _Invalid:
    """The type of :data:`INVALID`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<invalid value, reported at its line>"


#: What a scheme value that cannot be read (an impossible date, ``.nan``) holds once its problem is
#: recorded: checks skip it quietly instead of also calling it missing or mistyped.
INVALID: Any = _Invalid()

#: The largest magnitude of a number parameter: beyond it a factor or threshold only overflows.
NUMBER_LIMIT = 1e12

_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "date": (dt.date,),
    "list": (list, tuple),
    "mapping": (dict, Mapping),
    "any": (object,),
}


@attrs.frozen
class Param:
    """One declared parameter.

    ``type`` is one of number, integer, string, boolean, date, list, mapping, any. ``minimum`` and
    ``maximum`` bound numbers (inclusive); ``choices`` lists the allowed values; ``help`` is the
    meaning shown by ``jx plugins`` and in the docs.
    """

    name: str
    type: str = attrs.field(validator=attrs.validators.in_(tuple(_TYPES)))
    help: str = ""
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    #: Optional deeper check of a structured value (a list of bands, a mapping of kinds to points):
    #: called after the type check with the value; returns what is wrong, or None.
    validator: Callable[[Any], str | None] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        bits = [self.type]
        if self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else f"{self.minimum:g}"
            hi = "" if self.maximum is None else f"{self.maximum:g}"
            bits.append(f"{lo}..{hi}")
        if self.choices:
            bits.append("one of " + ", ".join(map(str, self.choices)))
        bits.append("required" if self.required else f"default {self.default!r}")
        return "; ".join(bits)

    def check(self, value: Any) -> str | None:
        """Return what is wrong with ``value``, or None."""
        allowed = _TYPES[self.type]
        is_bool = isinstance(value, bool)
        if (self.type in ("number", "integer") and is_bool) or not isinstance(value, allowed):
            return f"parameter {self.name!r} must be {_article(self.type)}, not {value!r}"
        if self.type in ("number", "integer") and isinstance(value, (int, float)):  # checked above; for the types
            if isinstance(value, float) and not math.isfinite(value):
                return f"parameter {self.name!r} must be a finite number, not {value!r}"
            if abs(value) > NUMBER_LIMIT:
                return f"parameter {self.name!r} = {value!r} is out of range (±{NUMBER_LIMIT:,.0f} at most)"
            if self.minimum is not None and value < self.minimum:
                return f"parameter {self.name!r} = {value!r} is below its minimum {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"parameter {self.name!r} = {value!r} is above its maximum {self.maximum:g}"
        if self.choices is not None and value not in self.choices:
            allowed_text = ", ".join(map(repr, self.choices))
            return f"parameter {self.name!r} = {value!r} is not one of {allowed_text}"
        if self.validator is not None:
            problem = self.validator(value)
            if problem:
                return f"parameter {self.name!r}: {problem}"
        return None


def _article(type_name: str) -> str:
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def check_params(declared: Sequence[Param], given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate ``given`` against ``declared``; return (values with defaults filled in, problems).

    Unknown names, missing required ones, wrong types and out-of-range values are all reported.
    """
    by_name = {p.name: p for p in declared}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in given:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"unknown parameter {name!r} (known parameters: {known})")
    for param in declared:
        if given.get(param.name) is INVALID:
            continue  # reported where it is written
        if param.name in given and given[param.name] is None and param.default is None:
            values[param.name] = None  # `cap: null` in YAML: the same as leaving it out
        elif param.name in given:
            problem = param.check(given[param.name])
            if problem:
                problems.append(problem)
            else:
                values[param.name] = given[param.name]
        elif param.required:
            problems.append(f"missing required parameter {param.name!r} ({param.help or param.type})")
        else:
            values[param.name] = param.default
    return values, problems
