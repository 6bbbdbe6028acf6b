"""Manual data sources (issue 4): strict CSV/XLSX imports with provenance, and the ``manual`` collector.

``kinds`` declares each kind of data as a table of columns; ``reading`` turns a file into cells;
``importer`` checks them (the core's entry services write them); ``collector`` builds measures from them;
``command`` is ``jx import``. See docs/imports.md.
"""

from jx_collectors.manual.collector import ManualCollector
from jx_collectors.manual.importer import check_file, read_fields, read_file
from jx_collectors.manual.kinds import DEFAULT_CHECKLISTS, KINDS, Column, Kind

__all__ = ["DEFAULT_CHECKLISTS", "KINDS", "Column", "Kind", "ManualCollector", "check_file", "read_fields",
           "read_file"]
