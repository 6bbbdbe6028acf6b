"""Locks and publication in the browser (及时锁定、及时公示).

Admins lock entries up to a date or a period's final results, lift a lock in two steps by two
different admins (the second sees the first's request and reason), see the audit chain's head,
download or print it for the minutes, and verify the chain. Publishing a year scores its final
result and locks it; the year's announcement (ranking, commendations, leadership review) is then
readable by every account. Everything goes through ``jxcore.services``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI, Request
from fastapi.responses import Response

from jx_web.security import Need, signed_in
from jx_web.workflow import perform, render, words_of
from jxcore import services
from jxcore.errors import DataError, LockedError
from jxcore.services.audit import chain_head


def _signed_heads(web) -> list:
    """The store's signed heads, oldest first (none where the store's records sign no heads)."""
    found = getattr(services, "signed_heads", None)
    return found(web.store) if found else []


def _request_reasons(web, locks) -> dict[int, str]:
    """lock id → the reason its pending unlock request gave (kept in the access log with the request)."""
    pending = {str(lk.id) for lk in locks if lk.unlock_requested_by}
    reasons: dict[int, str] = {}
    if pending:
        for r in services.access_log(web.store, allowed=True, limit=1000):
            prefix = f"unlock request of lock #{r.target}: "
            if r.action == "unlock" and r.target in pending and r.message.startswith(prefix):
                reasons.setdefault(int(r.target), r.message[len(prefix):])
    return reasons


def _final_run(web, year: int):
    runs = [r for r in services.list_runs(web.store, web.catalog.name, year) if r.final]
    return runs[0] if runs else None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{text!r} is not a date", hint="give the lock's date as YYYY-MM-DD") from None


def register(app: FastAPI, web) -> None:
    scheme = web.catalog.scheme

    def records_page(request: Request, *, verification=None, status: int = 200) -> Response:
        locks = list(reversed(services.list_locks(web.store, scheme.name, scheme.period.year)))
        return render(web, request, "records_locks.html", status=status, locks=locks,
                      request_reasons=_request_reasons(web, locks),
                      heads=list(reversed(_signed_heads(web)))[:20], verification=verification,
                      final=_final_run(web, scheme.period.year), period=scheme.period)

    @app.get("/records", name="records", include_in_schema=False)
    def records(request: Request) -> Response:
        signed_in(request, Need.ADMIN)
        return records_page(request)

    @app.post("/records/lock", name="records_lock", include_in_schema=False)
    async def records_lock(request: Request) -> Response:
        admin = signed_in(request, Need.ADMIN)
        form = await request.form()
        final = form.get("scope") == "final"
        until = str(form.get("until") or "")
        reason = str(form.get("reason") or "").strip() or None
        return await perform(web, request, words_of(web)["lock"], lambda: services.lock(
            web.store, scheme.name, scheme.period.year, user=admin.name, until=None if final else _date(until),
            final=final, reason=reason), "/records")

    @app.post("/records/unlock/{lock_id}", name="records_unlock", include_in_schema=False)
    async def records_unlock(request: Request, lock_id: int) -> Response:
        admin = signed_in(request, Need.ADMIN)
        reason = str((await request.form()).get("reason") or "")
        return await perform(web, request, words_of(web)["locks"], lambda: services.unlock(
            web.store, scheme.name, scheme.period.year, user=admin.name, reason=reason, lock_id=lock_id), "/records")

    @app.get("/records/verify", name="records_verify", include_in_schema=False)
    def records_verify(request: Request) -> Response:
        signed_in(request, Need.ADMIN)
        found = services.verify_store(web.store, [lk.head for lk in services.list_locks(web.store)])
        return records_page(request, verification=found, status=200 if found.ok else 409)

    @app.get("/records/head", name="records_head", include_in_schema=False)
    def records_head(request: Request) -> Response:
        signed_in(request, Need.ADMIN)
        size, head = chain_head(web.store)
        locks = [lk for lk in services.list_locks(web.store, scheme.name, scheme.period.year) if lk.active]
        return render(web, request, "records_head.html", size=size, head=head, locks=locks,
                      now=dt.datetime.now(dt.UTC))

    @app.get("/records/head.txt", name="records_head_text", include_in_schema=False)
    def records_head_text(request: Request) -> Response:
        admin = signed_in(request, Need.ADMIN)
        size, head = chain_head(web.store)
        text = (f"jx audit chain head\nscheme: {scheme.name} {scheme.period.year}\nrecords: {size}\nhead: {head}\n"
                f"read at: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC by {admin.name}\n"
                f"check later with: jx verify --head {head}\n")
        return Response(text, media_type="text/plain; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="jx-head-{size}.txt"'})

    @app.post("/records/publish", name="records_publish", include_in_schema=False)
    async def records_publish(request: Request) -> Response:
        """The year's final result: a final run as of 31 December, then a final lock."""
        admin = signed_in(request, Need.ADMIN)
        year = scheme.period.year

        def work() -> None:
            final = [lk for lk in services.list_locks(web.store, scheme.name, year)
                     if lk.active and lk.scope == "final"]
            if final:
                raise LockedError(f"{year} is published already: {final[-1].describe()}",
                                  hint="two admins lift the lock to publish again")
            if _final_run(web, year) is None:
                services.run(web.store, web.registry, scheme, as_of=scheme.period.end, final=True, actor=admin.name)
            services.lock(web.store, scheme.name, year, user=admin.name, final=True,
                          reason=f"{year} final results published")

        return await perform(web, request, words_of(web)["publish"], work, f"/announcement?year={year}")

    @app.get("/announcement", name="announcement", include_in_schema=False)
    def announcement(request: Request, year: int | None = None) -> Response:
        """The January announcement: a year's final ranking, commendations and leadership review."""
        from jx_outputs.tables import (
            commendation_table,
            format_cell,
            ranking_table,
            review_table,
        )

        signed_in(request)
        years = sorted({r.period for r in services.list_runs(web.store, web.catalog.name) if r.final}, reverse=True)
        year = year or (years[0] if years else scheme.period.year)
        run = _final_run(web, year)
        tables = []
        if run is not None:
            results = web.catalog.results(run.id)
            for t in (ranking_table(results, items=True), commendation_table(results), review_table(results)):
                tables.append({"name": t.name, "title": t.title, "columns": [c.label for c in t.columns],
                               "numeric": [c.kind != "text" for c in t.columns], "notes": t.notes,
                               "rows": [[format_cell(v, c.kind) for c, v in zip(t.columns, row)] for row in t.rows]})
        return render(web, request, "records_announcement.html", year=year, years=years, run=run, tables=tables)
