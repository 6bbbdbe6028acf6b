"""Where jx keeps its files, and the store URL.

``JX_HOME`` (default ``~/.local/share/jx``, or ``$XDG_DATA_HOME/jx``) holds the default SQLite
store ``jx.sqlite`` and ``data/``, where packs put generated demo databases. ``JX_DATABASE_URL``
or ``--db URL`` chooses another store, e.g. ``postgresql+psycopg://postgres@127.0.0.1/jx``.
"""

from __future__ import annotations

import os
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
