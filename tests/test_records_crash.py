"""SIGKILL at random moments of `jx run --final` (issue 7): whole runs or none, a sound database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

N_UNITS, N_INDICATORS, KILLS = 25, 40, 205

PLUGIN = '''
"""A test plugin: a deterministic collector and an output that takes its time inside the transaction."""
import time
import numpy as np
from jxcore.hookspecs import hookimpl
from jxcore.models import Measure


class Fixed:
    name = "fixed"
    description = "deterministic values"
    params = ()

    def collect(self, ctx, requests):
        n = len(ctx.units)
        return {r.node.code: Measure(r.node.code, (np.arange(n) * (i + 3) % 17) / 16.0)
                for i, r in enumerate(requests)}


class Slow:
    name = "slow"
    description = "sleeps, reading the run back, so kills land inside the transaction"
    params = ()

    def emit(self, ctx):
        for _ in range(5):
            ctx.store.latest_run(ctx.result.run.scheme, ctx.result.run.period)
            time.sleep(0.004)


@hookimpl
def jx_register_collectors(register):
    register(Fixed())


@hookimpl
def jx_register_outputs(register):
    register(Slow())
'''

# The forking driver: imports jx once, then runs `jx run` in forked children and kills them.
DRIVER = '''
import json, os, random, signal, sqlite3, sys, time
from jxcore.cli import main
import jxcore.engine, jxcore.services, jxcore.records.heads  # what a run imports lazily: once, not per child
from cryptography.hazmat.primitives import serialization  # the signing key's loader

pack, url, path, kills = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
args = ["run", "--scheme", pack, "--period", "2010", "--as-of", "2010-06-30", "--db", url, "--final", "--json"]


def child():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os._exit(main(args))


def fork_run():
    pid = os.fork()
    if pid == 0:
        child()
    return pid


def check():
    with sqlite3.connect(path) as db:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        partial = db.execute("""SELECT count(*) FROM runs r WHERE r.status <> 'finished'
            OR r.unit_count <> (SELECT count(*) FROM run_units u WHERE u.run_id = r.id)
            OR r.node_count <> (SELECT count(*) FROM run_nodes n WHERE n.run_id = r.id)""").fetchone()[0]
    return ok, partial


for _ in range(2):  # the first run also migrates the store and makes the key: time the second
    start = time.perf_counter()
    pid = fork_run()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "a first run failed"
duration = time.perf_counter() - start
random.seed(7)
killed = completed = bad_checks = partial_runs = 0
while killed < kills and killed + completed < 3 * kills:
    pid = fork_run()
    time.sleep(pause := random.uniform(0, duration))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        killed += 1
    else:  # it ran in less than the pause: a busy machine made the first timing long; aim lower
        completed += 1
        duration = min(duration, pause)
    ok, partial = check()
    bad_checks += ok != "ok"
    partial_runs += partial
print(json.dumps({"killed": killed, "completed": completed, "bad_checks": bad_checks,
                  "partial_runs": partial_runs, "run_seconds": duration}))
'''


def write_pack(root) -> None:
    (root / "plans").mkdir(parents=True)
    (root / "scheme.yaml").write_text(json.dumps({"name": "crash", "title": "crash", "units": "units.yaml",
                                                  "plans": "plans", "outputs": ["slow"]}), encoding="utf-8")
    units = [{"code": f"u{i:02d}", "name": f"单位{i}", "staff": 10 + i, "entities": 1000 * i} for i in range(N_UNITS)]
    (root / "units.yaml").write_text(json.dumps({"units": units}, ensure_ascii=False), encoding="utf-8")
    rule = {"name": "base_score", "params": {"target": 0.5, "step": 0.05, "per_step_below": 0.25}}
    indicators = [{"code": f"A.{i}", "name": f"指标{i}", "points": 2.5, "collector": "fixed", "rule": rule}
                  for i in range(N_INDICATORS)]
    plan = {"period": 2010, "name": "2010", "scale": 100,
            "nodes": [{"code": "A", "name": "业务", "points": 100, "children": indicators}]}
    (root / "plans" / "2010.yaml").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments_leaves_whole_runs_and_a_sound_store(tmp_path):
    write_pack(tmp_path / "crash")
    (tmp_path / "crashplugin.py").write_text(PLUGIN, encoding="utf-8")
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER), encoding="utf-8")
    db = tmp_path / "store.sqlite"
    url = f"sqlite:///{db}"
    env = {**os.environ, "JX_HOME": str(tmp_path / "home"), "JX_DISABLE_PLUGIN_AUTOLOAD": "1",
           "JX_PLUGINS": "crashplugin,jx_rules.plugin", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("JX_DATABASE_URL", None)
    # Limits scale with this machine's speed now (a shared machine may be ten times slower than a
    # quiet one): the baseline is one process importing the CLI, a large part of each child's run.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jxcore.cli"], env=env, check=True)
    baseline = time.perf_counter() - start
    out = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "crash"), url, str(db),
                          str(KILLS)], env=env, capture_output=True, text=True, timeout=60 + KILLS * 10 * baseline)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])

    from jxcore.records import verify
    from jxcore.store import Store

    with Store.open(url) as store:
        runs = store.runs("crash", 2010)
        first = runs[-1]
        with store.engine.connect() as connection:
            chain = verify(connection)
    rerun = subprocess.run([sys.executable, "-c",
                            "import sys; from jxcore.cli import main; sys.exit(main(sys.argv[1:]))",
                            "run", "--scheme", str(tmp_path / "crash"), "--period", "2010", "--as-of", "2010-06-30",
                            "--db", url, "--json"], env=env, capture_output=True, text=True,
                           timeout=60 + 100 * baseline)
    assert rerun.returncode == 0, rerun.stderr
    with Store.open(url) as store:
        latest = store.load_run(json.loads(rerun.stdout)["run_id"])
        differing = sum(not (r.scores == first.scores).all() for r in [latest, *runs])
    print(f"\nkills={figures['killed']} completed_during_test={figures['completed']} "
          f"integrity_failures={figures['bad_checks']} partial_runs={figures['partial_runs']} "
          f"stored_runs={len(runs)} rerun_differs={differing} chain_findings={len(chain.findings)} "
          f"run_seconds={figures['run_seconds']:.2f}")
    assert figures["killed"] >= 200
    assert figures["bad_checks"] == 0 and figures["partial_runs"] == 0
    # every finished run is stored; a child killed after its commit has a whole run stored too
    assert 2 + figures["completed"] <= len(runs) <= 2 + figures["completed"] + figures["killed"]
    assert chain.ok, chain.findings[:3]
    assert differing == 0
