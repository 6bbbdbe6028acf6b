"""The YAML parser behind :func:`jxcore.scheme.yamlio.parse_yaml`: PyYAML's event stream (libyaml in
C when available) read straight into :class:`~jxcore.scheme.yamlio.LineDict` and
:class:`~jxcore.scheme.yamlio.LineList`, with the limits and refusals described in
:mod:`jxcore.scheme.yamlio`. Imported only when a file is parsed (not read from the parse cache).
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from jxcore.errors import Location, Problem
from jxcore.params import INVALID
from jxcore.scheme.yamlio import LOOKALIKES, MAX_DEPTH, LineDict, LineList

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_INT64 = 2**63


class _Stop(Exception):
    """A problem after which the rest of the file is not read (alias, too big, too deep)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class _Builder:
    """Plain data from YAML events: one pass, no node graph, no alias expansion."""

    def __init__(self, text: str, shown: str, max_nodes: int):
        self.loader = _Base(text)
        self.shown = shown
        self.max_nodes = max_nodes
        self.count = 0
        self.problems: list[Problem] = []
        self.tags: dict[str, str] = {}

    def problem(self, message: str, mark: Any, hint: str | None = None) -> Problem:
        problem = Problem(message, Location(file=self.shown, line=mark.line + 1 if mark else None), hint)
        self.problems.append(problem)
        return problem

    def document(self) -> Any:
        ld = self.loader
        ld.get_event()  # stream start
        if ld.check_event(StreamEndEvent):
            return None
        ld.get_event()  # document start
        data = self.node(0)
        ld.get_event()  # document end
        if not ld.check_event(StreamEndEvent):
            self.problem("more than one YAML document in the file (a line '---' starts another)",
                         ld.peek_event().start_mark, "keep one document: remove the '---' line and what follows")
        return data

    def node(self, depth: int) -> Any:
        event = self.loader.get_event()
        self.count += 1
        if self.count > self.max_nodes:
            raise _Stop(self.problem(f"the file holds more than {self.max_nodes:,} YAML values", event.start_mark,
                                     "a scheme file this big is a mistake: is something repeated?"))
        if depth > MAX_DEPTH:
            raise _Stop(self.problem(f"nested more than {MAX_DEPTH} levels deep", event.start_mark,
                                     "flatten the structure (use parent: for deep trees)"))
        if isinstance(event, ScalarEvent):
            return self.scalar(event)
        if isinstance(event, AliasEvent):
            raise _Stop(self.problem(f"YAML alias *{event.anchor} is not allowed in scheme files", event.start_mark,
                                     f"write the value out in full instead of *{event.anchor} (aliases can "
                                     "multiply a file beyond any size)"))
        if isinstance(event, SequenceStartEvent):
            return self.sequence(event, depth)
        if isinstance(event, MappingStartEvent):
            return self.mapping(event, depth)
        raise _Stop(self.problem(f"unexpected YAML {type(event).__name__}", event.start_mark))  # pragma: no cover

    def scalar(self, event: ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:  # quoted: a string
                return event.value
            tag = self.tags.get(event.value)
            if tag is None:  # the same words (code, name, points …) recur: resolve each once
                tag = self.tags[event.value] = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return event.value
        if tag == _MERGE:
            self.problem("YAML merge keys (<<) are not allowed in scheme files", event.start_mark,
                         "write the fields out in full")
            return event.value
        construct = self.loader.yaml_constructors.get(tag)
        if construct is None or not tag.startswith("tag:yaml.org,2002:"):
            self.problem(f"unsupported YAML tag {tag}", event.start_mark, "remove the tag (the '!…' before the value)")
            return INVALID
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        try:
            value = construct(self.loader, node)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            what = "date" if tag.endswith(":timestamp") else tag.rsplit(":", 1)[-1]
            self.problem(f"{event.value!r} is not a valid {what}: {exc}", event.start_mark,
                         "write a real calendar date such as 2010-04-30" if what == "date" else None)
            return INVALID
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(f"{event.value!r} is not a finite number", event.start_mark,
                         "jx needs finite numbers everywhere; write the number itself")
            return INVALID
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            self.problem(f"the number {event.value} is too large (at most 19 digits)", event.start_mark,
                         "write the number that is meant")
            return INVALID
        return value

    def sequence(self, event: SequenceStartEvent, depth: int) -> LineList:
        if event.tag not in _SEQ_TAGS:
            self.problem(f"unsupported YAML tag {event.tag}", event.start_mark, "remove the tag")
        ld = self.loader
        result = LineList(line=event.start_mark.line + 1)  # type: ignore[union-attr]
        while not ld.check_event(SequenceEndEvent):
            result.lines.append(ld.peek_event().start_mark.line + 1)
            result.append(self.node(depth + 1))
        ld.get_event()
        return result

    def mapping(self, event: MappingStartEvent, depth: int) -> LineDict:
        if event.tag not in _MAP_TAGS:
            self.problem(f"unsupported YAML tag {event.tag}", event.start_mark, "remove the tag")
        ld = self.loader
        result = LineDict(line=event.start_mark.line + 1)  # type: ignore[union-attr]
        while not ld.check_event(MappingEndEvent):
            first = ld.peek_event()
            mark = first.start_mark
            key = self.node(depth + 1)
            value = self.node(depth + 1)
            line = mark.line + 1
            if isinstance(key, (LineDict, LineList)):
                self.problem("a key that is a list or mapping", mark, "keys are plain words such as code or name")
                continue
            if isinstance(key, str):
                self.lookalikes(key, mark)
            elif event.flow_style and value is None and isinstance(key, (int, float)) and not isinstance(key, bool):
                self.problem(f"{first.value!r} is read as a key without a value: inside {{…}} a comma separates "
                             f"fields, so a number written as 1,{first.value} loses its last digits", mark,
                             "write numbers without thousands separators, e.g. staff: 1000")
            if key in result.lines:
                self.problem(f"key {key!r} written twice in one mapping; also at line {result.lines[key]}", mark,
                             "remove one of them: YAML keeps only the last")
                continue
            result[key] = value
            result.lines[key] = line
        ld.get_event()
        return result

    def lookalikes(self, key: str, mark: Any) -> None:
        for char, name in LOOKALIKES.items():
            if char in key:
                self.problem(f"key {key!r} holds {name}, so YAML reads it all as one key", mark,
                             "type an ASCII colon followed by an ASCII space, e.g. staff: 50")
                return


def parse(text: str, shown: str, max_nodes: int) -> tuple[Any, list[Problem]]:
    """Parse YAML text; return (data, problems). ``shown`` is the file name used in problems."""
    builder = _Builder(text, shown, max_nodes)
    try:
        data = builder.document()
    except _Stop:
        return None, builder.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or str(exc).splitlines()[0]
        message = f"YAML syntax error: {what}" + (f" ({exc.context})" if exc.context else "")
        if mark is not None:
            message += f" at column {mark.column + 1}"
        return None, [Problem(message, Location(file=shown, line=mark.line + 1 if mark is not None else None),
                              "check indentation, colons and quotes at this line")]
    except yaml.YAMLError as exc:
        return None, [Problem(f"YAML syntax error: {exc}", Location(file=shown), "check the file's syntax")]
    finally:
        builder.loader.dispose()
    if data is None and not builder.problems:
        return None, [Problem("the file holds no data (it is empty or only comments)", Location(file=shown, line=1),
                              "write the file's content")]
    return data, builder.problems
