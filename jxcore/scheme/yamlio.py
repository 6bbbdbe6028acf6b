"""Reading scheme files safely: bounded, UTF-8 only, and YAML whose mappings and lists remember lines.

A file is checked before it is read (a regular file, at most :data:`MAX_BYTES`), so a FIFO, a
device or a directory in its place is refused instead of read forever. Its bytes must be UTF-8:
bad bytes are reported with line and column, and a file in another encoding is named ("it looks
like GBK"). Control characters are refused with their line and column.

YAML is read from PyYAML's event stream (libyaml in C when available) straight into
:class:`LineDict` (``line``: where it starts; ``lines``: key → line of the key) and
:class:`LineList` (``lines``: the line of each item). Only plain data is built: aliases
(``*name``) and merge keys (``<<``) are refused, because one alias can multiply a file into
gigabytes; nesting and the number of nodes are limited. Keys written twice in one mapping, keys
holding a full-width colon or an ideographic space (a mistyped ``key: value``), impossible dates,
non-finite numbers (``.nan``, ``.inf``) and integers beyond 64 bits are all reported at their line.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
import math
import os
import re
import stat
from pathlib import Path
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

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")

#: The largest scheme file read, in bytes (a 30,000-unit units.csv is about 1.5 MB).
MAX_BYTES = 16 * 1024 * 1024
#: The most YAML values (scalars, lists, mappings) in one plan or scheme.yaml (guangdong's largest
#: plan has about 8,000); units.yaml may hold ten times as many.
MAX_NODES = 50_000
#: The deepest nesting of lists and mappings in one YAML file.
MAX_DEPTH = 100
_INT64 = 2**63
#: Characters that look like YAML syntax but are not: typed on a Chinese keyboard they silently
#: turn ``staff：50`` into one unknown key.
LOOKALIKES = {"\uff1a": "a full-width colon '：' (U+FF1A)", "\u3000": "an ideographic space (U+3000)",
              "\uff0c": "a full-width comma '，' (U+FF0C)"}
#: Control characters, and invisible ones (zero-width, direction marks, line separators, a byte order
#: mark past the start) that would make two codes look the same and differ.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff"
                      "\ufffe\uffff]")


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


def parse_yaml(text: str, shown: str, max_nodes: int = MAX_NODES) -> tuple[Any, list[Problem]]:
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


def read_text(path: Path, shown: str, missing_hint: str) -> tuple[str | None, list[Problem]]:
    """A file's UTF-8 text; anything wrong (missing, not a file, too big, not UTF-8, control
    characters) is a problem, not an exception. The file is checked before a byte is read."""
    where = Location(file=shown)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, [Problem("file not found", where, missing_hint)]
    except OSError as exc:
        return None, [_unreadable(exc, where)]
    if stat.S_ISDIR(info.st_mode):
        return None, [Problem("a directory where a file should be", where, missing_hint)]
    if not stat.S_ISREG(info.st_mode):
        return None, [Problem("not a regular file (a pipe, device or socket)", where,
                              "replace it with the file itself")]
    if info.st_size > MAX_BYTES:
        return None, [Problem(f"the file is {info.st_size:,} bytes, more than the {MAX_BYTES:,} a scheme file may have",
                              where, "is it the right file?")]
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, [_unreadable(exc, where)]
    if len(data) > MAX_BYTES:  # grew since stat
        return None, [Problem(f"the file is more than {MAX_BYTES:,} bytes", where, "is it the right file?")]
    return decode(data, shown)


def _unreadable(exc: OSError, where: Location) -> Problem:
    return Problem(f"cannot read the file: {exc.strerror or exc}", where, "check that it is a readable file")


def decode(data: bytes, shown: str) -> tuple[str | None, list[Problem]]:
    """UTF-8 text of a file's bytes (a BOM is dropped), or the problems: bad bytes at line:column,
    another encoding named, control characters, a file of NUL bytes."""
    where = Location(file=shown)
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            return None, [Problem(f"the file is not UTF-8; it is {name} (it starts with a {name} byte order mark)",
                                  Location(file=shown, line=1), "save it as UTF-8")]
    if data and not data.strip(b"\x00"):
        return None, [Problem("the file holds only NUL bytes", where, "the file is damaged; write it again")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_not_utf8(data, exc, where)]
    text = text.removeprefix("\ufeff")
    problems: list[Problem] = []
    for match in _CONTROL.finditer(text):
        if len(problems) == 5:
            break
        line = text.count("\n", 0, match.start()) + 1
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        kind = "control" if ord(match.group()) < 0xA0 else "invisible"
        problems.append(Problem(f"{kind} character U+{ord(match.group()):04X} at column {column}",
                                Location(file=shown, line=line), "delete it; scheme files hold plain text"))
    return (None, problems) if problems else (text, [])


def _not_utf8(data: bytes, exc: UnicodeDecodeError, where: Location) -> Problem:
    """Where the first bad byte is, and which encoding the file seems to be in."""
    start = exc.start
    line = data.count(b"\n", 0, start) + 1
    column = len(data[data.rfind(b"\n", 0, start) + 1:start].decode("utf-8", "replace")) + 1
    at = Location(file=where.file, line=line)
    guess = guess_encoding(data)
    if guess is None:
        return Problem(f"not UTF-8: byte 0x{data[start]:02X} at column {column} is not valid UTF-8 ({exc.reason})",
                       at, "the file is damaged here, or was saved in another encoding: save it as UTF-8")
    return Problem(f"the file is not UTF-8; it looks like {guess} (byte 0x{data[start]:02X} at column {column})",
                   at, "save it as UTF-8")


def guess_encoding(data: bytes) -> str | None:
    """A likely name for the encoding of bytes that are not UTF-8, or None when they look like
    UTF-8 with a few damaged bytes. Covers what Chinese offices save: UTF-16 without a byte order
    mark, GBK/GB18030, Big5."""
    sample = data[:65536]
    if len(sample) >= 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 8 and odd > 4 * even:
            return "UTF-16-LE (little-endian)"
        if even > len(sample) // 8 and even > 4 * odd:
            return "UTF-16-BE (big-endian)"
    lenient = sample.decode("utf-8", "replace")
    bad = len(re.findall("\ufffd+", lenient))  # runs of bad bytes
    good = sum(1 for ch in lenient if ord(ch) > 0x7F) - lenient.count("\ufffd")
    if good > 4 * bad:  # mostly valid multi-byte UTF-8: damaged, not another encoding
        return None
    gbk = _strict(sample, "gb18030")
    big5 = _strict(sample, "big5")
    if gbk is not None and big5 is not None:
        common = [ch for ch in gbk if ord(ch) > 0x7F]
        in_gb2312 = sum(1 for ch in common if _strict(ch.encode("gb18030"), "gb2312") is not None)
        return "GBK (GB18030)" if in_gb2312 >= 0.9 * len(common) else "Big5"
    if gbk is not None:
        return "GBK (GB18030)"
    if big5 is not None:
        return "Big5"
    return "a legacy 8-bit encoding such as Windows-1252"


def _strict(data: bytes, encoding: str) -> str | None:
    """``data`` decoded, tolerating a character cut at the end; None if it is not that encoding."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return None


def read_yaml(path: Path, shown: str, missing_hint: str, max_nodes: int = MAX_NODES) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML file; a missing or unreadable file is a problem, not an exception.

    A file that parses without a problem is kept in ``JX_HOME/cache/yaml/`` as JSON, named by the
    SHA-256 of its text, the name it is shown by and this parser's own file: the next read of the
    same text skips the parse (about a tenth of the time). ``JX_CACHE=0`` switches the cache off."""
    text, problems = read_text(path, shown, missing_hint)
    if text is None:
        return None, problems
    cached = _cache_path(text, shown, max_nodes)
    if cached is not None:
        try:
            return json.loads(cached.read_text(encoding="utf-8"), object_hook=_decode)["data"], []
        except (OSError, ValueError, KeyError, TypeError):
            pass
    data, problems = parse_yaml(text, shown, max_nodes)
    if cached is not None and not problems:
        _write_cache(cached, data)
    return data, problems


# -- the parse cache: JSON of LineDict / LineList with their lines --------------------------------

def _cache_path(text: str, shown: str, max_nodes: int) -> Path | None:
    if os.environ.get("JX_CACHE", "") == "0":
        return None
    import hashlib

    from jxcore.config import jx_home

    try:
        code = os.stat(__file__)
    except OSError:
        return None
    limits = f"{max_nodes}:{MAX_NODES}:{MAX_DEPTH}:{MAX_BYTES}"
    key = hashlib.sha256(f"{shown}\0{limits}\0{code.st_mtime_ns}:{code.st_size}\0".encode() + text.encode())
    return jx_home() / "cache" / "yaml" / f"{key.hexdigest()}.json"


def _encode(value: Any) -> Any:
    if isinstance(value, LineDict):
        keys = list(value)
        return {"d": [_encode(k) for k in keys], "v": [_encode(v) for v in value.values()],
                "k": [value.lines.get(k) for k in keys], "l": value.line}
    if isinstance(value, LineList):
        return {"s": [_encode(v) for v in value], "ls": value.lines, "l": value.line}
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"t": value.isoformat()}
    if isinstance(value, bytes):
        return {"b": base64.b64encode(value).decode("ascii")}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"cannot cache {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if "d" in obj:
        keys = obj["d"]
        result = LineDict(zip(keys, obj["v"]), line=obj["l"])
        result.lines = {k: n for k, n in zip(keys, obj["k"]) if n is not None}
        return result
    if "s" in obj:
        items = LineList(obj["s"], line=obj["l"])
        items.lines = obj["ls"]
        return items
    if "t" in obj:
        return dt.date.fromisoformat(obj["t"])
    if "dt" in obj:
        return dt.datetime.fromisoformat(obj["dt"])
    if "b" in obj:
        return base64.b64decode(obj["b"])
    if "data" in obj:
        return obj
    raise ValueError("not a cached YAML value")


def _write_cache(path: Path, data: Any) -> None:
    try:
        encoded = json.dumps({"data": _encode(data)}, ensure_ascii=False, allow_nan=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(encoded, encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass  # no cache (read-only JX_HOME, an unusual value): parsed again next time
