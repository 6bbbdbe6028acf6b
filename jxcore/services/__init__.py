"""The service layer: every use case as a plain function over a ``Store`` and the ``Registry``.

The CLI, the web app and plugins' own commands call these and only render what they return; the
functions take and return attrs values, raise :class:`jxcore.errors.JxError`, and never print,
prompt or read the environment. See docs/services.md for each with an example.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jxcore.records import Lock, Role, User, Verification, add_user, get_user, lock, locks, unlock, users
    from jxcore.services.entries import (
        EntryHistory,
        EntryReport,
        WithdrawalReport,
        batches,
        enter,
        entry_history,
        entry_kinds,
        import_file,
        list_entries,
        withdraw,
    )
    from jxcore.services.explain import source_rows
    from jxcore.services.records import (
        AccessRecord,
        access_log,
        entry_inclusion,
        export_heads,
        list_locks,
        signed_heads,
        verify_store,
    )
    from jxcore.services.runs import (
        discard_run,
        list_runs,
        plan_of,
        previous_view,
        run,
        run_document,
        stored_view,
        view_of,
    )
    from jxcore.services.schemes import installed_plan, open_scheme, pack_path
    from jxcore.services.views import RunView

# Where each public name lives: importing jxcore.services stays cheap (no SQLAlchemy, no store) until
# a name is used, so `jx validate` and `jx --help` pay only for what they call.
_HOMES = {
    "jxcore.records": ["Lock", "Role", "User", "Verification", "add_user", "get_user", "lock", "locks", "unlock",
                       "users"],
    "jxcore.services.entries": ["EntryHistory", "EntryReport", "WithdrawalReport", "batches", "enter",
                                "entry_history", "entry_kinds", "import_file", "list_entries", "withdraw"],
    "jxcore.services.explain": ["source_rows"],
    "jxcore.services.records": ["AccessRecord", "access_log", "entry_inclusion", "export_heads", "list_locks",
                                "signed_heads", "verify_store"],
    "jxcore.services.runs": ["discard_run", "list_runs", "plan_of", "previous_view", "run", "run_document",
                             "stored_view", "view_of"],
    "jxcore.services.schemes": ["installed_plan", "open_scheme", "pack_path"],
    "jxcore.services.views": ["RunView"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Imports a public name's module, or a submodule (``services.plans``), on first use (PEP 562)."""
    module = _HOME_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "AccessRecord", "EntryHistory", "EntryReport", "Lock", "Role", "RunView", "User", "Verification",
    "WithdrawalReport", "access_log", "add_user", "batches", "discard_run", "enter", "entry_history", "entry_inclusion",
    "entry_kinds", "export_heads", "get_user", "signed_heads", "import_file", "installed_plan", "list_entries",
    "list_locks", "list_runs", "lock", "locks", "open_scheme", "pack_path", "plan_of", "previous_view", "run",
    "run_document", "source_rows", "stored_view", "unlock", "users", "verify_store", "view_of", "withdraw",
]
