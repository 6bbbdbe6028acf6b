"""Runs keep their plan, are idempotent per as-of date, and move against the previous day (issue 11)."""

from __future__ import annotations

from pathlib import Path

from jxcore import services
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.store import Store
from test_cli import PLAN, jx, toy_pack


def pack(tmp_path: Path, name: str) -> Path:
    """The toy pack of test_cli (two units, one indicator at full points), its indicator named ``name``."""
    return toy_pack(tmp_path, PLAN.replace("RULE", "test_full").replace("name: one", f"name: {name}"))


def test_a_stored_run_is_read_with_its_own_plan_and_a_changed_plan_is_said(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    path = pack(tmp_path, "one")
    assert jx(capsys, "run", "--scheme", str(path), "--db", db, "--as-of", "2010-06-30")[0] == 0
    pack(tmp_path, "renamed")  # the plan changes after the run
    registry = Registry.from_plugin_manager(get_plugin_manager())
    now = services.open_scheme(registry, str(path), 2010)
    with Store.open(db) as store:
        view = services.stored_view(store, registry, now)
        assert view.scheme.nodes["X.1"].name == "one" and view.plan_differs
        assert services.run_document(view)["plan_differs"] is True
    code, out, _ = jx(capsys, "runs", "--scheme", str(path), "--db", db)
    assert code == 0 and "(not the installed plan)" in out


def test_runs_are_idempotent_per_day_and_move_against_the_previous_day(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    path = str(pack(tmp_path, "one"))
    for day in ("2010-06-30", "2010-06-30", "2010-12-31", "2010-03-31"):  # the same day twice; one back-dated
        assert jx(capsys, "run", "--scheme", path, "--db", db, "--as-of", day)[0] == 0
    registry = Registry.from_plugin_manager(get_plugin_manager())
    with Store.open(db) as store:
        runs = services.list_runs(store, "toy", 2010)
        assert sorted(str(r.as_of) for r in runs) == ["2010-03-31", "2010-06-30", "2010-12-31"]
        view = services.stored_view(store, registry, "toy", 2010)
        assert str(view.as_of) == "2010-12-31"  # the current run: the latest as-of, not the last stored
        assert str(services.previous_view(store, registry, view).as_of) == "2010-06-30"
        back = next(r for r in runs if str(r.as_of) == "2010-03-31")
    code, out, _ = jx(capsys, "runs", "--scheme", path, "--db", db, "--discard", back.id)
    assert code == 0 and "discarded run" in out
    code, out, _ = jx(capsys, "runs", "--scheme", path, "--db", db)
    assert out.count("as of") == 2 and "(not the installed plan)" not in out


def test_a_final_run_cannot_be_discarded(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    path = str(pack(tmp_path, "one"))
    assert jx(capsys, "run", "--scheme", path, "--db", db, "--final")[0] == 0
    with Store.open(db) as store:
        run_id = services.list_runs(store, "toy")[0].id
    code, _, err = jx(capsys, "runs", "--scheme", path, "--db", db, "--discard", run_id)
    assert code == 2 and "is final and cannot be discarded" in err


def test_plugins_lists_declared_parameters(capsys):
    code, out, _ = jx(capsys, "plugins", "--params")
    assert code == 0 and "rule bands:" in out and "  direction (string; one of higher, lower; default 'higher')" in out
    code, out, _ = jx(capsys, "plugins", "--json", "--params")
    import json

    doc = json.loads(out)
    assert {p["name"] for p in doc["params"]["collectors"]["manual"]} >= {"kind", "where"}


def test_run_prints_what_the_terminal_options_ask(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    path = str(toy_pack(tmp_path, PLAN.replace("RULE", "test_full"), outputs="[ranking]"))
    code, narrow, _ = jx(capsys, "run", "--scheme", path, "--db", db)
    assert code == 0 and "item" not in narrow.split("run ")[0]  # no item columns by default
    code, wide, _ = jx(capsys, "run", "--scheme", path, "--db", db, "--wide", "--all", "--unit", "b")
    assert code == 0 and "item" in wide and "100" in wide
    code, out, err = jx(capsys, "run", "--scheme", path, "--db", db, "--unit", "nosuch")
    assert code == 2 and out == ""  # refused before anything is collected, printed or stored
    assert "unit 'nosuch' is not a unit of scheme toy 2010 (give a unit code such as a, b)" in err
    with Store.open(db) as store:
        assert len(services.list_runs(store, "toy")) == 1


def test_a_run_tells_its_progress_step_by_step(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_PLUGINS", "failing_plugin")
    registry = Registry.from_plugin_manager(get_plugin_manager())
    scheme = services.open_scheme(registry, str(pack(tmp_path, "one")), 2010)
    steps: list[str] = []
    with Store.open(f"sqlite:///{tmp_path / 's.sqlite'}") as store:
        services.run(store, registry, scheme, progress=steps.append)
    assert steps == ["collecting", "scoring", "storing"]
