"""A small YAML reader whose mappings and lists remember their lines, so every problem gets one.

Only the safe subset of YAML is read (PyYAML's SafeLoader, in C when available). A mapping comes
back as :class:`LineDict` (``line``: where it starts; ``lines``: key → line of the key), a list as
:class:`LineList` (``lines``: the line of each item). Lines are 1-based. Keys written twice in one
mapping are reported, since YAML would otherwise keep the last one silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import ScalarNode

from jxcore.errors import Location, Problem

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class LineDict(dict):
    """A mapping read from YAML: ``line`` is its first line, ``lines[key]`` the line of a key."""

    __slots__ = ("line", "lines")

    def __init__(self, *args: Any, line: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.line = line
        self.lines: dict[Any, int] = {}


class LineList(list):
    """A list read from YAML: ``line`` is its first line, ``lines[i]`` the line of item i."""

    __slots__ = ("line", "lines")

    def __init__(self, *args: Any, line: int | None = None):
        super().__init__(*args)
        self.line = line
        self.lines: list[int] = []


class _LineLoader(_Base):  # type: ignore[misc, valid-type]
    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[Any, int, int]] = []  # (key, line, line of first)

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                ident, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if ident in first:
                    self.duplicates.append((key_node.value, line, first[ident]))
                first.setdefault(ident, line)
        self.flatten_mapping(node)
        result = LineDict(line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found a key that is a list or mapping", key_node.start_mark) from None
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def construct_line_list(self, node: yaml.SequenceNode) -> LineList:
        result = LineList((self.construct_object(child, deep=True) for child in node.value),
                          line=node.start_mark.line + 1)
        result.lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_line_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_line_list)


def parse_yaml(text: str, shown: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text; return (data, problems). ``shown`` is the file name used in problems."""
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {what}" + (f" ({context})" if context else "")
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(message, Location(file=shown, line=line),
                              "check indentation, colons and quotes at this line")]
    except RecursionError:
        return None, [Problem("YAML nested too deeply", Location(file=shown),
                              "flatten the structure (use parent: for deep trees)")]
    finally:
        loader.dispose()
    problems = [Problem(f"key {key!r} written twice in one mapping; also at line {was}",
                        Location(file=shown, line=line), "remove one of them: YAML keeps only the last")
                for key, line, was in loader.duplicates]
    return data, problems


def read_text(path: Path, shown: str, missing_hint: str) -> tuple[str | None, list[Problem]]:
    """A file's UTF-8 text; a missing or unreadable file is a problem, not an exception."""
    try:
        return path.read_text(encoding="utf-8"), []
    except FileNotFoundError:
        return None, [Problem("file not found", Location(file=shown), missing_hint)]
    except UnicodeDecodeError as exc:
        return None, [Problem(f"not UTF-8 text: {exc.reason} at byte {exc.start}", Location(file=shown),
                              "save the file as UTF-8")]
    except OSError as exc:
        return None, [Problem(f"cannot read the file: {exc.strerror or exc}", Location(file=shown),
                              "check that it is a readable file")]


def read_yaml(path: Path, shown: str, missing_hint: str) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML file; a missing or unreadable file is a problem, not an exception."""
    text, problems = read_text(path, shown, missing_hint)
    return (None, problems) if text is None else parse_yaml(text, shown)
