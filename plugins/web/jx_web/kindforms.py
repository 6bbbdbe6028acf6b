"""Entry forms and XLSX templates built from a manual kind's declared columns.

The ``manual`` collector declares each kind as a table of typed columns
(``jx_collectors.manual.kinds.KINDS``); :func:`kind_form` turns one into form fields (a Chinese
label, the input type, the allowed values of a checklist, the units by name, the period's dates),
and :func:`template_xlsx` into a workbook whose header row the importer accepts, with Excel
data-validation lists for units and checklist codes. Nothing here checks values: the importer
does, for forms and files alike.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import attrs

from jxcore.models import Scheme

_CJK = re.compile(r"[\u3400-\u9fff]")


@attrs.frozen
class Field:
    """One form field: ``name`` is the column the importer reads; ``choices`` (value, label) pairs."""

    name: str
    label: str  #: the column's first Chinese alias (the header of the template)
    type: str  #: the kind's column type (unit, date, text, integer, number, boolean, code, codes)
    required: bool
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def input(self) -> str:
        """The HTML input type (``select`` for units, codes and yes/no)."""
        if self.type in ("unit", "code", "boolean"):
            return "select"
        if self.type == "codes":
            return "checkboxes"
        return {"date": "date", "integer": "number", "number": "number"}.get(self.type, "text")


def _label(column) -> str:
    return next((a for a in column.aliases if _CJK.search(a)), column.name)


def checklist_choices(scheme: Scheme, name: str) -> tuple[tuple[str, str], ...]:
    """(code, description) of checklist ``name``: the scheme's ``settings.checklists`` or the
    manual collector's defaults; empty when neither has one (the importer then says so)."""
    from jx_collectors.manual.kinds import DEFAULT_CHECKLISTS

    given: Any = (scheme.settings.get("checklists") or {}).get(name)
    if given is None:
        given = DEFAULT_CHECKLISTS.get(name)
    if not isinstance(given, Mapping):
        return ()
    return tuple((str(code), str(desc or code)) for code, desc in given.items())


def entry_kinds() -> Mapping[str, str]:
    """kind → Chinese title of every manual kind."""
    from jx_collectors.manual.kinds import KINDS

    return {name: kind.title for name, kind in KINDS.items()}


def kind_form(scheme: Scheme, kind: str) -> list[Field]:
    """The fields of one manual kind, in its declared column order."""
    from jx_collectors.manual.kinds import KINDS

    fields = []
    for c in KINDS[kind].columns:
        choices: tuple[tuple[str, str], ...] = ()
        if c.type == "unit":
            choices = tuple((u.code, u.name) for u in scheme.units)
        elif c.type in ("code", "codes") and c.checklist:
            choices = checklist_choices(scheme, c.checklist)
        elif c.type == "boolean":
            choices = (("是", "是"), ("否", "否"))
        fields.append(Field(c.name, _label(c), c.type, c.required, c.minimum, c.maximum, choices))
    return fields


def template_xlsx(scheme: Scheme, kind: str) -> bytes:
    """An empty workbook for ``kind``: Chinese headers the importer reads, a hidden sheet of allowed
    values, and data validation (lists for units and codes, the period's dates, number ranges)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = entry_kinds()[kind][:31]
    lists = book.create_sheet("allowed")
    lists.sheet_state = "hidden"
    last_row = 5000
    for i, f in enumerate(kind_form(scheme, kind), start=1):
        letter = get_column_letter(i)
        sheet.cell(row=1, column=i, value=f.label)
        sheet.column_dimensions[letter].width = max(12, 3 * len(f.label))
        target = f"{letter}2:{letter}{last_row}"
        check: DataValidation | None = None
        if f.type in ("unit", "code", "boolean") and f.choices:
            # units by name, codes by their description: the importer accepts either
            for row, (_, label) in enumerate(f.choices, start=1):
                lists.cell(row=row, column=i, value=label)
            source = f"{quote_sheetname(lists.title)}!${letter}$1:${letter}${len(f.choices)}"
            check = DataValidation(type="list", formula1=source, allow_blank=not f.required)
        elif f.type == "date":
            check = DataValidation(type="date", operator="between", formula1=f"DATE({scheme.period.year},1,1)",
                                   formula2=f"DATE({scheme.period.year},12,31)", allow_blank=not f.required)
            for row in range(2, 200):
                sheet.cell(row=row, column=i).number_format = "yyyy-mm-dd"
        elif f.type == "codes" and f.choices:  # several codes a cell: no list, the allowed ones as a prompt
            check = DataValidation(allow_blank=True, showInputMessage=True, promptTitle=f.label[:32],
                                   prompt="、".join(label for _, label in f.choices)[:250])
        elif f.type in ("integer", "number") and (f.minimum is not None or f.maximum is not None):
            check = DataValidation(type="whole" if f.type == "integer" else "decimal", operator="between",
                                   formula1=str(f.minimum if f.minimum is not None else -1e12),
                                   formula2=str(f.maximum if f.maximum is not None else 1e12),
                                   allow_blank=not f.required)
        if check is not None:
            check.error = f"{f.label}: not an allowed value"
            check.showErrorMessage = True
            sheet.add_data_validation(check)
            check.add(target)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
