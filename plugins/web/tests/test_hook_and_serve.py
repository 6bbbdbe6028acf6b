"""The ``jx_web_register_routes`` hook, and ``jx serve`` end to end in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from jx_web.app import create_app
from jx_web.security import signed_in
from jxcore import hookimpl
from jxcore.plugins import get_plugin_manager
from web_kit import login


class PackPage:
    """What a province's pack ships: its own page on the live site."""

    @hookimpl(optionalhook=True)
    def jx_web_register_routes(self, app, web):
        @app.get("/pack/hello", response_class=HTMLResponse, include_in_schema=False)
        def hello(request: Request) -> HTMLResponse:
            account = signed_in(request)
            return web.render(request, "error.html", title="hello", message=f"hello {account.name}, "
                              f"{web.catalog.results().view.scheme.name}")

        @app.post("/pack/echo", include_in_schema=False)
        def echo(request: Request) -> dict:
            return {"ok": signed_in(request).name}


def free_port() -> int:
    """A port nothing listens on now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_plugin_adds_a_page_that_is_signed_in_and_csrf_checked(web_home, accounts):
    pm = get_plugin_manager(plugins=[PackPage()])
    app = create_app(scheme="guangdong", period=2010, db=web_home["db"], pm=pm)
    with TestClient(app) as client:
        assert client.get("/pack/hello", follow_redirects=False).status_code == 303  # to the sign-in form
        assert login(client, "admin", accounts["admin"]).status_code == 303
        assert "hello admin, guangdong" in client.get("/pack/hello").text
        assert client.post("/pack/echo").status_code == 403  # no CSRF token
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
        assert client.post("/pack/echo", headers={"X-CSRF-Token": token}).json() == {"ok": "admin"}


def _wait(url: str, proc: subprocess.Popen) -> None:
    for _ in range(1800):  # making 46 accounts hashes 46 passwords first
        if proc.poll() is not None:
            raise AssertionError(f"jx serve exited: {proc.stdout.read()}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("jx serve did not answer")


def test_jx_serve_prints_demo_accounts_once_and_serves_with_workers(web_home, tmp_path):
    """A store without users: the first `jx serve` makes and prints the demo accounts; the next does not."""
    db = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    env = {**os.environ, "JX_HOME": str(tmp_path)}
    jx = str(Path(sys.executable).with_name("jx"))
    subprocess.run([jx, "run", "--scheme", "guangdong", "--period", "2010", "--as-of", "2010-06-30", "--db", db,
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL)  # a store with a run, no users
    for round_, workers in ((1, "2"), (2, "1")):
        proc = subprocess.Popen([jx, "serve", "--scheme", "guangdong", "--period", "2010", "--db", db,
                                 "--port", "18041", "--workers", workers], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            _wait("http://127.0.0.1:18041/healthz", proc)
            login_page = urllib.request.urlopen("http://127.0.0.1:18041/login").read().decode()
            assert "登录" in login_page
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            out = proc.communicate(timeout=30)[0]
        if round_ == 1:
            assert "demo accounts (shown once" in out
            assert re.search(r"^  admin\s+\S{16}\s+admin$", out, re.M)
            assert re.search(r"^  branch-humen\s+\S{16}\s+viewer humen$", out, re.M)
            assert "2 workers" in out
        else:
            assert "demo accounts" not in out


def test_every_web_hook_is_documented_with_an_example():
    from jx_web import hookspecs

    text = (Path(__file__).resolve().parents[3] / "docs" / "web.md").read_text(encoding="utf-8")
    sections = {s.split("\n", 1)[0].strip(): s for s in text.split("\n### ")[1:]}
    names = [n for n in vars(hookspecs) if n.startswith("jx_web_")]
    assert names == ["jx_web_register_routes"]
    assert all(name in sections and "@hookimpl(optionalhook=True)" in sections[name] for name in names)


def test_serve_refuses_a_daily_run_time_that_is_not_a_time(capsys):
    from jxcore.cli import main

    assert main(["serve", "--daily-run", "25:70"]) == 2
    assert "--daily-run '25:70' is not a time of day (write it as HH:MM" in capsys.readouterr().err


def test_serve_refuses_a_port_it_cannot_listen_on_before_making_anything(tmp_path, capsys):
    from jxcore.cli import main

    db = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--scheme", "guangdong", "--db", db, "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in captured.err
    assert "demo accounts" not in captured.out and not (tmp_path / "jx.sqlite").exists()  # no accounts made
    assert main(["serve", "--port", "99999"]) == 2
    assert "99999 is not in the range 1<=x<=65535" in capsys.readouterr().err


def test_daily_run_scores_as_of_today_inside_the_period(web_app):
    import datetime as dt

    from jx_web.app import daily_run

    web = web_app.state.web
    run_id = daily_run(web, today=dt.date(2010, 10, 8), actor="admin")
    stored = web.store.load_run(run_id)
    assert stored.as_of == dt.date(2010, 10, 8) and not stored.final
    assert web.catalog.latest_id() != run_id or web.catalog.results().view.as_of == dt.date(2010, 10, 8)


def test_serve_warns_when_no_account_can_sign_in(tmp_path, monkeypatch, capsys):
    import uvicorn

    from jxcore.cli import main
    from jxcore.records.access import add_user
    from jxcore.store import Store

    db = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    with Store.open(db) as store:
        add_user(store, "admin", role="admin")  # a user from before passwords
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert main(["serve", "--scheme", "guangdong", "--db", db, "--port", str(free_port())]) == 0
    captured = capsys.readouterr()
    assert "nobody can sign in: give one with jx user passwd NAME --generate" in captured.err
    assert "demo accounts" not in captured.out
