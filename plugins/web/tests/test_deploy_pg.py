"""docs/deploy.md on the local PostgreSQL: its SQL run as written (names made unique), the owner
migrates, the app role signs users in, serves and stores the daily run, and cannot alter tables,
disable triggers or change append-only rows."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from jx_web.app import create_app
from jxcore.cli import main
from web_kit import POSTGRES_URL, login

DEPLOY = Path(__file__).resolve().parents[3] / "docs" / "deploy.md"


def _sql(name: str, owner: str, app: str, db: str) -> list[str]:
    text = re.search(rf"<!-- {name} -->\n```sql\n(.*?)```", DEPLOY.read_text(encoding="utf-8"), re.S).group(1)
    text = re.sub(r"\bjx_owner\b", owner, re.sub(r"\bjx_app\b", app, text))
    text = re.sub(r"\bDATABASE jx\b", f"DATABASE {db}", text)
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.fixture(scope="module")
def deployed():
    suffix = uuid.uuid4().hex[:8]
    owner, app, db = f"jx_owner_{suffix}", f"jx_app_{suffix}", f"jx_web_deploy_{suffix}"
    server = sa.make_url(POSTGRES_URL)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            for statement in _sql("roles.sql", owner, app, db):
                connection.exec_driver_sql(statement)
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    in_db = sa.create_engine(server.set(database=db), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with in_db.connect() as connection:
        for statement in _sql("schema.sql", owner, app, db):
            connection.exec_driver_sql(statement)
    in_db.dispose()
    owner_url = server.set(database=db, username=owner, password="owner-secret").render_as_string(False)
    app_url = server.set(database=db, username=app, password="app-secret").render_as_string(False)
    assert main(["user", "list", "--db", owner_url]) == 0  # step 3: the migrations, as the owner
    owner_engine = sa.create_engine(owner_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with owner_engine.connect() as connection:
        for statement in _sql("grants.sql", owner, app, db):
            connection.exec_driver_sql(statement)
    owner_engine.dispose()
    yield {"owner": owner, "app": app, "db": db, "owner_url": owner_url, "app_url": app_url}
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{app}"')
        connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{owner}"')
    admin.dispose()


def test_the_app_role_runs_serves_and_signs_in(deployed, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    monkeypatch.delenv("JX_PASSWORD", raising=False)
    app_url = deployed["app_url"]
    assert main(["run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-06-30",
                 "--db", app_url, "--json"]) == 0
    assert main(["run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-07-01",
                 "--db", app_url, "--json"]) == 0  # the next day's run
    capsys.readouterr()
    assert main(["user", "add", "admin", "--role", "admin", "--generate", "--db", app_url]) == 0  # step 4
    admin = re.search(r"password of admin \(shown once\): (\S+)", capsys.readouterr().out).group(1)
    monkeypatch.setenv("JX_PASSWORD", admin)
    assert main(["user", "add", "head-humen", "--role", "viewer", "--unit", "humen", "--generate", "--as", "admin",
                 "--db", app_url]) == 0
    head = re.search(r"password of head-humen \(shown once\): (\S+)", capsys.readouterr().out).group(1)
    app = create_app(scheme="guangdong", period=2010, db=app_url)
    web = app.state.web
    with TestClient(app) as client:
        assert login(client, "head-humen", head).status_code == 303
        board = client.get("/api/leaderboard").json()
        assert board["mine"]["code"] == "humen" and len(board["rows"]) == 33
        unit = client.get("/units/humen")  # no final result of an earlier year: the chart says none
        assert unit.status_code == 200 and 'id="years-history"' not in unit.text
        assert client.post("/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"',
                                                                client.get("/").text).group(1)}).status_code == 200
        assert client.get("/api/me").status_code == 401
    assert [r.as_of.isoformat() for r in web.store.runs("guangdong", 2010)] == ["2010-07-01", "2010-06-30"]
    assert board["previous"]["as_of"] == "2010-06-30"


FORBIDDEN = [
    "ALTER TABLE entries ADD COLUMN sneaky integer",
    "ALTER TABLE entries DISABLE TRIGGER ALL",
    "ALTER TABLE audit_chain DISABLE TRIGGER jx_append_only_audit_chain",
    "UPDATE entries SET reason = 'changed'",
    "DELETE FROM entries",
    "UPDATE audit_chain SET leaf = 'x'",
    "DELETE FROM audit_chain",
    "UPDATE record_locks SET reason = 'x'",
    "DELETE FROM entry_batches",
    "UPDATE run_plans SET document = '{}'",
    "DELETE FROM access_log",
    "TRUNCATE entries",
    "DROP TABLE runs",
]


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_app_role_cannot(deployed, statement):
    engine = sa.create_engine(deployed["app_url"], poolclass=sa.NullPool)
    with engine.connect() as connection:
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_the_owner_backs_up_with_pg_dump(deployed, tmp_path):
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    url = sa.make_url(deployed["owner_url"])
    dump = tmp_path / "jx.dump"
    subprocess.run(["pg_dump", "-Fc", "-h", url.host, "-p", str(url.port or 5432), "-U", deployed["owner"],
                    "-f", str(dump), deployed["db"]], check=True,
                   env={"PGPASSWORD": "owner-secret", "PATH": "/usr/bin:/bin"})
    listing = subprocess.run(["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True).stdout
    assert "TABLE public sessions" in listing and "TABLE DATA public entries" in listing
