"""Trustworthy records: who may enter what, locks, and the audit chain (docs/records.md).

Plain functions over a :class:`jxcore.store.Store`: the service layer the CLI (``jx user``,
``jx entry``, ``jx import``, ``jx lock``, ``jx unlock``, ``jx verify``) and a later web app call.
"""

from jxcore.records.access import (
           Action,
           Role,
           User,
           add_user,
           get_user,
           log_access,
           may,
           users,
)
from jxcore.records.chain import Finding, Verification, verify
from jxcore.records.locking import Lock, active_locks, lock, locks, unlock

__all__ = ["Action", "Finding", "Lock", "Role", "User", "Verification", "active_locks", "add_user", "get_user",
           "lock", "locks", "log_access", "may", "unlock", "users", "verify"]
