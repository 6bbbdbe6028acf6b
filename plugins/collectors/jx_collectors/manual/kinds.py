"""The kinds of manual data, declared as tables: columns, types, ranges, checklists, event shape.

One import engine (:mod:`jx_collectors.manual.importer`) and one collector
(:mod:`jx_collectors.manual.collector`) read these declarations; adding a kind is adding a
``Kind`` here, not writing an importer.

Checklists of codes come from the scheme's ``settings.checklists.<name>`` (``code: description``);
where the scheme gives none, the defaults below apply (they match jx_rules' defaults). A cell may
hold a code or its description (``warning`` or ``警告``); the code is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from jxcore.errors import DataError, Location
from jxcore.models import Scheme

#: Column types: unit (code or name of a scheme unit), date, text, integer, number, boolean,
#: code (one code of a checklist), codes (zero or more codes separated by , ; 、 or spaces).
TYPES = ("unit", "date", "text", "integer", "number", "boolean", "code", "codes")


@attrs.frozen
class Column:
    """One declared column: its stored name, header aliases, type and bounds."""

    name: str
    type: str = attrs.field(validator=attrs.validators.in_(TYPES))
    aliases: tuple[str, ...] = ()
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    checklist: str | None = None  #: for code/codes: the checklist's name

    @property
    def headers(self) -> tuple[str, ...]:
        """Every header text that names this column (the name itself and its aliases)."""
        return (self.name, *self.aliases)


@attrs.frozen
class Kind:
    """One kind of manual data.

    ``key`` are the columns that identify a row: two rows with equal keys are duplicates.
    ``event_kind`` is the column whose value becomes each event's ``kind`` (a ``codes`` column
    makes one event per code), or None for the constant kind name. ``value`` is the per-unit
    figure of the measure: ``count`` of events, or ``mean:<column>``.
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event_kind: str | None = None
    value: str = "count"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def event_columns(self) -> tuple[str, ...]:
        """Payload columns copied into the events beside unit, kind and date (numbers, booleans)."""
        return tuple(c.name for c in self.columns if c.type in ("integer", "number", "boolean"))


UNIT = Column("unit", "unit", ("单位", "单位名称", "单位代码", "分局"))
DATE = Column("date", "date", ("日期",))

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("spot_check", "业务抽查", (
        DATE, UNIT,
        Column("archive", "code", ("档案类别", "档案类型"), checklist="archive"),
        Column("file_no", "text", ("档案号", "卷宗号", "file number")),
        Column("defects", "codes", ("瑕疵", "瑕疵代码", "问题代码", "defect codes"), required=False,
               checklist="spot_check"),
    ), key=("archive", "file_no"), event_kind="defects"),
    Kind("inspection", "督察", (
        DATE, UNIT,
        Column("finding", "code", ("问题类型", "督察问题", "finding type"), checklist="inspection"),
        Column("note", "text", ("说明", "备注"), required=False),
        Column("inspector", "text", ("督察人", "检查人")),
    ), key=("date", "unit", "finding", "note", "inspector"), event_kind="finding"),
    Kind("mystery_shopper", "中介暗访", (
        Column("round", "integer", ("轮次", "批次"), minimum=1),
        DATE, UNIT,
        Column("score", "number", ("得分", "分数"), minimum=0, maximum=100),
    ), key=("round", "unit"), value="mean:score"),
    Kind("acceptance", "专项验收", (
        Column("project", "text", ("项目", "验收项目")),
        UNIT,
        Column("score", "number", ("得分", "分数"), minimum=0, maximum=100),
        DATE,
    ), key=("project", "unit"), event_kind="project", value="mean:score"),
    Kind("honour", "荣誉", (
        UNIT,
        Column("level", "code", ("级别", "荣誉级别"), checklist="honour"),
        DATE,
        Column("title", "text", ("荣誉名称", "名称")),
    ), key=("unit", "level", "title"), event_kind="level"),
    Kind("major_case", "大要案", (
        UNIT,
        Column("case_no", "text", ("案号", "案件编号", "case number")),
        DATE,
    ), key=("case_no",)),
    Kind("discipline", "违纪", (
        UNIT,
        Column("person", "text", ("当事人", "姓名")),
        Column("severity", "code", ("处分", "处分类别", "严重程度"), checklist="discipline"),
        DATE,
        Column("at_fault", "boolean", ("单位有责", "是否有责", "at fault")),
    ), key=("unit", "person", "severity", "date"), event_kind="severity"),
)}

#: Checklists used when the scheme's settings.checklists gives none (None: the scheme must).
DEFAULT_CHECKLISTS: dict[str, dict[str, str] | None] = {
    "archive": {"registration": "登记", "case": "案件"},
    "spot_check": {
        # registration archives (登记档案)
        "beyond_authority": "超越职权", "beyond_time_limit": "超过时限", "wrong_procedure": "程序错误",
        "conditions_not_met": "不符合条件",
        # case archives (案件档案)
        "facts_unclear": "事实不清", "evidence_insufficient": "证据不足", "wrong_classification": "定性错误",
        "improper_penalty": "处罚不当", "illegal_procedure": "程序违法",
    },
    "inspection": None,
    "honour": {"town": "镇级", "city": "市级", "province": "省级", "national": "国家级"},
    "discipline": {"warning": "警告", "demerit": "记过", "major_demerit": "记大过", "demotion": "降级",
                   "dismissal": "撤职", "criminal": "追究刑事责任"},
}


def checklist(scheme: Scheme, name: str) -> dict[str, str]:
    """Lookup text → code for checklist ``name``: both codes and descriptions map to the code."""
    given: Any = (scheme.settings.get("checklists") or {}).get(name)
    if given is None:
        given = DEFAULT_CHECKLISTS.get(name)
    where = Location(file=str(scheme.path) if scheme.path else None, node=f"settings.checklists.{name}")
    if given is None:
        raise DataError(f"scheme {scheme.name} has no checklist {name!r}", location=where,
                        hint=f"add settings: {{checklists: {{{name}: {{code: description, …}}}}}} to the plan")
    if not isinstance(given, Mapping) or not given:
        raise DataError(f"checklist {name!r} of scheme {scheme.name} is not a mapping of code: description",
                        location=where, hint="write it as {code: description, …}")
    lookup = {str(desc).strip().casefold(): str(code) for code, desc in given.items() if desc}
    lookup.update({str(code).strip().casefold(): str(code) for code in given})
    return lookup
