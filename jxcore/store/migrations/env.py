"""Alembic environment for the jx store, run programmatically by :func:`jxcore.store.api.migrate`.

The caller passes an open connection in ``config.attributes["connection"]``; there is no ini file
and no CLI, so an installed jx migrates its own store.
"""

from alembic import context

from jxcore.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them; keeps later revisions portable
    transaction_per_migration=False,
)
connection.info["jx_migrating"] = True  # the guards are being made: jxcore.store.ledger.require_guards waits
try:
    with context.begin_transaction():
        context.run_migrations()
finally:
    connection.info.pop("jx_migrating", None)
