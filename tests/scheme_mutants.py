"""Mutations of a scheme pack, for the fuzz tests (tests/test_fuzz_schemes.py) and the longer
campaign (bench/fuzz_schemes.py): each takes a copy of a pack and breaks it one way.

Every mutator is a plain function of the pack directory and explicit parameters, so hypothesis
can draw the parameters in the tests and a seeded ``random.Random`` can draw them in the bench.
``CLASSES`` maps each mutant class to a function ``(rng) -> (description, apply)``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

GUANGDONG = Path(__file__).resolve().parents[1] / "schemes" / "guangdong" / "jx_scheme_guangdong" / "scheme"
FILES = ("scheme.yaml", "units.yaml", "plans/2007.yaml", "plans/2008.yaml", "plans/2009.yaml", "plans/2010.yaml")
ENCODINGS = ("gbk", "gb18030", "big5", "utf-16-le", "utf-16-be", "utf-16", "utf-32", "latin-1")
NUMBER = re.compile(r"(?<=[:\[,] )-?[0-9]+(?:\.[0-9]+)?(?=[,}\]\n])")
BAD_NUMBERS = (".nan", ".NaN", ".inf", "-.inf", "1.0e+300", "99999999999999999999", "-99999999999999999999",
               "9223372036854775807", "1e18", "1,000", "50,000", "１０", "0x7fffffff", "1:30", "'12'", "-1",
               "1.0001", "true", "null", "[]", "{}")
BAD_DATES = ("2010-02-29", "2010-04-31", "2010-13-01", "2010-00-10", "2010-06-31", "2009-02-29", "10000-01-01")
CONTROL = ("\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe")
LOOKALIKE = ("\uff1a", "\u3000", "\uff0c")
SPECIAL = ("fifo", "devzero", "directory", "empty", "nul", "missing", "comments", "symlink_loop", "huge")

Apply = Callable[[Path], None]


def copy_pack(dest: Path, source: Path = GUANGDONG) -> Path:
    """A fresh copy of a pack (default: guangdong) at ``dest``."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# -- mutators ------------------------------------------------------------------------------------
def flip_byte(pack: Path, file: str, position: float, value: int) -> None:
    """Replace one byte (at ``position``, 0..1 of the file) by ``value``."""
    path = pack / file
    data = bytearray(path.read_bytes())
    data[min(int(position * len(data)), len(data) - 1)] = value
    path.write_bytes(bytes(data))


def truncate(pack: Path, file: str, position: float) -> None:
    """Cut the file at ``position`` (0..1), possibly mid-character."""
    path = pack / file
    data = path.read_bytes()
    path.write_bytes(data[:int(position * len(data))])


def reencode(pack: Path, file: str, encoding: str) -> None:
    """Save the file in another encoding (characters it lacks become '?')."""
    path = pack / file
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding, errors="replace"))


def insert(pack: Path, file: str, position: float, text: str) -> None:
    """Insert ``text`` at ``position`` (0..1 of the characters)."""
    path = pack / file
    content = path.read_text(encoding="utf-8")
    at = int(position * len(content))
    path.write_text(content[:at] + text + content[at:], encoding="utf-8")


def replace_number(pack: Path, file: str, index: int, new: str) -> None:
    """Replace the ``index``-th (modulo) plain number written as a value by ``new``."""
    path = pack / file
    content = path.read_text(encoding="utf-8")
    found = list(NUMBER.finditer(content))
    if not found:
        return
    m = found[index % len(found)]
    path.write_text(content[:m.start()] + new + content[m.end():], encoding="utf-8")


def replace_nth(pack: Path, file: str, pattern: str, index: int, new: str) -> None:
    """Replace the ``index``-th (modulo) match of ``pattern`` by ``new`` (a re replacement)."""
    path = pack / file
    content = path.read_text(encoding="utf-8")
    found = list(re.finditer(pattern, content, re.M))
    if not found:
        return
    m = found[index % len(found)]
    path.write_text(content[:m.start()] + m.expand(new) + content[m.end():], encoding="utf-8")


def alias_bomb(pack: Path, levels: int, width: int) -> None:
    """Billion laughs in the 2010 plan's settings: ``width`` ** ``levels`` strings by aliases."""
    lines = ["  bomb0: &b0 [lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"  bomb{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * width) + "]")
    path = pack / "plans" / "2010.yaml"
    content = path.read_text(encoding="utf-8")
    path.write_text(content.replace("settings:\n", "settings:\n" + "\n".join(lines) + "\n", 1), encoding="utf-8")


def alias_subtree(pack: Path, index: int) -> None:
    """Anchor one indicator's rule and reuse it on the next indicator by alias."""
    path = pack / "plans" / "2010.yaml"
    content = path.read_text(encoding="utf-8")
    rules = list(re.finditer(r"rule: (\{.*\})\n", content))
    a, b = rules[index % (len(rules) - 1)], rules[index % (len(rules) - 1) + 1]
    content = content[:b.start()] + "rule: *shared\n" + content[b.end():]
    content = content[:a.start()] + "rule: &shared " + a.group(1) + "\n" + content[a.end():]
    path.write_text(content, encoding="utf-8")


def special_file(pack: Path, file: str, kind: str) -> None:
    """Put something other than a readable YAML file where ``file`` should be."""
    path = pack / file
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "nul":
        path.write_bytes(b"\x00" * 4096)
    elif kind == "comments":
        path.write_text("# nothing but a comment\n", encoding="utf-8")
    elif kind == "symlink_loop":
        path.symlink_to(path.name)
    elif kind == "huge":
        with open(path, "wb") as handle:  # sparse: 40 MB of zeros without writing them
            handle.truncate(40 * 1024 * 1024)


def big_plan(pack: Path, count: int) -> None:
    """A 2010 plan with ``count`` extra indicators under one new item (sums left wrong)."""
    path = pack / "plans" / "2010.yaml"
    extra = "".join(f"  - {{code: BIG.{i}, parent: BIG, name: n{i}, points: 1, rule: r, collector: c}}\n"
                    for i in range(count))
    path.write_text(path.read_text(encoding="utf-8") + "  - {code: BIG, name: big, points: 1}\n" + extra,
                    encoding="utf-8")


def deep_nesting(pack: Path, depth: int) -> None:
    """A value nested ``depth`` lists deep in the 2010 plan's settings."""
    path = pack / "plans" / "2010.yaml"
    content = path.read_text(encoding="utf-8")
    path.write_text(content.replace("settings:\n", "settings:\n  deep: " + "[" * depth + "]" * depth + "\n", 1),
                    encoding="utf-8")


def units_csv(pack: Path, variant: str, index: int) -> None:
    """Units as units.csv, broken one way: ``variant`` is one of CSV_VARIANTS."""
    units = yaml.safe_load((pack / "units.yaml").read_text(encoding="utf-8"))["units"]
    rows = [["code", "name", "staff", "entities", "kind"]]
    rows += [[u["code"], u["name"], str(u["staff"]), str(u["entities"]), u.get("kind", "")] for u in units]
    i = 1 + index % (len(rows) - 1)
    if variant == "thousands":
        rows[i][3] = f"{int(rows[i][3]) // 1000},{int(rows[i][3]) % 1000:03d}"
    elif variant == "duplicate_column":
        rows = [row + [row[2] if r else "staff"] for r, row in enumerate(rows)]
        rows[i][-1] = "999"
    elif variant == "unclosed_quote":
        rows[i][1] = '"' + rows[i][1]
    elif variant == "code_space":
        rows[i][0] = rows[i][0][:2] + " " + rows[i][0][2:]
    elif variant == "missing_cell":
        rows[i] = rows[i][:-2]
    elif variant == "no_header":
        rows = rows[1:]
    elif variant == "huge_count":
        rows[i][3] = "99999999999999999999"
    elif variant == "unicode_digits":
        rows[i][2] = "５０"
    text = "\n".join(",".join(row) for row in rows) + "\n"
    (pack / "units.csv").write_text(text, encoding="utf-8")
    (pack / "units.yaml").unlink()
    scheme = pack / "scheme.yaml"
    scheme.write_text(scheme.read_text(encoding="utf-8").replace("units: units.yaml", "units: units.csv"),
                      encoding="utf-8")


CSV_VARIANTS = ("thousands", "duplicate_column", "unclosed_quote", "code_space", "missing_cell", "no_header",
                "huge_count", "unicode_digits")


def lookalike_unit(pack: Path, index: int, char: str) -> None:
    """Type a look-alike character (full-width colon or comma, ideographic space) in one unit's
    flow mapping, where it silently changes what YAML reads."""
    written = {"\uff1a": r", staff：\1", "\u3000": ", staff:\u3000\\1", "\uff0c": r"， staff: \1"}[char]
    replace_nth(pack, "units.yaml", r", staff: ([0-9]+)", index, written)


# -- realistic mistakes a person makes ---------------------------------------------------------
HAND_WRITTEN: dict[str, tuple[str, str, str]] = {
    # name: (file, pattern, replacement) applied to the first match
    "stage date 29 Feb": ("plans/2010.yaml", r"date: 2010-03-31", "date: 2010-02-29"),
    "stage date 31 Apr": ("plans/2010.yaml", r"date: 2010-04-30", "date: 2010-04-31"),
    "stage target .nan": ("plans/2010.yaml", r"target: 0\.22", "target: .nan"),
    "stage target as percent": ("plans/2010.yaml", r"target: 0\.47", "target: 47"),
    "settings list of mappings": ("plans/2010.yaml", r"exclude_if_deducted: \[WJKF\]",
                                  "exclude_if_deducted: [{WJKF: 1}]"),
    "settings code unknown": ("plans/2010.yaml", r"exclude_if_deducted: \[WJKF\]", "exclude_if_deducted: [WJFK]"),
    "huge entities": ("units.yaml", r"entities: 22000", "entities: 99999999999999999999"),
    "entities 1e18": ("units.yaml", r"entities: 22000", "entities: 1000000000000000000"),
    "staff with thousands comma": ("units.yaml", r"staff: 25", "staff: 1,000"),
    "staff full-width colon": ("units.yaml", r", staff: 25", ", staff：25"),
    "staff ideographic space": ("units.yaml", r", staff: 25", ", staff:\u300025"),
    "cap 1e300": ("plans/2010.yaml", r"cap: 0\.9", "cap: 1.0e+300"),
    "multiply nan": ("plans/2010.yaml", r"multiply: 1000", "multiply: .nan"),
    "multiply huge": ("plans/2010.yaml", r"multiply: 1000", "multiply: 1.0e+300"),
    "points 1e300": ("plans/2010.yaml", r"points: 9\n", "points: 1.0e+300\n"),
    "root code with space": ("plans/2010.yaml", r"^code: GD2010", "code: GD 2010"),
    "unit code with space": ("units.yaml", r"code: guancheng", "code: guan cheng"),
    "where code misspelt": ("plans/2010.yaml", r"where: \{archive: registration\}", "where: {archive: registation}"),
    "empty inspection checklist": ("scheme.yaml", r"    inspection:\n(      .*\n)+", "    inspection: {}\n"),
    "checklist a list": ("scheme.yaml", r"    discipline:\n(      .*\n)+", "    discipline: [warning, demerit]\n"),
    "ranking ties typo": ("scheme.yaml", r"ties: shared", "ties: shard"),
    "settings not a mapping": ("scheme.yaml", r"ranking: \{ties: shared\}", "ranking: shared"),
    "period mismatch": ("plans/2009.yaml", r"^period: 2009", "period: 2010"),
    "tab indentation": ("plans/2010.yaml", r"^  - code: DJZC$", "\t- code: DJZC"),
    "second document": ("plans/2010.yaml", r"^nodes:", "---\nnodes:"),
    "python tag": ("plans/2010.yaml", r"^scale: 1000", "scale: !!python/object:os.system 1000"),
    "merge key": ("plans/2010.yaml", r"^defaults:\n", "base: &base {department: DJK}\ndefaults:\n  <<: *base\n"),
}


def hand_written(pack: Path, name: str) -> None:
    file, pattern, new = HAND_WRITTEN[name]
    path = pack / file
    content = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, lambda _: new, content, count=1, flags=re.M)
    assert count == 1, f"mutant {name!r}: pattern not found in {file}"
    path.write_text(changed, encoding="utf-8")


# -- random draws for the campaign ---------------------------------------------------------------
CLASSES = ("byte_flip", "truncate", "encoding", "numbers", "dates", "control", "aliases", "special_files", "size",
           "units_csv", "lookalikes")


def draw(cls: str, rng: random.Random) -> tuple[str, Apply]:
    """One random mutant of class ``cls``: (description, apply)."""
    file, pos, k = rng.choice(FILES), rng.random(), rng.randrange(1000)
    if cls == "byte_flip":
        value = rng.randrange(256)
        return f"{file} byte at {pos:.4f} -> 0x{value:02X}", lambda p: flip_byte(p, file, pos, value)
    if cls == "truncate":
        return f"{file} cut at {pos:.4f}", lambda p: truncate(p, file, pos)
    if cls == "encoding":
        enc = rng.choice(ENCODINGS)
        return f"{file} in {enc}", lambda p: reencode(p, file, enc)
    if cls == "numbers":
        new = rng.choice(BAD_NUMBERS)
        return f"{file} number #{k} -> {new}", lambda p: replace_number(p, file, k, new)
    if cls == "dates":
        day = rng.choice(BAD_DATES)
        return f"stage date #{k} -> {day}", lambda p: replace_nth(p, "plans/2010.yaml", r"date: 2010-[0-9-]+", k,
                                                                   "date: " + day)
    if cls == "control":
        char = rng.choice(CONTROL)
        return f"{file} U+{ord(char):04X} at {pos:.4f}", lambda p: insert(p, file, pos, char)
    if cls == "aliases":
        if rng.random() < 0.6:
            levels = rng.randint(1, 9)
            return f"alias bomb, {levels} levels of 9", lambda p: alias_bomb(p, levels, 9)
        return f"rule #{k} aliased", lambda p: alias_subtree(p, k)
    if cls == "special_files":
        kind = rng.choice(SPECIAL)
        return f"{file} is {kind}", lambda p: special_file(p, file, kind)
    if cls == "size":
        if rng.random() < 0.5:
            count = rng.choice((5_000, 20_000, 110_000))
            return f"{count:,} extra nodes", lambda p: big_plan(p, count)
        depth = rng.choice((50, 200, 5_000, 100_000))
        return f"nested {depth:,} deep", lambda p: deep_nesting(p, depth)
    if cls == "units_csv":
        variant = rng.choice(CSV_VARIANTS)
        return f"units.csv {variant} at unit #{k}", lambda p: units_csv(p, variant, k)
    if cls == "lookalikes":
        char = rng.choice(LOOKALIKE)
        return f"unit #{k} U+{ord(char):04X}", lambda p: lookalike_unit(p, k, char)
    raise ValueError(f"unknown mutant class {cls!r}")
