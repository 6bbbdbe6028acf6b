"""The demo manual sources: the files the bureau's sections send in, one directory per year.

Spot-check sheets (业务抽查), inspection findings (督察), two mystery-shopper rounds (中介暗访),
special acceptances (专项验收), honours (荣誉) and discipline (违纪) are drawn from the same unit
qualities as the business database (:func:`jx_scheme_guangdong.demo.qualities`), so a branch weak
in registration also fails more registration spot checks. They are written as a bureau would send
them: CSV in UTF-8 with a BOM, one CSV in GBK (the mystery-shopper agency's), and XLSX, with
Chinese headers and unit names. :func:`import_year` feeds them through jx_collectors' real import
path (:func:`jxcore.services.import_file`), as user ``demo``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import Workbook

from jx_scheme_guangdong.demo import AREAS, SCHEMA_VERSION, qualities
from jxcore.models import Scheme, Unit

YEARS = range(2007, 2011)
#: Checklists of the pack (settings.checklists): inspection finding types have no default.
INSPECTION_FINDINGS = {
    "absent": "无故缺岗", "late_handling": "办理超时", "bad_service": "服务态度差", "online_error": "网上审批差错",
    "callback_unsatisfied": "回访当事人不满意", "window_unstaffed": "窗口无人值守", "dress": "着装不规范",
    "work_discipline": "违反工作纪律", "record_missing": "执法记录不全", "fee_irregular": "违规收费",
    "rectify_late": "整改不及时",
    # internal affairs (内务管理), found by the personnel section's unannounced checks
    "attendance_absent": "考勤无故缺勤", "late_early": "迟到早退", "vehicle_misuse": "公车私用",
    "duty_missing": "值班脱岗", "office_disorder": "办公场所脏乱", "safety_hazard": "消防安全隐患",
    "confidential_leak": "泄密", "property_loss": "财物管理不善",
}
#: Finding types of the inspection team (督察通报) and of the internal-affairs checks (内务检查通报).
TEAM_FINDINGS = tuple(INSPECTION_FINDINGS)[:11]
INTERNAL_FINDINGS = tuple(INSPECTION_FINDINGS)[11:]
NOTES = ("暗访发现", "网上巡查发现", "电话回访发现")
REGISTRATION_DEFECTS = ("beyond_authority", "beyond_time_limit", "wrong_procedure", "conditions_not_met")
CASE_DEFECTS = ("facts_unclear", "evidence_insufficient", "wrong_classification", "improper_penalty",
                "illegal_procedure")
DEFECT_NAMES = {"beyond_authority": "超越职权", "beyond_time_limit": "超过时限", "wrong_procedure": "程序错误",
                "conditions_not_met": "不符合条件", "facts_unclear": "事实不清", "evidence_insufficient": "证据不足",
                "wrong_classification": "定性错误", "improper_penalty": "处罚不当", "illegal_procedure": "程序违法"}
#: Special acceptance projects (专项验收) and the work area whose quality drives their score.
PROJECTS = {"无照经营清理": "enterprise", "农贸市场示范创建": "market", "企业信用体系建设": "enterprise",
            "红盾护农": "market", "商标战略实施": "trademarks", "档案规范化管理": "office"}
HONOURS = {"town": ("镇级", "镇先进单位"), "city": ("市级", "市文明窗口"), "province": ("省级", "省青年文明号"),
           "national": ("国家级", "全国工商系统先进集体")}
SEVERITIES = {"warning": "警告", "demerit": "记过", "major_demerit": "记大过", "demotion": "降级",
              "dismissal": "撤职", "criminal": "追究刑事责任", "job_error": "岗位过错", "accident": "责任事故"}
INSPECTORS = ("第一督察组 李明", "第二督察组 陈静", "第三督察组 黄伟")
SURNAMES = "陈李黄张王刘林何郑梁谢罗"
#: file name → (kind of manual data, how it is written)
FILES = {
    "业务抽查登记表.csv": "spot_check", "督察通报.xlsx": "inspection", "中介暗访结果.csv": "mystery_shopper",
    "内务检查通报.xlsx": "inspection", "专项验收评分.xlsx": "acceptance", "荣誉.csv": "honour",
    "违纪处分.csv": "discipline",
}
GBK_FILES = ("中介暗访结果.csv",)
STAMP = ".demo-version"


def year_dir(root: Path, year: int) -> Path:
    return Path(root) / str(year)


def _date(year: int, rng: np.random.Generator, first: tuple[int, int], last: tuple[int, int], n: int) -> list[str]:
    start = dt.date(year, *first).toordinal()
    end = dt.date(year, *last).toordinal()
    return [dt.date.fromordinal(int(d)).isoformat() for d in rng.integers(start, end + 1, n)]


def _rows(units: Sequence[Unit], year: int, q: np.ndarray, seed: int) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """header and rows of each file for ``year``; q[unit, area] is that year's quality."""
    rng = np.random.default_rng([seed, 3, year])
    names = [u.name for u in units]
    n = len(units)
    a = {name: q[:, i] for i, name in enumerate(AREAS)}
    files: dict[str, tuple[list[str], list[list[Any]]]] = {}

    # Spot checks: three draws a year, four registration files and three case files per unit each time.
    rows = []
    for draw, (month, day) in enumerate(((4, 15), (7, 15), (10, 15)), start=1):
        for archive, codes, area, per_file in (("登记", REGISTRATION_DEFECTS, "registration", 4),
                                               ("案件", CASE_DEFECTS, "cases", 3)):
            p = 0.02 + 0.16 * (1 - a[area])  # chance of each defect code on one file
            hits = rng.random((n, per_file, len(codes))) < p[:, None, None] / len(codes) * 2
            for u in range(n):
                for f in range(per_file):
                    found = "、".join(DEFECT_NAMES[codes[k]] for k in np.flatnonzero(hits[u, f]))
                    prefix = "DJ" if archive == "登记" else "AJ"
                    rows.append([dt.date(year, month, day).isoformat(), names[u], archive,
                                 f"{prefix}{year}-{units[u].code}-{draw}{f + 1:02d}", found])
    files["业务抽查登记表.csv"] = (["日期", "单位", "档案类别", "档案号", "瑕疵"], rows)

    # Inspection findings: a few a year, more where conduct and service are weak; the internal-affairs
    # checks of the personnel section find fewer, more where conduct is weak.
    for name, findings, weights, rate, who in (
            ("督察通报.xlsx", TEAM_FINDINGS, [3, 3, 2, 2, 2, 1, 2, 1, 2, 1, 1], 7, INSPECTORS),
            ("内务检查通报.xlsx", INTERNAL_FINDINGS, [3, 3, 1, 2, 2, 1, 0.3, 1], 3, ("人事科 周敏", "办公室 吴刚"))):
        p = np.array(weights, dtype=float) / sum(weights)
        counts = rng.poisson(0.3 + rate * (1 - (a["conduct"] + a["service"]) / 2) ** 1.5)
        rows = []
        for u in np.repeat(np.arange(n), counts):
            finding = findings[rng.choice(len(findings), p=p)]
            note = NOTES[rng.choice(3, p=[0.5, 0.3, 0.2])] if who is INSPECTORS else "内务检查"
            rows.append([_date(year, rng, (1, 5), (12, 20), 1)[0], names[u], INSPECTION_FINDINGS[finding],
                         note, who[rng.integers(len(who))]])
        files[name] = (["日期", "单位", "问题类型", "说明", "督察人"], [list(r) for r in sorted(set(map(tuple, rows)))])

    # Mystery shopper: two rounds (May, November), a score out of 100 per visit.
    rows = []
    for rnd, (first, last) in enumerate((((5, 1), (5, 31)), ((11, 1), (11, 30))), start=1):
        score = np.clip(58 + 40 * a["service"] + rng.normal(0, 4, n), 0, 100).round(1)
        days = _date(year, rng, first, last, n)
        rows += [[rnd, days[u], names[u], float(score[u])] for u in range(n)]
    files["中介暗访结果.csv"] = (["轮次", "日期", "单位", "得分"], rows)

    # Special acceptance at year end: every project, every unit.
    rows = []
    for project, area in PROJECTS.items():
        score = np.clip(55 + 43 * a[area] + rng.normal(0, 5, n), 0, 100).round(0)
        rows += [[project, names[u], int(score[u]), f"{year}-12-10"] for u in range(n)]
    files["专项验收评分.xlsx"] = (["项目", "单位", "得分", "日期"], rows)

    # Honours: better units collect more and higher ones; only the highest will count.
    rows = []
    overall = q.mean(axis=1)
    for level, chance in (("town", 0.5), ("city", 0.3), ("province", 0.12), ("national", 0.03)):
        got = rng.random(n) < chance * (0.3 + 1.4 * overall)
        label, title = HONOURS[level]
        rows += [[names[u], label, _date(year, rng, (3, 1), (12, 15), 1)[0], f"{year}年度{title}"]
                 for u in np.flatnonzero(got)]
    files["荣誉.csv"] = (["单位", "级别", "日期", "荣誉名称"], rows)

    # Discipline: rare; the unit was not always at fault.
    rows = []
    counts = rng.poisson(0.05 + 1.2 * (1 - a["conduct"]) ** 3)
    severities = list(SEVERITIES)
    for k, u in enumerate(np.repeat(np.arange(n), counts)):
        severity = severities[rng.choice(len(severities), p=[0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.2, 0.1])]
        person = SURNAMES[rng.integers(len(SURNAMES))] + ("某" * (1 + k % 2))
        rows.append([names[u], person, SEVERITIES[severity], _date(year, rng, (2, 1), (12, 15), 1)[0],
                     "是" if rng.random() < 0.8 else "否"])
    files["违纪处分.csv"] = (["单位", "当事人", "处分", "日期", "单位有责"],
                           [list(r) for r in sorted(set(map(tuple, rows)))])
    return files


def _write_file(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    if path.suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = path.stem
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(path)
        return
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    encoding = "gbk" if path.name in GBK_FILES else "utf-8-sig"
    path.write_bytes(text.getvalue().encode(encoding))


def generate(root: Path, units: Sequence[Unit], *, years: Sequence[int] = YEARS, seed: int = 2010) -> None:
    """Write every year's files under ``root/<year>/``; each year directory is replaced whole."""
    units = list(units)
    years = list(years)
    q = qualities(units, YEARS, seed)
    for year in years:
        files = _rows(units, year, q[:, list(YEARS).index(year)], seed)
        target = year_dir(root, year)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, (header, rows) in files.items():
            if rows:  # a section with nothing to report that year sends no file
                _write_file(tmp / name, header, rows)
        (tmp / STAMP).write_text(str(SCHEMA_VERSION))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)


def ensure(root: Path, units: Sequence[Unit], year: int, *, seed: int = 2010) -> Path:
    """The directory of ``year``'s files, generated if missing or older than the schema version."""
    target = year_dir(root, year)
    stamp = target / STAMP
    if not (stamp.exists() and stamp.read_text().strip() == str(SCHEMA_VERSION)):
        generate(root, units, years=[year], seed=seed)
    return target


def import_year(store: Any, scheme: Scheme, root: Path, *, seed: int = 2010) -> list:
    """Import ``scheme``'s period's demo files into ``store`` as user ``demo``; the import reports."""
    from jxcore.plugins import Registry, get_plugin_manager
    from jxcore.services.entries import counted, import_entries, reader_of

    registry = Registry.from_plugin_manager(get_plugin_manager())
    folder = ensure(root, scheme.units, scheme.period.year, seed=seed)
    reports = []
    for name, kind in FILES.items():
        if not (folder / name).exists():
            continue
        # The files hold every year's kinds of findings; an earlier plan counts fewer of them, and an
        # entry that counts nowhere is refused: import the rows this year's plan reads.
        source = reader_of(registry, kind)[1].read_file(scheme, kind, folder / name)
        rows = [r for chunk in source.chunks() for r in chunk]
        rows = [r for r, keep in zip(rows, counted(registry, scheme, kind, rows).tolist()) if keep]
        if rows:
            reports.append(import_entries(store, registry, scheme, kind, rows, source=source.name,
                                          sha256=source.sha256, user="demo"))
    return reports
