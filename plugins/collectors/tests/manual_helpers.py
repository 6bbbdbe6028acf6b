"""A small scheme and file writers shared by the manual-import tests."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from jxcore.scheme import scheme_from_dict
from jxcore.testing import write_pack

UNITS = [
    {"code": "humen", "name": "虎门", "staff": 50, "entities": 50000},
    {"code": "changan", "name": "长安", "staff": 30, "entities": 28000},
    {"code": "hongmei", "name": "洪梅", "staff": 8, "entities": 2300},
]
CHECKLISTS = {"inspection": {"absent": "无故缺岗", "late": "办理超时"}}


def indicator(code: str, rule: dict, kind: str, **params) -> dict:
    return {"code": code, "name": code, "points": 10, "rule": rule,
            "collector": {"name": "manual", "params": {"kind": kind, **params}}}


PLAN = {"scale": 60, "nodes": [{"code": "YW", "name": "业务", "points": 60, "children": [
    indicator("YW.DJCC",
              {"name": "per_event", "params": {"deductions": {"beyond_authority": 2, "wrong_procedure": 1.5}}},
              "spot_check", where={"archive": "registration"}),
    indicator("YW.AJCC", {"name": "per_event", "params": {"deductions": {"facts_unclear": 2}}},
              "spot_check", where={"archive": "case"}),
    indicator("YW.WJ", {"name": "per_event", "params": {"deductions": {"warning": 2, "major_demerit": 5}}},
              "discipline"),
    indicator("YW.DC", {"name": "per_event", "params": {"deductions": {"absent": 1}}}, "inspection"),
    indicator("YW.AF", {"name": "mystery_stars", "params": {"points_by_star": [2, 4, 6, 8, 10]}},
              "mystery_shopper"),
    indicator("YW.YS", {"name": "pass_fail", "params": {"target": 60, "missing": "zero"}}, "acceptance"),
]}]}


def small_scheme():
    return scheme_from_dict(PLAN, units=UNITS, name="mini", settings={"checklists": CHECKLISTS})


def mini_pack(root: Path, plan: dict, **scheme) -> Path:
    """The small scheme as a pack directory, for tests through the command line."""
    return write_pack(root, {"name": "2010", **plan}, units=UNITS,
                      scheme={"name": "mini", "title": "迷你", **scheme, "settings": {"checklists": CHECKLISTS}})


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list], title: str = "抽查") -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def import_file(store, scheme, kind: str, path, *, user: str = "tester", sheet: str | None = None, now=None):
    """jxcore.services.import_file with the installed plugins' registry (the tests' shorthand)."""
    from jxcore import services
    from jxcore.plugins import Registry, get_plugin_manager

    registry = Registry.from_plugin_manager(get_plugin_manager())
    return services.import_file(store, registry, scheme, kind, path, user=user, sheet=sheet, entered_at=now)
