"""The service layer: every use case as a plain function over a ``Store`` and the ``Registry``.

The CLI, the web app and plugins' own commands call these and only render what they return; the
functions take and return attrs values, raise :class:`jxcore.errors.JxError`, and never print,
prompt or read the environment. See docs/services.md for each with an example.
"""

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
from jxcore.services.runs import discard_run, list_runs, plan_of, previous_view, run, run_document, stored_view, view_of
from jxcore.services.schemes import installed_plan, open_scheme, pack_path
from jxcore.services.views import RunView

__all__ = [
    "AccessRecord", "EntryHistory", "EntryReport", "Lock", "Role", "RunView", "User", "Verification",
    "WithdrawalReport", "access_log", "add_user", "batches", "discard_run", "enter", "entry_history", "entry_inclusion",
    "entry_kinds", "export_heads", "get_user", "signed_heads", "import_file", "installed_plan", "list_entries",
    "list_locks", "list_runs", "lock", "locks", "open_scheme", "pack_path", "plan_of", "previous_view", "run",
    "run_document", "source_rows", "stored_view", "unlock", "users", "verify_store", "view_of", "withdraw",
]
