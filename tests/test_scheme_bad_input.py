"""Hostile and mistaken scheme files: each is refused with file:line and what to do, never a crash,
a hang or a silent change of meaning (issue 12). The random campaign is tests/test_fuzz_schemes.py."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from jxcore import hookimpl
from jxcore.errors import Location, Problem, SchemeError
from jxcore.params import Param
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import check_pack, load_scheme, scheme_from_dict
from jxcore.scheme.yamlio import MAX_BYTES, MAX_DEPTH, MAX_NODES, decode, parse_yaml

SCHEME = "name: t\n"
UNITS = "units:\n  - {code: a, name: A, staff: 5, entities: 100}\n  - {code: b, name: B}\n"
PLAN = """\
period: 2010
scale: 100
nodes:
  - code: X
    name: X
    points: 100
    rule: r
    collector: c
"""


def pack(root: Path, *, scheme: str = SCHEME, units: str | None = UNITS, plan: str = PLAN,
         units_name: str = "units.yaml") -> Path:
    (root / "plans").mkdir(parents=True)
    if units_name != "units.yaml":
        scheme += f"units: {units_name}\n"
    (root / "scheme.yaml").write_text(textwrap.dedent(scheme), encoding="utf-8")
    if units is not None:
        (root / units_name).write_text(textwrap.dedent(units), encoding="utf-8")
    (root / "plans" / "2010.yaml").write_text(textwrap.dedent(plan), encoding="utf-8")
    return root


def found(root: Path, registry: Registry | None = None) -> list[str]:
    return [str(p) for p in check_pack(root, registry)]


def one(root: Path, registry: Registry | None = None) -> str:
    problems = found(root, registry)
    assert len(problems) == 1, problems
    return problems[0]


# -- files that are not files --------------------------------------------------------------------
def test_a_fifo_is_refused_without_reading_it(tmp_path):
    root = pack(tmp_path, units=None)
    os.mkfifo(root / "units.yaml")  # reading it would block forever
    assert one(root) == "units.yaml: not a regular file (a pipe, device or socket) (replace it with the file itself)"


def test_a_symlink_to_dev_zero_a_directory_and_a_missing_file(tmp_path):
    root = pack(tmp_path)
    (root / "units.yaml").unlink()
    (root / "units.yaml").symlink_to("/dev/zero")
    (root / "plans" / "2010.yaml").unlink()
    (root / "plans" / "2010.yaml").mkdir()
    assert found(root) == [
        "plans/2010.yaml: a directory where a file should be (write the plan of 2010 in plans/2010.yaml)",
        "units.yaml: not a regular file (a pipe, device or socket) (replace it with the file itself)"]
    assert found(tmp_path / "nowhere") == [
        "scheme.yaml: file not found (a scheme pack is a directory holding scheme.yaml; none in "
        f"{tmp_path / 'nowhere'})"]


def test_a_file_too_big_is_refused_by_its_size_before_reading(tmp_path):
    root = pack(tmp_path)
    with open(root / "units.yaml", "ab") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse
    assert one(root).startswith(f"units.yaml: the file is {MAX_BYTES + 1:,} bytes, more than the {MAX_BYTES:,}")


@pytest.mark.parametrize("content, message", [
    (b"", "units.yaml:1: the file holds no data (it is empty or only comments)"),
    (b"# only a comment\n", "units.yaml:1: the file holds no data (it is empty or only comments)"),
    (b"\x00" * 100, "units.yaml: the file holds only NUL bytes (the file is damaged; write it again)"),
])
def test_empty_and_null_files(tmp_path, content, message):
    root = pack(tmp_path)
    (root / "units.yaml").write_bytes(content)
    assert one(root).startswith(message)


# -- bytes and characters --------------------------------------------------------------------------
CHINESE = "units:\n  - {code: humen, name: 虎门镇工商分局, staff: 50}\n  - {code: nancheng, name: 南城分局}\n"


@pytest.mark.parametrize("encoding, named", [
    ("gbk", "it looks like GBK (GB18030)"), ("utf-16-le", "it looks like UTF-16-LE (little-endian)"),
    ("utf-16-be", "it looks like UTF-16-BE (big-endian)"), ("utf-16", "it is UTF-16 (it starts with a UTF-16 "),
])
def test_other_encodings_are_named(tmp_path, encoding, named):
    root = pack(tmp_path)
    (root / "units.yaml").write_bytes(CHINESE.encode(encoding))
    problem = one(root)
    assert problem.startswith("units.yaml:") and "the file is not UTF-8; " + named in problem
    assert problem.endswith("(save it as UTF-8)")


def test_big5_is_named():
    text = "單位:\n  - {code: humen, name: 虎門鎮工商分局}\n  - {code: dongguan, name: 東莞市場監督管理局}\n"
    problems = decode(text.encode("big5"), "units.yaml")[1]
    assert "it looks like Big5" in str(problems[0])


def test_a_damaged_byte_is_reported_by_line_and_column(tmp_path):
    data = CHINESE.encode()
    at = data.index("南".encode())  # line 3, column 28 in characters
    root = pack(tmp_path)
    (root / "units.yaml").write_bytes(data[:at] + b"\xff" + data[at + 1:])
    assert one(root) == ("units.yaml:3: not UTF-8: byte 0xFF at column 28 is not valid UTF-8 (invalid start byte) "
                         "(the file is damaged here, or was saved in another encoding: save it as UTF-8)")


def test_a_file_cut_mid_character(tmp_path):
    data = CHINESE.encode()
    root = pack(tmp_path)
    (root / "units.yaml").write_bytes(data[:data.index("南".encode()) + 1])
    assert one(root).startswith("units.yaml:3: not UTF-8: byte 0xE5 at column 28")


def test_control_characters_are_refused_with_line_and_column(tmp_path):
    root = pack(tmp_path, units=UNITS.replace("name: B", "name: B\x07"))
    assert one(root) == "units.yaml:3: control character U+0007 at column 22 (delete it; scheme files hold plain text)"


def test_invisible_characters_are_refused(tmp_path):
    root = pack(tmp_path, units=UNITS.replace("code: b", "code: b\u200b").replace("name: A", "name: \ufeffA"))
    assert found(root) == [
        "units.yaml:2: invisible character U+FEFF at column 21 (delete it; scheme files hold plain text)",
        "units.yaml:3: invisible character U+200B at column 13 (delete it; scheme files hold plain text)"]


def test_a_byte_order_mark_is_fine(tmp_path):
    root = pack(tmp_path)
    (root / "units.yaml").write_bytes(b"\xef\xbb\xbf" + UNITS.encode())
    assert found(root) == []


# -- YAML that expands or nests without end -------------------------------------------------------
def test_aliases_are_refused_at_their_line(tmp_path):
    plan = PLAN.replace("nodes:", "defaults:\n  rule: &r r\nnodes:").replace("rule: r\n", "rule: *r\n")
    assert one(pack(tmp_path, plan=plan)) == (
        "plans/2010.yaml:9: YAML alias *r is not allowed in scheme files (write the value out in full instead of "
        "*r (aliases can multiply a file beyond any size))")


def test_an_alias_bomb_is_refused_before_it_expands():
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]  # 9**12 strings
    data, problems = parse_yaml("\n".join(lines), "plans/2010.yaml")
    assert data is None and [str(p) for p in problems] == [
        "plans/2010.yaml:2: YAML alias *a0 is not allowed in scheme files (write the value out in full instead of "
        "*a0 (aliases can multiply a file beyond any size))"]


def test_merge_keys_and_unknown_tags_are_refused():
    _, problems = parse_yaml("a: {x: 1}\nb:\n  <<: {y: 2}\nc: !!python/object:os.system ls\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:3: YAML merge keys (<<) are not allowed in scheme files (write the fields out in full)",
        "f.yaml:4: unsupported YAML tag tag:yaml.org,2002:python/object:os.system (remove the tag (the '!…' before "
        "the value))"]


def test_nesting_and_size_are_limited():
    deep = "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    assert [str(p) for p in parse_yaml(deep, "f.yaml")[1]] == [
        f"f.yaml:1: nested more than {MAX_DEPTH} levels deep (flatten the structure (use parent: for deep trees))"]
    many = "x: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]"
    assert str(parse_yaml(many, "f.yaml")[1][0]).startswith(f"f.yaml:1: the file holds more than {MAX_NODES:,} "
                                                            "YAML values")


def test_a_second_document_is_refused():
    assert str(parse_yaml("a: 1\n---\nb: 2\n", "f.yaml")[1][0]).startswith(
        "f.yaml:2: more than one YAML document in the file")


def test_a_syntax_error_names_line_and_column():
    assert str(parse_yaml("a: 1\nb: 'open\n", "f.yaml")[1][0]).startswith(
        "f.yaml:3: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar) at column 1")


def test_too_many_problems_are_counted_not_listed(tmp_path):
    nodes = "".join(f"  - {{code: N{i}, name: n, points: 1, parent: NOPE{i}, rule: r, collector: c}}\n"
                    for i in range(300))
    problems = found(pack(tmp_path, plan="period: 2010\nnodes:\n" + nodes))
    assert len(problems) == 201 and problems[-1].startswith("plans/2010.yaml: … and ")


# -- values that cannot be, or that overflow ----------------------------------------------------------
STAGED = PLAN + "    stages:\n      - {date: 2010-02-29, target: 0.5}\n      - {date: 2010-04-31, target: .nan}\n"


def test_impossible_dates_and_nan_are_refused_at_their_line(tmp_path):
    assert found(pack(tmp_path, plan=STAGED)) == [
        "plans/2010.yaml:10: '2010-02-29' is not a valid date: day is out of range for month "
        "(write a real calendar date such as 2010-04-30)",
        "plans/2010.yaml:11: '2010-04-31' is not a valid date: day is out of range for month "
        "(write a real calendar date such as 2010-04-30)",
        "plans/2010.yaml:11: '.nan' is not a finite number (jx needs finite numbers everywhere; write the number "
        "itself)"]  # each once: the stage is not also called incomplete


@pytest.mark.parametrize("written, message", [
    ("99999999999999999999", "the number 99999999999999999999 is too large (at most 19 digits)"),
    (".inf", "'.inf' is not a finite number"),
    ("-.Inf", "'-.Inf' is not a finite number"),
])
def test_numbers_beyond_range_anywhere(tmp_path, written, message):
    root = pack(tmp_path, units=UNITS.replace("entities: 100", f"entities: {written}"))
    assert one(root).startswith(f"units.yaml:2: {message}")


def test_points_and_caps_beyond_the_limit(tmp_path):
    plan = PLAN.replace("points: 100", "points: 1.0e+300") + """\
  - {code: J, name: J, scoring: reward, cap: 2000000, children: [{code: J1, name: j, points: 1, rule: r,
     collector: c}]}
"""
    problems = found(pack(tmp_path, plan=plan))
    assert "plans/2010.yaml:6: X: points must lie within ±1,000,000, not 1e+300 (use at most 3 decimals, e.g. " \
           "2.125)" in problems
    assert any(p.startswith("plans/2010.yaml:9: J: points must lie within ±1,000,000, not 2000000") for p in problems)


@pytest.mark.parametrize("count, ok", [(10**12, True), (10**12 + 1, False), (-1, False)])
def test_unit_counts_are_bounded(tmp_path, count, ok):
    problems = found(pack(tmp_path, units=UNITS.replace("entities: 100", f"entities: {count}")))
    assert problems == ([] if ok else [
        f"units.yaml:2: unit a: 'entities' must be between 0 and 1,000,000,000,000, not {count} (write a whole "
        "number from 0 to 1,000,000,000,000 without separators, e.g. entities: 50000)"])


class Factor:
    name: ClassVar[str] = "factor"
    description: ClassVar[str] = "multiplies"
    params: ClassVar[tuple[Param, ...]] = (Param("multiply", "number", default=1),)

    def collect(self, ctx, requests):  # pragma: no cover - never collected here
        raise NotImplementedError


class Plain:
    name: ClassVar[str] = "plain"
    description: ClassVar[str] = "scores"
    params: ClassVar[tuple[Param, ...]] = ()

    def score(self, inp):  # pragma: no cover
        raise NotImplementedError


class Checklists:
    """A collector that checks the settings it reads, like the manual collector's checklists."""

    name: ClassVar[str] = "listed"
    description: ClassVar[str] = "reads a checklist"
    params: ClassVar[tuple[Param, ...]] = (Param("code", "string"),)
    calls: ClassVar[list[str]] = []

    def collect(self, ctx, requests):  # pragma: no cover
        raise NotImplementedError

    def check_settings(self, scheme) -> list[Problem]:
        codes = (scheme.settings.get("checklists") or {}).get("finding") or {}
        problems = []
        if not codes:
            problems.append(Problem("checklist 'finding' is empty", Location(node="settings.checklists.finding")))
        for node in scheme.indicators():
            code = node.collector.params.get("code")
            if node.collector.name == self.name and codes and code not in codes:
                problems.append(Problem(f"{code!r} is not a code of checklist 'finding'",
                                        location=node.collector.location))
        return problems


class TestPlugin:
    @hookimpl
    def jx_register_rules(self, register):
        register(Plain())

    @hookimpl
    def jx_register_collectors(self, register):
        register(Factor())
        register(Checklists())

    @hookimpl
    def jx_settings_keys(self):
        return ("checklists",)  # read by the "listed" collector


@pytest.fixture
def registry() -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager(autoload=False, plugins=[TestPlugin()]))


@pytest.mark.parametrize("value, message", [
    (float("nan"), "parameter 'multiply' must be a finite number, not nan"),
    (float("inf"), "parameter 'multiply' must be a finite number, not inf"),
    (1e300, "parameter 'multiply' = 1e+300 is out of range (±1,000,000,000,000 at most)"),
])
def test_number_parameters_are_finite_and_bounded(registry, value, message):
    plan = {"nodes": [{"code": "X", "name": "X", "points": 100, "rule": "plain",
                       "collector": {"name": "factor", "params": {"multiply": value}}}]}
    with pytest.raises(SchemeError) as info:
        scheme_from_dict(plan, units=[{"code": "a", "name": "A"}], registry=registry)
    assert str(info.value.problems[0]) == f"<plan>: X: collector factor: {message} (see `jx plugins` for the " \
                                          "parameters of factor)"


def test_a_nan_stage_target_given_in_memory_is_refused():
    plan = {"nodes": [{"code": "X", "name": "X", "points": 100, "rule": "r", "collector": "c",
                       "stages": [{"date": dt.date(2010, 5, 1), "target": float("nan")}]}]}
    with pytest.raises(SchemeError) as info:
        scheme_from_dict(plan, units=[{"code": "a", "name": "A"}])
    assert str(info.value.problems[0]).startswith("<plan>: X: stage target nan is not a finite number")


# -- text that silently changes meaning -----------------------------------------------------------------
@pytest.mark.parametrize("written, what", [
    ("staff：5", "a full-width colon '：' (U+FF1A)"), ("staff:\u30005", "an ideographic space (U+3000)")])
def test_lookalike_characters_in_a_key_are_named(tmp_path, written, what):
    root = pack(tmp_path, units=UNITS.replace("staff: 5", written))
    assert one(root) == (f"units.yaml:2: key {written!r} holds {what}, so YAML reads it all as one key (type an "
                         "ASCII colon followed by an ASCII space, e.g. staff: 50)")


def test_a_thousands_comma_in_a_flow_mapping(tmp_path):
    root = pack(tmp_path, units=UNITS.replace("entities: 100", "entities: 1,000"))
    assert one(root) == ("units.yaml:2: '000' is read as a key without a value: inside {…} a comma separates fields, "
                         "so a number written as 1,000 loses its last digits (write numbers without thousands "
                         "separators, e.g. staff: 1000)")


def test_codes_with_spaces(tmp_path):
    root = pack(tmp_path, units=UNITS.replace("code: a,", "code: a b,"), plan="code: GD 2010\n" + PLAN)
    assert found(root) == [
        "plans/2010.yaml:1: GD 2010: code 'GD 2010' contains spaces (use letters, digits, dots or underscores, e.g. "
        "TOTAL)",
        "units.yaml:2: unit a b: unit code 'a b' contains a space (unit codes are single words, e.g. humen or "
        "441900)"]


# -- units.csv -----------------------------------------------------------------------------------------
CSV = "code,name,staff,entities\nhumen,虎门,50,50000\nnancheng,南城,38,38000\n"


@pytest.mark.parametrize("text, message", [
    (CSV.replace("50,50000", "50,50,000"),
     "units.csv:2: 5 cells where the header names 4 columns: extra cell '000' in column 5"),
    (CSV.replace("50,50000", "50"), "units.csv:2: 3 cells where the header names 4 columns"),
    (CSV.replace("entities", "staff"), "units.csv:1: column staff: column 'staff' is named twice (columns 3 and 4)"),
    (CSV.replace(",虎门,", ',"虎门,'), "units.csv:2: not valid CSV: unexpected end of data"),
    (CSV.replace(",虎门,", ',"虎门,').replace("南城,", '南城",'), "units.csv:2: column name: cell '虎门,50,50000\\n"),
    (CSV.replace("humen", "hu men"), "units.csv:2: unit hu men: unit code 'hu men' contains a space"),
    (CSV.replace(",50,", ",５０,"), "units.csv:2: unit humen: 'staff' must be an integer, not '５０'"),
    (CSV.replace("50000", "99999999999999999999"), "units.csv:2: unit humen: 'entities' must be between 0 and"),
    ("name,staff\n虎门,50\n", "units.csv:1: the first row must name the columns"),
    (CSV.replace("entities\n", "entities,\n"), "units.csv:1: column 5 of the header has no name"),
])
def test_units_csv_is_strict(tmp_path, text, message):
    root = pack(tmp_path, units=text, units_name="units.csv")
    problems = found(root)
    assert problems and problems[0].startswith(message), problems


def test_a_valid_units_csv_loads(tmp_path):
    scheme = load_scheme(pack(tmp_path, units=CSV + "\n", units_name="units.csv"))
    assert [(u.code, u.name, u.staff, u.entities) for u in scheme.units] == [
        ("humen", "虎门", 50, 50000), ("nancheng", "南城", 38, 38000)]


# -- settings ------------------------------------------------------------------------------------------------
def test_a_mapping_in_a_list_of_node_codes(tmp_path):
    plan = PLAN.replace("nodes:", "settings:\n  ranking: {ties: order, tie_break: [{X: 1}]}\nnodes:")
    assert one(pack(tmp_path, plan=plan)).startswith(
        "plans/2010.yaml:4: settings.ranking.tie_break: tie_break must list node codes, not {'X': 1}")


def test_scheme_yaml_settings_problems_are_listed_once_with_their_line(tmp_path):
    root = pack(tmp_path, scheme="name: t\nsettings:\n  ranking:\n    ties: randm\n")
    (root / "plans" / "2009.yaml").write_text(PLAN.replace("2010", "2009"), encoding="utf-8")
    assert found(root) == ["scheme.yaml:4: settings.ranking.ties: parameter 'ties' = 'randm' is not one of "
                           "'shared', 'order' (ties: equal scores share a rank, or are ordered by tie_break (string; "
                           "one of shared, order; default 'shared'))"]


def test_used_collectors_check_the_settings_they_read(tmp_path, registry):
    plan = PLAN.replace("rule: r", "rule: plain").replace("collector: c", "collector: {name: listed, params: "
                                                                          "{code: absnt}}")
    root = pack(tmp_path, scheme="name: t\nsettings:\n  checklists:\n    finding: {absent: 缺岗}\n", plan=plan)
    assert found(root, registry) == ["plans/2010.yaml:8: X: 'absnt' is not a code of checklist 'finding'"]
    root = pack(tmp_path / "empty", scheme="name: t\nsettings:\n  checklists:\n    finding: {}\n", plan=plan)
    assert found(root, registry) == ["scheme.yaml:4: settings.checklists.finding: checklist 'finding' is empty"]


# -- warnings: valid, but probably not meant -------------------------------------------------------------------
def test_a_percentage_among_rates_is_a_warning_not_an_error(tmp_path):
    plan = PLAN + "    stages:\n      - {date: 2010-03-31, target: 0.5}\n      - {date: 2010-06-30, target: 97}\n"
    root = pack(tmp_path, plan=plan, units=UNITS.replace("staff: 5", "staf: 5"))
    warnings: list[Problem] = []
    assert check_pack(root, warnings=warnings) == []
    assert [str(w) for w in warnings] == [
        "units.yaml:2: unit a: unit field 'staf' is kept as extra data; it looks like 'staff' (rename it to staff if "
        "that is what it means)",
        "plans/2010.yaml:11: X: stage target 97 looks like a percentage; the indicator's other targets are rates "
        "between 0 and 1 (did you mean 0.97?)"]


def test_names_lost_to_an_encoding_conversion_are_a_warning(tmp_path):
    units = "units:\n  - code: humen\n    name: 虎门镇\n  - code: nancheng\n    name: 南城 分局\n"
    root = pack(tmp_path, units=units.encode("latin-1", errors="replace").decode())
    warnings: list[Problem] = []
    assert check_pack(root, warnings=warnings) == []
    assert [str(w) for w in warnings] == [
        "units.yaml:3: unit humen: name '???' is only question marks: text lost in a conversion to another "
        "encoding? (restore the file from a UTF-8 copy)",
        "units.yaml:5: unit nancheng: name '?? ??' is only question marks: text lost in a conversion to another "
        "encoding? (restore the file from a UTF-8 copy)"]


def test_an_unreadable_parameter_is_reported_once(tmp_path, registry):
    plan = PLAN.replace("rule: r", "rule: plain").replace("collector: c", "collector: {name: factor, params: "
                                                                          "{multiply: .nan}}")
    assert found(pack(tmp_path, plan=plan), registry) == [
        "plans/2010.yaml:8: '.nan' is not a finite number (jx needs finite numbers everywhere; write the number "
        "itself)"]
