"""The live leaderboard: after an entry, a correction or a withdrawal through the web, the period's
current run is scored again in the background, so every worker's leaderboard (which reloads when
``/api/latest`` names a new run) shows the new ranking as soon as that run is stored.

Refreshes coalesce: one runs at a time per process, and one more follows if entries came in
meanwhile. The run replaces the same day's non-final run (jxcore.services.run); under a final lock
it is refused, and so were the entries.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from jxcore.errors import JxError

log = logging.getLogger("jx_web.live")


class LiveRefresh:
    def __init__(self, web: Any):
        self.web = web
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.done = threading.Event()  #: set after each refresh (tests wait on it)

    def request(self) -> None:
        """Ask for a refresh; returns at once."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
            self.done.clear()
        # Not a daemon: at exit the interpreter waits for a refresh under way, instead of stopping a
        # thread inside the database driver (DuckDB aborts the process when that happens).
        threading.Thread(target=self._loop, name="jx-live-refresh", daemon=False).start()

    def _loop(self) -> None:
        while True:
            try:
                self.refresh()
            except JxError as exc:  # e.g. a final lock: the leaderboard stays as published
                log.warning("live refresh not stored: %s", exc)
            except Exception:  # noqa: BLE001 - a background thread must not die silently
                log.exception("live refresh failed")
            with self._lock:
                if not self._again:
                    self._running = False
                    self.done.set()
                    return
                self._again = False

    def refresh(self) -> str:
        """Score the scheme as of its current run's date (today, inside the period, if none) and
        store it; the new run's id."""
        from jxcore.services import run

        web = self.web
        scheme = web.catalog.scheme
        current = web.store.latest_run(scheme.name, scheme.period.year)
        as_of = current.as_of if current is not None else scheme.period.clamp(dt.date.today())
        return run(web.store, web.registry, scheme, as_of=as_of, actor="jx-web (live)").run.id
