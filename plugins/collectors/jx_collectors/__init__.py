"""jx's standard collectors: the system feed (SQL aggregated in the source database)."""
