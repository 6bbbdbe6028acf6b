"""Where jx keeps its files, and the store URL.

``JX_HOME`` (default ``~/.local/share/jx``, or ``$XDG_DATA_HOME/jx``) holds the default SQLite
store ``jx.sqlite`` and ``data/``, where packs put generated demo databases. ``JX_DATABASE_URL``
or ``--db URL`` chooses another store, e.g. ``postgresql+psycopg://postgres@127.0.0.1/jx``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path


def jx_home() -> Path:
    if home := os.environ.get("JX_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "jx"


def data_dir() -> Path:
    """Directory for generated source data (demo databases); created on demand."""
    path = jx_home() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_file(kind: str, key: bytes, code: Sequence[Path]) -> Path | None:
    """``JX_HOME/cache/<kind>/<sha256>.json``, named by ``key`` and by the source files ``code``
    that write the entries (their mtime and size: an upgrade starts afresh); None with
    ``JX_CACHE=0`` or when a source file cannot be read. Deleting the cache is always safe."""
    if os.environ.get("JX_CACHE", "") == "0":
        return None
    try:
        stamps = [os.stat(path) for path in code]
    except OSError:
        return None
    digest = hashlib.sha256("".join(f"{s.st_mtime_ns}:{s.st_size}:" for s in stamps).encode() + b"\0" + key)
    return jx_home() / "cache" / kind / f"{digest.hexdigest()}.json"


def write_cache(path: Path, text: str) -> None:
    """Write a cache file whole (a temporary file of this process and thread, renamed: a reader
    never sees half of one); a failure (a read-only JX_HOME) only means no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def database_url(explicit: str | None = None) -> str:
    """The store URL: ``--db``, else ``JX_DATABASE_URL``, else a SQLite file in JX_HOME."""
    if explicit:
        return explicit
    if url := os.environ.get("JX_DATABASE_URL"):
        return url
    home = jx_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'jx.sqlite'}"


def expand(text: str) -> str:
    """Expand ``{data_dir}``, ``{jx_home}`` and ``${ENV}`` in a URL written in a scheme."""
    text = os.path.expandvars(text)
    if "{data_dir}" in text:
        text = text.replace("{data_dir}", str(data_dir()))
    return text.replace("{jx_home}", str(jx_home()))
