"""Which plan is the period's: authorization reads the plan published in the store, never the
caller's copy.

The rule (docs/records.md, docs/plans.md): the plan of a scheme's period is its published plan
version (``jx plan publish``; a mid-year change is a newer published version); without plan
versions, the first plan chained into the store for that period (the first run stores it); until
one is stored, the caller's plan is taken and becomes it. A final run must be scored with it, and
entries are checked against it: a copied pack with one ``department:`` or rule parameter edited has
another digest and is refused.
:func:`approved_digests` is the one place the rule lives, so plan versions with approvals can
replace it.
"""

from __future__ import annotations

import sqlalchemy as sa

from jxcore.errors import AccessDenied
from jxcore.models import Scheme
from jxcore.store import Store
from jxcore.store.tables import audit_chain, run_plans


def approved_digests(connection: sa.Connection, scheme: str, period: int) -> frozenset[str]:
    """The digests of the plans scheme/period may be scored and policed with: its published plan
    version, else the first plan of that period in the audit chain (an unchained row, written
    around jx, does not count); empty while the store has neither."""
    from jxcore.services.plans import published_digest

    published = published_digest(connection, scheme, period)
    if published:
        return frozenset([published])
    c, p = audit_chain.c, run_plans.c
    first = connection.execute(
        sa.select(p.digest).join(audit_chain, sa.and_(c.tbl == "run_plans", c.row_key == p.digest))
        .where(p.scheme == scheme, p.period == period).order_by(c.seq).limit(1)).scalar()
    return frozenset([first]) if first else frozenset()


def plan_digest(scheme: Scheme) -> str:
    from jxcore.scheme.document import digest, dumps

    return digest(dumps(scheme))


def require_published(store: Store, scheme: Scheme, *, user: str, action, what: str) -> None:
    """AccessDenied (logged) when ``scheme`` is not the plan the store holds for its period."""
    from jxcore.records.access import log_access

    with store.engine.connect() as connection:
        approved = approved_digests(connection, scheme.name, scheme.period.year)
    mine = plan_digest(scheme)
    if approved and mine not in approved:
        message = (f"{what} refused: the plan given (digest {mine[:12]}…) is not the plan of {scheme.name} "
                   f"{scheme.period.year} in the store (digest {min(approved)[:12]}…)")
        log_access(store, user, action, message, allowed=False, scheme=scheme.name, period=scheme.period.year,
                   target=mine)
        raise AccessDenied(message, hint="use the installed scheme pack the bureau published (--scheme NAME), "
                                         "not a copy; a changed plan needs the bureau's approval")
