"""A Spark Connect server on this machine, from the jars pyspark ships: for tests, the benchmark and
trying jx's Spark source without a cluster.

``SparkConnect(...)`` starts ``SparkConnectServer`` with ``bin/spark-submit`` (master ``local[N]``)
or, with ``workers=2``, a standalone master and two workers (``bin/spark-class …Master`` /
``…Worker``) and the server on that master. Every JVM runs in its own process group and binds
127.0.0.1 on the ports given (``base_port`` + fixed offsets); ``stop()`` (or leaving the ``with``
block) kills the groups, so no JVM outlives its owner. Nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import attrs

from jxcore.errors import JxError

#: offsets from base_port: Connect, driver RPC, block managers (up to 8 more on retries), master,
#: master UI, workers (port and UI each): a server with two workers uses base_port … base_port + 18
CONNECT, DRIVER, BLOCKS, MASTER, MASTER_UI, WORKERS = 2, 3, 4, 13, 14, 15


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@attrs.define
class SparkConnect:
    """A Spark Connect server on 127.0.0.1:``base_port + 2``; ``url`` is jx's source URL for it."""

    work: Path
    base_port: int = 15000
    cores: int = 2
    workers: int = 0
    driver_memory: str = "1g"
    executor_memory: str = "512m"
    timeout: float = 300.0
    #: ports outside the base_port block, if given: the master's, its web UI's, the first worker's
    #: (worker i uses worker_port + 2 i and + 2 i + 1 for its UI)
    master_port: int | None = None
    master_ui_port: int | None = None
    worker_port: int | None = None
    _procs: list[subprocess.Popen] = attrs.field(factory=list, init=False)

    @property
    def port(self) -> int:
        return self.base_port + CONNECT

    @property
    def master(self) -> str:
        if not self.workers:
            return f"local[{self.cores}]"
        return f"spark://127.0.0.1:{self.master_port or self.base_port + MASTER}"

    def url(self, database: str = "") -> str:
        return f"spark+connect://127.0.0.1:{self.port}/{database}"

    def process_groups(self) -> set[int]:
        """The process groups of its JVMs (the workers' executors included), e.g. to sum their CPU time."""
        return {proc.pid for proc in self._procs}

    def __enter__(self) -> "SparkConnect":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Launch the JVMs and wait until the server answers (and the workers have registered)."""
        self.launch()
        self.wait()

    def launch(self) -> None:
        """Start the JVMs side by side, without waiting: another server can boot meanwhile."""
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            if self.workers:
                self._spawn("master", "spark-class", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                            "--port", str(self.master_port or self.base_port + MASTER),
                            "--webui-port", str(self.master_ui_port or self.base_port + MASTER_UI))
                for i in range(self.workers):
                    port = (self.worker_port or self.base_port + WORKERS) + 2 * i
                    self._spawn(f"worker{i + 1}", "spark-class", "org.apache.spark.deploy.worker.Worker",
                                "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(port + 1),
                                "--cores", "1", "--memory", self.executor_memory,
                                "--work-dir", str(self.work / f"worker{i + 1}"), self.master)
            self._spawn("connect", "spark-submit", *self._submit_args())
        except BaseException:
            self.stop()
            raise

    def wait(self) -> None:
        """Wait until the server answers and every worker has registered; stop everything if it fails."""
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                dead = [p for p in self._procs if p.poll() is not None]
                if dead:
                    raise JxError(f"a Spark JVM exited with status {dead[0].returncode} while starting",
                                  hint=f"see the logs in {self.work}")
                if _listening(self.port) and self._registered() >= self.workers:
                    return
                time.sleep(0.5)
            raise JxError(f"Spark did not start within {self.timeout:.0f} s", hint=f"see the logs in {self.work}")
        except BaseException:
            self.stop()
            raise

    def _submit_args(self) -> list[str]:
        confs = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": self.port,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.port": self.base_port + DRIVER,
            "spark.blockManager.port": self.base_port + BLOCKS,
            "spark.port.maxRetries": 8,
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": self.work / "warehouse",
            "spark.local.dir": self.work / "local",
            "spark.sql.shuffle.partitions": max(2 * self.cores, 4),
            "spark.executor.memory": self.executor_memory,
        }
        args = ["--driver-memory", self.driver_memory, "--master", self.master]
        for key, value in confs.items():
            args += ["--conf", f"{key}={value}"]
        # "spark-internal": the class is Spark's own, there is no application jar
        return ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer", *args,
                "spark-internal"]

    def _spawn(self, name: str, script: str, *args: str) -> None:
        home = spark_home()
        command = [str(home / "bin" / script), *args]
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
        if script == "spark-class":  # master and workers: small daemons (the launcher's default is 1g)
            env["SPARK_DAEMON_MEMORY"] = "256m"
        log = (self.work / f"{name}.log").open("wb")
        self._procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            cwd=self.work, start_new_session=True))
        log.close()

    def _registered(self) -> int:
        if not self.workers:
            return 0
        log = self.work / "master.log"
        return len(re.findall(r"Registering worker", log.read_text(errors="replace"))) if log.exists() else 0

    def stop(self) -> None:
        """Kill every JVM's process group (TERM, then KILL after 10 s)."""
        for proc in self._procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        self._procs.clear()


def free_blocks(count: int, *, first: int = 15000, last: int = 15099, span: int = 20) -> list[int]:
    """Base ports of ``count`` blocks of ``span`` ports in [first, last] that nothing listens on, so
    that two sessions on one machine (a developer's tests beside CI's) do not meet on a port."""
    bases = []
    for base in range(first, last - span + 2, span):
        if all(_bindable(port) for port in range(base, base + span)):
            bases.append(base)
            if len(bases) == count:
                return bases
    raise JxError(f"no {count} free blocks of {span} ports between {first} and {last} on 127.0.0.1",
                  hint="stop the other Spark servers on this machine (see `ss -ltnp`)")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def run_script(url: str, script: Path) -> int:
    """Run a SQL script whose statements end with ``;`` at a line end (``register.sql``) against the
    database at ``url``, statement by statement; the number of statements run."""
    import sqlalchemy as sa

    statements = [s for s in script.read_text(encoding="utf-8").split(";\n") if s.strip()]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.strip().removesuffix(";"))
    finally:
        engine.dispose()
    return len(statements)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
