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
The parser is :mod:`jxcore.scheme.yamlparse`, imported (with PyYAML) only when a file is not in the
parse cache.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from jxcore.errors import Location, Problem

#: The largest scheme file read, in bytes (a 30,000-unit units.csv is about 1.5 MB).
MAX_BYTES = 16 * 1024 * 1024
#: The most YAML values (scalars, lists, mappings) in one plan or scheme.yaml (guangdong's largest
#: plan has about 8,000); units.yaml may hold ten times as many.
MAX_NODES = 50_000
#: The deepest nesting of lists and mappings in one YAML file.
MAX_DEPTH = 100
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


def parse_yaml(text: str, shown: str, max_nodes: int = MAX_NODES) -> tuple[Any, list[Problem]]:
    """Parse YAML text; return (data, problems). ``shown`` is the file name used in problems.

    The parser (and PyYAML) is imported here, not with this module: a plan read from the parse
    cache needs neither."""
    from jxcore.scheme.yamlparse import parse

    return parse(text, shown, max_nodes)


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
    SHA-256 of its text, the name it is shown by and the parser's own files: the next read of the
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
    from jxcore.config import cache_file

    limits = f"{max_nodes}:{MAX_NODES}:{MAX_DEPTH}:{MAX_BYTES}"
    here = Path(__file__)
    return cache_file("yaml", f"{shown}\0{limits}\0".encode() + text.encode(),
                      [here.with_name("yamlio.py"), here.with_name("yamlparse.py")])


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
    from jxcore.config import write_cache

    try:
        encoded = json.dumps({"data": _encode(data)}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return  # an unusual value: parsed again next time
    write_cache(path, encoded)
