"""One error hierarchy for everything a user can get wrong or a run can hit.

Every error says what happened, where (file:line, node code, row, column), and how to fix it.
The CLI prints ``error: <where>: <what> (<how to fix>)`` and exits 2 for bad input (``exit_code``),
1 for a failed run; no traceback unless ``--debug``.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs


@attrs.frozen
class Location:
    """Where a problem is: a file and line, and/or a node code, row, column, sheet."""

    file: str | None = None
    line: int | None = None
    node: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            place = self.file
            if self.sheet:
                place += f"[{self.sheet}]"
            if self.line is not None:
                place += f":{self.line}"
            parts.append(place)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        if self.node:
            parts.append(self.node)
        return ": ".join(parts)


@attrs.frozen
class Problem:
    """One thing wrong, with where it is and how to fix it."""

    message: str
    location: Location = Location()
    hint: str | None = None

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class JxError(Exception):
    """Base of every error jx reports to a user. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None,
                 problems: Iterable[Problem] = ()):
        self.problems = tuple(problems) or (Problem(message, location or Location(), hint),)
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{self.message}: {len(self.problems)} problems"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    @classmethod
    def from_problems(cls, message: str, problems: Iterable[Problem]) -> "JxError":
        problems = tuple(problems)
        return cls(message, problems=problems)


class SchemeError(JxError):
    """A scheme pack or plan is wrong: syntax, tree shape, points, unknown plugins, parameters."""


class DataError(JxError):
    """Input data is wrong or missing: an import file, a source table, a measure a rule needs."""


class PluginError(JxError):
    """A plugin is broken or misbehaves: failed import, duplicate name, bad return value."""


class UsageError(JxError):
    """The command line asks for something that cannot be: unknown scheme, period, unit."""


class StoreError(JxError):
    """The store cannot be opened, migrated or written."""

    retryable: bool = False  #: doing the same work again may succeed (a serialization failure)


class LockedError(JxError):
    """The records asked to change are locked."""


class AccessDenied(JxError):
    """The user may not do this (wrong department or role)."""


class RunFailed(JxError):
    """A run started on valid input and failed; nothing of it was stored."""

    exit_code = 1
