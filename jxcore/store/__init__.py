"""The jx store: runs and their results, migrated with Alembic, SQLite by default or PostgreSQL.

See ``docs/store.md``. ``Store.open(url)`` opens and migrates; ``store.transaction()`` writes a
run atomically; ``runs``/``latest_run``/``load_run`` read runs back as arrays;
``tx.add_entries``/``store.entries`` write and read manual entries (append-only, with provenance).
"""

from jxcore.store.api import RunData, Store, StoredRun, StoreTransaction, mask_url, migrate
from jxcore.store.entries import Batch, Entry, NewEntry

__all__ = ["Batch", "Entry", "NewEntry", "RunData", "Store", "StoreTransaction", "StoredRun", "mask_url",
           "migrate"]
