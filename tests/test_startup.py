"""Start-up: ``jx --help`` and ``jx plugins`` import no plugin and no heavy library; every declared
command still runs, and a broken command module is reported by name (issue 12). No clocks here:
the timings are in bench/startup.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from jxcore import plugin_meta
from jxcore.cli import CORE_COMMANDS, cli, main

#: Runs the CLI in a fresh interpreter, then prints the imported modules' names on stderr's last line.
WRAPPER = ("import sys, json\nfrom jxcore.cli import main\ncode = main(sys.argv[1:])\n"
           "print('MODULES=' + json.dumps(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)\n")
HEAVY = ("sqlalchemy", "duckdb", "numpy", "pluggy", "rich", "yaml", "attrs", "jinja2", "openpyxl", "pandas")


def plugin_packages() -> set[str]:
    """The top-level packages of every installed plugin entry point and declared command."""
    tops = {p.module.split(":")[0].split(".")[0] for p in plugin_meta.plugins()}
    tops |= {c.module.split(".")[0] for c in plugin_meta.commands(respect_switches=False).values()}
    return tops


def run_jx(*args: str, home: Path, site: Path | None = None,
           **env: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    environ = {**os.environ, "JX_HOME": str(home), **env}
    environ.pop("JX_DATABASE_URL", None)
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=environ,
                          check=False)
    last = proc.stderr.rstrip().splitlines()[-1] if proc.stderr.strip() else ""
    assert last.startswith("MODULES="), proc.stderr
    return proc, set(json.loads(last.removeprefix("MODULES=")))


def imported_plugins(modules: set[str]) -> set[str]:
    packages = plugin_packages()
    return {m for m in modules if m.split(".")[0] in packages}


def imported_heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_the_standard_plugins_are_known_from_metadata():
    assert {"jx_rules", "jx_collectors", "jx_outputs", "jx_scheme_guangdong"} <= plugin_packages()
    assert {"report", "explain", "sql", "demo"} <= set(plugin_meta.commands(respect_switches=False))


def test_help_imports_no_plugin_and_no_heavy_library(tmp_path):
    first, _ = run_jx("--help", home=tmp_path)  # the first reads the declared commands' help once
    proc, modules = run_jx("--help", home=tmp_path)
    assert proc.returncode == 0 and first.stdout == proc.stdout
    assert imported_plugins(modules) == set()
    assert imported_heavy(modules) == set()
    assert not any(m.startswith(("jxcore.plugins", "jxcore.services", "jxcore.store", "jxcore.models"))
                   for m in modules)
    for name in ("run", "validate", "plugins", "report", "explain", "sql", "demo", "plan", "import"):
        assert f"\n  {name} " in proc.stdout


def test_plugins_listing_imports_no_plugin(tmp_path):
    proc, modules = run_jx("plugins", home=tmp_path)
    assert proc.returncode == 0
    assert imported_plugins(modules) == set() and imported_heavy(modules) == set()
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert "jx-rules" in lines["rules"] and "jx: jx_rules.plugin" in lines["rules"]
    assert "explain, report" in lines["outputs"] and "demo" in lines["guangdong"]
    proc, modules = run_jx("plugins", "--json", home=tmp_path)
    assert imported_plugins(modules) == set()
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["outputs"]["distribution"] == "jx-outputs" and rows["outputs"]["commands"] == ["explain", "report"]
    assert rows["rules"]["loaded"] is False


def test_validate_imports_no_sqlalchemy_and_no_store(tmp_path):
    """Checking a pack reads no database: the collectors' checks and the entry values are plain
    Python (jx_collectors.system_feed_sql and jxcore.store load only when a command collects)."""
    proc, modules = run_jx("validate", "--scheme", "guangdong", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: scheme guangdong")
    assert {m.split(".")[0] for m in modules} & {"sqlalchemy", "duckdb", "duckdb_engine", "alembic"} == set()
    assert not any(m.startswith(("jxcore.store", "jx_collectors.system_feed_sql")) for m in modules)
    assert {"jx_collectors.system_feed", "jx_collectors.manual"} <= modules  # the checks did run
    proc, again = run_jx("validate", "--scheme", "guangdong", home=tmp_path)
    assert proc.returncode == 0 and "yaml" in modules and "yaml" not in again  # read from the parse cache


@pytest.mark.slow
def test_a_warm_run_on_a_duckdb_file_loads_no_driver_it_does_not_use(tmp_path):
    """A run on the demo's DuckDB file reads it with duckdb itself (no duckdb-engine), and opening
    the SQLite store loads neither SQLAlchemy's PostgreSQL nor its MySQL dialect; the run before it
    compiled the SQL and filled the cache, as a bureau's daily runs do."""
    store = f"sqlite:///{tmp_path / 'jx.sqlite'}"
    first, cold = run_jx("run", "--scheme", "guangdong", "--db", store, home=tmp_path, JX_USER="demo")
    assert first.returncode == 0, first.stderr
    assert "duckdb_engine" in cold  # a cold cache compiles the texts with duckdb-engine's dialect
    proc, modules = run_jx("run", "--scheme", "guangdong", "--db", store, home=tmp_path, JX_USER="demo")
    assert proc.returncode == 0, proc.stderr
    assert {"duckdb", "sqlalchemy.dialects.sqlite"} <= modules
    assert not {m for m in modules if m.split(".")[0] == "duckdb_engine"}
    assert not {m for m in modules if m.startswith(("sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mysql"))}
    # the same run (scheme, date, units, indicators) under another id
    assert proc.stdout.splitlines()[-1].split(":", 1)[1] == first.stdout.splitlines()[-1].split(":", 1)[1]


def test_plugins_load_imports_them_and_lists_what_they_provide(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    assert main(["plugins", "--json", "--load"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert "base_score" in rows["rules"]["rules"] and rows["guangdong"]["schemes"] == ["guangdong"]
    assert rows["outputs"]["commands"] == ["explain", "report"] and rows["outputs"]["loaded"] is True


def test_a_command_imports_only_its_own_plugin_module(tmp_path):
    proc, modules = run_jx("sql", "--help", home=tmp_path)
    assert proc.returncode == 0 and "Usage: jx sql" in proc.stdout
    assert {m.split(".")[0] for m in imported_plugins(modules)} == {"jx_collectors"}


def all_commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, click.Context(command, parent=ctx, info_name=name), (*prefix, name))


def test_every_command_is_invocable_and_shows_its_help(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    seen = []
    for path, _ in all_commands(cli, click.Context(cli, info_name="jx")):
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: jx {' '.join(path)}"), path
        seen.append(path)
    assert {("report",), ("serve",), ("demo", "generate"), ("plan", "diff"), ("entry", "add")} <= set(seen)


def test_core_command_modules_hold_the_named_commands():
    for name, value in CORE_COMMANDS.items():
        command = plugin_meta.DeclaredCommand(name, value, "jx", None).load()
        assert command.name == name, value


def fake_dist(site: Path, modules: dict[str, str], commands: dict[str, str],
              plugins: dict[str, str] | None = None) -> Path:
    """An installed distribution jx-cmds 1.0 written by hand, with jx.commands (and jx) entry points."""
    info = site / "jx_cmds-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jx-cmds\nVersion: 1.0\n")
    text = "[jx.commands]\n" + "".join(f"{n} = {v}\n" for n, v in commands.items())
    if plugins:
        text += "\n[jx]\n" + "".join(f"{n} = {v}\n" for n, v in plugins.items())
    (info / "entry_points.txt").write_text(text)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    return site


GOOD = '''
    import click

    @click.command()
    @click.argument("name")
    def greet(name):
        """Say hello to NAME."""
        click.echo(f"hello {name}")
'''


@pytest.fixture
def cmd_site(tmp_path) -> Path:
    return fake_dist(tmp_path / "site", {"jx_good_cmd": GOOD, "jx_bad_cmd": "raise RuntimeError('no such luck')\n",
                                         "jx_cmds_plugin": ""},
                     {"greet": "jx_good_cmd:greet", "broken": "jx_bad_cmd:command", "notcmd": "jx_good_cmd:click"},
                     {"cmds": "jx_cmds_plugin"})


def test_a_broken_command_module_is_reported_by_name_and_the_others_work(cmd_site, tmp_path):
    proc, _ = run_jx("--help", home=tmp_path / "home", site=cmd_site)
    assert proc.returncode == 0
    assert "Say hello to NAME." in proc.stdout and "\n  run " in proc.stdout
    assert ("command 'broken' (jx-cmds 1.0, jx_bad_cmd:command) failed to load: RuntimeError: no such luck"
            in proc.stderr)
    assert "command 'notcmd' (jx-cmds 1.0, jx_good_cmd:click) failed to load: TypeError" in proc.stderr
    assert "broken    (failed to load: RuntimeError: no such luck)" in proc.stdout
    proc, _ = run_jx("greet", "world", home=tmp_path / "home", site=cmd_site)
    assert proc.returncode == 0 and proc.stdout == "hello world\n"
    proc, _ = run_jx("broken", home=tmp_path / "home", site=cmd_site)
    assert proc.returncode == 2
    assert "error: command 'broken' of jx-cmds 1.0 failed to load: RuntimeError: no such luck" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc, _ = run_jx("validate", "--help", home=tmp_path / "home", site=cmd_site)
    assert proc.returncode == 0


def test_blocked_or_disabled_plugins_hide_their_commands(cmd_site, tmp_path):
    proc, _ = run_jx("--help", home=tmp_path / "home", site=cmd_site, JX_BLOCK_PLUGINS="cmds")
    assert "greet" not in proc.stdout and "broken" not in proc.stdout and "\n  run " in proc.stdout
    proc, _ = run_jx("--help", home=tmp_path / "home", site=cmd_site, JX_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "greet" not in proc.stdout and "\n  report " not in proc.stdout and "\n  run " in proc.stdout
    proc, _ = run_jx("--help", home=tmp_path / "home", site=cmd_site, JX_DISABLE_PLUGIN_AUTOLOAD="1",
                     JX_PLUGINS="jx_outputs.plugin")  # the named plugins' distributions keep their commands
    assert "\n  report " in proc.stdout and "\n  sql " not in proc.stdout and "greet" not in proc.stdout
    proc, _ = run_jx("plugins", home=tmp_path / "home", site=cmd_site)
    assert "cmds" in proc.stdout and "broken, greet, notcmd" in proc.stdout


def test_the_help_cache_follows_an_edited_command(tmp_path):
    cmd_site = fake_dist(tmp_path / "site", {"jx_good_cmd": GOOD}, {"greet": "jx_good_cmd:greet"})
    home = tmp_path / "home"
    proc, _ = run_jx("--help", home=home, site=cmd_site)
    assert "Say hello to NAME." in proc.stdout
    assert "greet" in json.loads((home / "cache" / "commands.json").read_text(encoding="utf-8"))
    module = cmd_site / "jx_good_cmd.py"
    module.write_text(module.read_text().replace("Say hello to NAME.", "Greet NAME warmly."))
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    proc, modules = run_jx("--help", home=home, site=cmd_site)
    assert "Greet NAME warmly." in proc.stdout and "Say hello" not in proc.stdout
    assert "jx_good_cmd" in modules  # read again once …
    proc, modules = run_jx("--help", home=home, site=cmd_site)
    assert "Greet NAME warmly." in proc.stdout and "jx_good_cmd" not in modules  # … then from the cache


def test_help_works_without_a_writable_home(cmd_site, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("not a directory")
    proc, _ = run_jx("--help", home=home, site=cmd_site)
    assert proc.returncode == 0 and "Say hello to NAME." in proc.stdout


def test_a_parsed_yaml_file_is_read_back_from_the_cache(tmp_path, monkeypatch):
    from jxcore.scheme import yamlio

    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    path = tmp_path / "plan.yaml"
    path.write_text("period: 2010\nwhen: 2010-03-01\nnodes:\n  - {code: A, points: 1.5, ok: true, none: null}\n"
                    "  - 12\n'2': quoted\n", encoding="utf-8")
    fresh, problems = yamlio.read_yaml(path, "plan.yaml", "")
    assert problems == [] and len(list((tmp_path / "home" / "cache" / "yaml").iterdir())) == 1

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(yamlio, "parse_yaml", no_parse)
    cached, problems = yamlio.read_yaml(path, "plan.yaml", "")
    assert problems == [] and cached == fresh and type(cached) is yamlio.LineDict
    assert (cached.line, cached.lines, cached["nodes"].lines) == (fresh.line, fresh.lines, fresh["nodes"].lines)
    assert cached["nodes"][0].lines == fresh["nodes"][0].lines and cached["when"] == fresh["when"]
    path.write_text(path.read_text(encoding="utf-8").replace("1.5", "2"), encoding="utf-8")
    with pytest.raises(AssertionError, match="parsed again"):  # another text: parsed, not the cached data
        yamlio.read_yaml(path, "plan.yaml", "")


def test_a_yaml_file_with_problems_is_not_cached(tmp_path, monkeypatch):
    from jxcore.scheme import yamlio

    monkeypatch.setenv("JX_HOME", str(tmp_path / "home"))
    path = tmp_path / "plan.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        _, problems = yamlio.read_yaml(path, "plan.yaml", "")
        assert [p.location.line for p in problems] == [2]
    assert not (tmp_path / "home" / "cache" / "yaml").exists()
