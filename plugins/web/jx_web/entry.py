"""Entry in the browser (及时录入): a form per manual kind, file uploads through the strict importer
with a preview before anything is stored, corrections, withdrawals and an entry's history.

Every write goes through ``jxcore.services`` (``enter``, ``import_file``, ``withdraw``) with the
signed-in account as the user, so the rules of docs/imports.md hold on the web exactly as on the
command line: who may enter which indicator, natural keys, locks, all rows of a file or none.

An uploaded file is previewed first (``import_file(preview=True)``): its bytes wait in
``$JX_HOME/web-uploads/<token>/`` (shared by the workers of one machine), the token random and
bound to the session that uploaded it, until the clerk confirms or cancels (or
:data:`UPLOAD_TTL` passes). A rejected file is deleted at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from jx_web.kindforms import entry_kinds, kind_form, template_xlsx
from jx_web.security import Need, _session, signed_in
from jx_web.whatif import score_change
from jx_web.workflow import perform, render, status_of
from jxcore import services
from jxcore.errors import DataError, JxError, UsageError

UPLOAD_LIMIT = 32 * 1024 * 1024  #: bytes of one uploaded file (the importer's own limit is 128 MiB)
UPLOAD_TTL = 3600  #: seconds an uploaded file waits for its confirmation
LISTED = 200  #: entries and batches listed per page (the newest)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_COLUMN = re.compile(r"\(([^()]+)\)\s*$")
_UPLOAD_PATH = re.compile(r"^/entry/new/[^/]+/upload$")
_FORM_OVERHEAD = 64 * 1024  #: the multipart envelope and the form's other fields


def uploads_dir() -> Path:
    from jxcore.config import jx_home

    return jx_home() / "web-uploads"


def _kind(kind: str) -> str:
    if kind not in entry_kinds():
        raise UsageError(f"unknown kind of entry {kind!r}", hint="the kinds are: " + ", ".join(entry_kinds()))
    return kind


def _field_of(problem) -> str | None:
    """The form field a problem is about (``C (finding)`` → finding)."""
    found = _COLUMN.search(problem.location.column or "")
    return found.group(1) if found else None


def _form_values(form, fields) -> dict[str, Any]:
    """What was typed, by field (a codes field: the ticked codes)."""
    values: dict[str, Any] = {}
    for f in fields:
        values[f.name] = form.getlist(f.name) if f.input == "checkboxes" else str(form.get(f.name) or "").strip()
    return values


def _service_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in values.items()}


def _feeds(scheme, feeds) -> list[dict[str, Any]]:
    return [{"code": c, "name": scheme.nodes[c].name if c in scheme.nodes else c,
             "department": scheme.nodes[c].department if c in scheme.nodes else None, "count": n}
            for c, n in sorted(feeds.items())]


def _change(web, kind: str, report, rows, supersedes=()):
    """The score change on the current leaderboard, or None when there is no run yet."""
    try:
        view = web.catalog.results().view
    except UsageError:
        return None
    return score_change(view, web.registry, web.store, kind, report.feeds, rows, supersedes, report.units)


def _purge_uploads(now: float) -> None:
    base = uploads_dir()
    if not base.is_dir():
        return
    for old in base.iterdir():
        try:
            if now - old.stat().st_mtime > UPLOAD_TTL:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass


def _safe_name(name: str | None, kind: str) -> str:
    """The uploaded file's own name (shown in problems and kept with the batch), made harmless."""
    base = Path((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '/:*?"<>|')[:120].strip(" .")
    return base or f"{kind}.csv"


def _upload_of(request: Request, token: str) -> tuple[Path, dict[str, Any]]:
    """The waiting upload of ``token`` if this session made it; UsageError otherwise."""
    session = _session(request)
    folder = uploads_dir() / token
    meta_file = folder / "meta.json"
    if not _TOKEN.match(token) or not meta_file.is_file():
        raise UsageError("this upload is no longer waiting (confirmed, cancelled or expired)",
                         hint="upload the file again")
    meta = json.loads(meta_file.read_text("utf-8"))
    if session is None or meta["session"] != session.id:
        raise UsageError("this upload is no longer waiting (confirmed, cancelled or expired)",
                         hint="upload the file again")
    return folder / meta["name"], meta


class UploadLimit:
    """ASGI middleware: an upload's body is refused before anything reads it (the CSRF check would
    otherwise spool all of it to disk) when its Content-Length passes ``limit`` (413) or it has none
    (411: browsers always send one). ``path`` matches the upload routes it guards; ``too_large``
    is the 413 message."""

    def __init__(self, app, *, path: re.Pattern[str] = _UPLOAD_PATH, limit: int | None = None,
                 too_large: str | None = None):
        self.app, self.path, self.limit, self.too_large = app, path, limit, too_large

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and self.path.match(scope["path"]):
            length = dict(scope["headers"]).get(b"content-length", b"")
            limit = UPLOAD_LIMIT if self.limit is None else self.limit  # the entry forms' by default
            status = (411 if not length.isdigit() else 413 if int(length) > limit + _FORM_OVERHEAD else None)
            if status is not None:
                text = ("the upload has no Content-Length; send the file from the form" if status == 411 else
                        self.too_large or f"the file is larger than {limit // (1024 * 1024)} MiB; split it or "
                                          "ask an admin to import it with jx import").encode()
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(text)).encode())]})
                await send({"type": "http.response.body", "body": text})
                return
        await self.app(scope, receive, send)


def register(app: FastAPI, web) -> None:
    scheme = web.catalog.scheme
    app.add_middleware(UploadLimit)

    def form_page(request: Request, kind: str, *, status: int = 200, values=None, errors=None, error=None,
                  report=None, change=None, supersedes: int | None = None, reason: str = "") -> Response:
        fields = kind_form(scheme, kind)
        return render(web, request, "entry_form.html", status=status, kind=kind, title=entry_kinds()[kind],
                      fields=fields, values=values or {}, errors=errors or {}, error=error, report=report,
                      feeds=_feeds(scheme, report.feeds) if report else [], change=change,
                      supersedes=supersedes, reason=reason, period=scheme.period)

    @app.get("/entry", name="entry_home", include_in_schema=False)
    def entry_home(request: Request) -> Response:
        account = signed_in(request, Need.ENTER)
        kinds = []
        for kind, title in entry_kinds().items():
            nodes = [n for n in scheme.indicators() if n.collector and n.collector.name == "manual"
                     and n.collector.params.get("kind") == kind]
            departments = sorted({n.department for n in nodes if n.department})
            kinds.append({"kind": kind, "title": title, "indicators": len(nodes), "departments": departments,
                          "mine": account.role.value != "clerk" or account.department in departments})
        return render(web, request, "entry_home.html", kinds=kinds, limit=UPLOAD_LIMIT // (1024 * 1024))

    @app.get("/entry/new/{kind}", name="entry_form", include_in_schema=False)
    def entry_form(request: Request, kind: str, supersedes: int | None = None) -> Response:
        signed_in(request, Need.ENTER)
        kind = _kind(kind)
        values: dict[str, Any] = {}
        if supersedes is not None:
            old = services.entry_history(web.store, supersedes).entry
            if old.kind != kind:
                raise UsageError(f"entry #{supersedes} is a {old.kind} entry, not {kind}",
                                 hint=f"correct it at /entry/new/{old.kind}?supersedes={supersedes}")
            values = {"date": old.entry_date.isoformat(), "unit": old.unit_code}
            values.update({k: (v if not isinstance(v, (list, tuple)) else list(v)) for k, v in old.payload.items()})
            values = {k: ("是" if v is True else "否" if v is False else v) for k, v in values.items()}
        return form_page(request, kind, values=values, supersedes=supersedes)

    @app.post("/entry/new/{kind}", name="entry_submit", include_in_schema=False)
    async def entry_submit(request: Request, kind: str) -> Response:
        account = signed_in(request, Need.ENTER)
        kind = _kind(kind)
        form = await request.form()
        fields = kind_form(scheme, kind)
        values = _form_values(form, fields)
        supersedes = int(form["supersedes"]) if str(form.get("supersedes") or "").isdigit() else None
        reason = str(form.get("reason") or "").strip() or None
        save = form.get("action") == "save"

        def work():
            report = services.enter(web.store, web.registry, scheme, kind, _service_fields(values), user=account.name,
                                    supersedes=supersedes, reason=reason, preview=not save, source="web form")
            if save:
                web.live.request()
                return report, None
            row = web.registry.collector("manual").read_fields(scheme, kind, _service_fields(values))
            return report, _change(web, kind, report, [row], [supersedes] if supersedes else [])

        try:
            report, change = await run_in_threadpool(work)
        except JxError as exc:
            errors: dict[str, list[str]] = {}
            loose = []
            for p in exc.problems:
                target = _field_of(p)
                text = p.message + (f"（{p.hint}）" if p.hint else "")
                if target in values:
                    errors.setdefault(target, []).append(text)
                else:
                    loose.append(text)
            return form_page(request, kind, status=status_of(exc), values=values, errors=errors,
                             error="\n".join(loose) or None, supersedes=supersedes, reason=reason or "")
        if save:
            return RedirectResponse(f"/entry/entries/{report.entry_ids[0]}?saved=1", status_code=303)
        return form_page(request, kind, values=values, report=report, change=change, supersedes=supersedes,
                         reason=reason or "")

    @app.get("/entry/new/{kind}/template.xlsx", name="entry_template", include_in_schema=False)
    def entry_template(request: Request, kind: str) -> Response:
        signed_in(request, Need.ENTER)
        kind = _kind(kind)
        name = f"{kind}-{scheme.period.year}.xlsx"
        return Response(template_xlsx(scheme, kind), headers={"content-disposition": f'attachment; filename="{name}"'},
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.post("/entry/new/{kind}/upload", name="entry_upload", include_in_schema=False)
    async def entry_upload(request: Request, kind: str) -> Response:
        account = signed_in(request, Need.ENTER)
        kind = _kind(kind)
        form = await request.form()  # parsed (and spooled to disk) by the CSRF check already
        try:
            upload, sheet = form.get("file"), str(form.get("sheet") or "").strip() or None
            if upload is None or isinstance(upload, str):
                return render(web, request, "error.html", status=400, title=entry_kinds()[kind],
                              message="no file was chosen (choose a CSV or XLSX file)")
            name = _safe_name(upload.filename, kind)
            data = await upload.read(UPLOAD_LIMIT + 1)
        finally:
            await form.close()  # the spooled temporary files of the form
        if len(data) > UPLOAD_LIMIT:
            return render(web, request, "error.html", status=413, title=entry_kinds()[kind],
                          message=f"{name} is larger than {UPLOAD_LIMIT // (1024 * 1024)} MiB; split it or ask an "
                                  "admin to import it with jx import")
        now = time.time()
        _purge_uploads(now)
        token = secrets.token_urlsafe(24)
        folder = uploads_dir() / token
        folder.mkdir(parents=True, mode=0o700)
        (folder / name).write_bytes(data)
        session = _session(request)

        def work():
            report = services.import_file(web.store, web.registry, scheme, kind, folder / name, user=account.name,
                                          sheet=sheet, preview=True)
            source = web.registry.collector("manual").read_file(scheme, kind, folder / name, sheet)
            rows = [r for chunk in source.chunks() for r in chunk]
            return report, rows, _change(web, kind, report, rows, [r.supersedes for r in rows if r.supersedes])

        try:
            report, rows, change = await run_in_threadpool(work)
        except JxError as exc:
            shutil.rmtree(folder, ignore_errors=True)  # nothing of a rejected file is kept
            return render(web, request, "entry_upload.html", status=status_of(exc), kind=kind,
                          title=entry_kinds()[kind], name=name, exc=exc, problems=exc.problems,
                          data_error=isinstance(exc, DataError), report=None)
        (folder / "meta.json").write_text(json.dumps({
            "session": session.id, "user": account.name, "kind": kind, "name": name, "sheet": sheet,
            "at": dt.datetime.now(dt.UTC).isoformat()}), "utf-8")
        fields = kind_form(scheme, kind)
        units = {u.code: u.name for u in scheme.units}
        sample = [{"row": r.source_row, "unit": units.get(r.unit_code, r.unit_code), "date": r.entry_date,
                   "payload": r.payload, "supersedes": r.supersedes} for r in rows[:50]]
        return render(web, request, "entry_upload.html", kind=kind, title=entry_kinds()[kind], name=name,
                      report=report, feeds=_feeds(scheme, report.feeds), change=change, token=token, sample=sample,
                      fields=[f for f in fields if f.name not in ("unit", "date")],
                      unit_names=[units.get(u, u) for u in report.units], problems=(), exc=None)

    @app.post("/entry/uploads/{token}/confirm", name="entry_confirm", include_in_schema=False)
    async def entry_confirm(request: Request, token: str) -> Response:
        account = signed_in(request, Need.ENTER)
        path, meta = _upload_of(request, token)
        try:
            report = await run_in_threadpool(lambda: services.import_file(
                web.store, web.registry, scheme, meta["kind"], path, user=account.name, sheet=meta["sheet"]))
            web.live.request()
        except JxError as exc:
            return render(web, request, "entry_upload.html", status=status_of(exc), kind=meta["kind"],
                          title=entry_kinds()[meta["kind"]], name=meta["name"], exc=exc, problems=exc.problems,
                          data_error=isinstance(exc, DataError), report=None)
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return RedirectResponse(f"/entry/batches/{report.batch_id}?saved=1", status_code=303)

    @app.post("/entry/uploads/{token}/cancel", name="entry_cancel", include_in_schema=False)
    def entry_cancel(request: Request, token: str) -> Response:
        signed_in(request, Need.ENTER)
        path, _ = _upload_of(request, token)
        shutil.rmtree(path.parent, ignore_errors=True)
        return RedirectResponse("/entry", status_code=303)

    @app.get("/entry/entries", name="entry_list", include_in_schema=False)
    def entry_list(request: Request, kind: str = "", unit: str = "", dead: bool = False) -> Response:
        signed_in(request, Need.ENTER)
        kinds = [_kind(kind)] if kind else None
        found = services.list_entries(web.store, scheme, kinds=kinds, unit=unit or None, include_dead=dead)
        return render(web, request, "entry_list.html", entries=list(reversed(found[-LISTED:])), total=len(found),
                      kind=kind, unit=unit, dead=dead, kinds=entry_kinds(), units=scheme.units, limit=LISTED,
                      unit_names={u.code: u.name for u in scheme.units})

    @app.get("/entry/entries/{entry_id}", name="entry_history", include_in_schema=False)
    def entry_history(request: Request, entry_id: int, saved: bool = False) -> Response:
        signed_in(request, Need.ENTER)
        history = services.entry_history(web.store, entry_id)
        return render(web, request, "entry_history.html", h=history, saved=saved, kinds=entry_kinds(),
                      unit_names={u.code: u.name for u in scheme.units})

    @app.post("/entry/entries/{entry_id}/withdraw", name="entry_withdraw", include_in_schema=False)
    async def entry_withdraw(request: Request, entry_id: int) -> Response:
        account = signed_in(request, Need.ENTER)
        reason = str((await request.form()).get("reason") or "")
        return await perform(web, request, f"#{entry_id}", lambda: (services.withdraw(
            web.store, web.registry, scheme, [entry_id], reason=reason, user=account.name), web.live.request()),
            f"/entry/entries/{entry_id}")

    @app.get("/entry/batches", name="entry_batches", include_in_schema=False)
    def entry_batches(request: Request) -> Response:
        signed_in(request, Need.ENTER)
        found = services.batches(web.store, scheme)
        return render(web, request, "entry_batches.html", batches=found[:LISTED], total=len(found), limit=LISTED,
                      kinds=entry_kinds())

    @app.get("/entry/batches/{batch_id}", name="entry_batch", include_in_schema=False)
    def entry_batch(request: Request, batch_id: str, saved: bool = False) -> Response:
        signed_in(request, Need.ENTER)
        batch = next((b for b in services.batches(web.store, scheme) if b.id == batch_id), None)
        if batch is None:
            raise UsageError(f"no batch {batch_id!r} in {scheme.name} {scheme.period.year}",
                             hint="pick one from the list of batches")
        every = services.list_entries(web.store, scheme, kinds=[batch.kind], include_dead=True)
        live = {e.id for e in services.list_entries(web.store, scheme, kinds=[batch.kind])}
        mine = [e for e in every if e.batch_id == batch_id]
        return render(web, request, "entry_batch.html", batch=batch, entries=mine, live=live, saved=saved,
                      kinds=entry_kinds(), unit_names={u.code: u.name for u in scheme.units})

    @app.post("/entry/batches/{batch_id}/withdraw", name="entry_withdraw_batch", include_in_schema=False)
    async def entry_withdraw_batch(request: Request, batch_id: str) -> Response:
        account = signed_in(request, Need.ENTER)
        reason = str((await request.form()).get("reason") or "")
        return await perform(web, request, batch_id, lambda: (services.withdraw(
            web.store, web.registry, scheme, reason=reason, user=account.name, batch_id=batch_id),
            web.live.request()), f"/entry/batches/{batch_id}")
