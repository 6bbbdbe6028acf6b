"""The command-line modules parse, call jxcore.services and print: no connections, no SQL (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULES = [ROOT / "jxcore" / "cli.py", ROOT / "jxcore" / "cli_entries.py", ROOT / "jxcore" / "cli_kit.py",
               ROOT / "jxcore" / "cli_records.py", ROOT / "jxcore" / "cli_plans.py", ROOT / "jxcore" / "cli_heads.py",
               ROOT / "plugins" / "outputs" / "jx_outputs" / "commands.py"]
FORBIDDEN_IMPORTS = ("sqlalchemy", "jxcore.store.tables", "jxcore.store.ledger", "jxcore.store.entries")
FORBIDDEN_CALLS = {"connect", "execute", "exec_driver_sql", "begin", "transaction"}


def offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"{path.name}:{node.lineno}: imports {n}" for n in names if n.startswith(FORBIDDEN_IMPORTS)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_CALLS:
            found.append(f"{path.name}:{node.lineno}: calls .{node.func.attr}()")
    return found


def test_cli_modules_open_no_connections_and_build_no_sql():
    assert [o for path in CLI_MODULES for o in offences(path)] == []


def test_the_check_catches_a_cli_that_runs_sql(tmp_path):
    bad = tmp_path / "cli_bad.py"
    bad.write_text("import sqlalchemy as sa\n\ndef f(store):\n    with store.engine.connect() as c:\n"
                   "        c.execute(sa.text('DELETE FROM entries'))\n")
    assert len(offences(bad)) == 3
