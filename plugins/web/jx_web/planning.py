"""Plan-making in the browser (绩效计划制定): versions, the editor, consultation, approval, diff, what-if.

Every act calls ``jxcore.services.plans`` / ``plan_analysis`` as the signed-in account, so the rules
of docs/plans.md hold as on the command line: only the drafting department (or an admin) drafts,
edits, submits and answers; only branch accounts comment, and only while a version is out for
comments; only admins approve (with the meeting and its minutes) and publish; only a draft is
edited, a published plan is frozen (the service refuses, not just the page). A refusal shows the
service's own words with 400 (bad input), 403 (not allowed), 404 (no such version) or 409 (frozen).

The editor (``/plans/{ref}/edit``, ``static/plan_edit.js``) edits the plan file's mapping as JSON
(``plans.editable``); while one types it asks ``POST /api/plans/{ref}/validate`` (the checks of
``jx validate``, nothing stored) and shows each problem beside its node; saving stores the next
version of the year (``plans.save_draft``).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from jx_web.entry import UploadLimit
from jx_web.security import Need, signed_in
from jx_web.workflow import render, status_of
from jxcore.errors import JxError, SchemeError, UsageError
from jxcore.points import format_points
from jxcore.records.access import Role
from jxcore.services import plan_analysis, plans
from jxcore.services.plans import State

UPLOAD_LIMIT = 4 * 1024 * 1024  #: bytes of an uploaded plan file (Dongguan's 2010 plan: 60 KiB)
TOO_LARGE = f"the plan file is larger than {UPLOAD_LIMIT // (1024 * 1024)} MiB; import it with jx plan import FILE"

WORDS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "plans": ("考核方案", "Plans"),
    "versions": ("方案版本", "Versions"),
    "version": ("版本", "version"),
    "year": ("年度", "year"),
    "state": ("状态", "state"),
    "state_draft": ("草稿", "draft"),
    "state_consultation": ("征求意见中", "out for comments"),
    "state_approved": ("局务会议已通过", "approved"),
    "state_published": ("已发布施行", "published"),
    "state_superseded": ("已被取代", "superseded"),
    "origin": ("来源", "origin"),
    "made_by": ("制作人", "made by"),
    "made_at": ("时间", "at"),
    "digest": ("摘要", "digest"),
    "new_draft": ("新建草稿", "New draft"),
    "from": ("以此为基础", "from"),
    "create": ("创建", "Create"),
    "upload": ("上传方案文件（YAML）", "Upload a plan file (YAML)"),
    "upload_note": ("上传后成为该年度的新草稿（取代未定稿的草稿）；检查与 jx plan import 相同",
                    "becomes a new draft of its year (replacing an open draft); checked as jx plan import checks it"),
    "file": ("文件", "File"),
    "send": ("上传", "Upload"),
    "edit": ("编辑", "Edit"),
    "export": ("导出 YAML", "Export YAML"),
    "diff": ("版本对比", "Compare versions"),
    "whatif": ("试算（方案变化的影响）", "What-if"),
    "tree": ("指标体系", "Indicator tree"),
    "code": ("编码", "code"),
    "name": ("名称", "name"),
    "points": ("分值", "points"),
    "cap": ("封顶", "cap"),
    "weight": ("占总分 %", "% of scale"),
    "rule": ("计分规则", "rule"),
    "params": ("参数", "parameters"),
    "collector": ("数据来源", "collector"),
    "department": ("责任科室", "department"),
    "stages": ("阶段目标", "stage targets"),
    "inherit": ("（同上级）", "(as parent)"),
    "record": ("记录", "Record"),
    "transition": ("环节", "step"),
    "by": ("操作人", "by"),
    "at": ("时间", "at"),
    "reason": ("说明", "reason"),
    "meeting": ("局务会议", "bureau meeting"),
    "minutes": ("会议纪要文号", "minutes' reference"),
    "comments": ("征求意见", "Comments"),
    "comment": ("提意见", "Comment"),
    "comment_on": ("对以下节点提意见", "Comment on"),
    "comment_text": ("意见内容", "Your comment"),
    "answer": ("答复", "Answer"),
    "answered": ("已答复", "answered"),
    "unanswered": ("待答复", "awaiting an answer"),
    "no_comments": ("暂无意见", "no comments yet"),
    "submit": ("提交征求意见", "Send out for comments"),
    "approve": ("局务会议审议通过", "Record the approval"),
    "publish": ("发布施行", "Publish"),
    "revise": ("修订（以此版本新建草稿）", "Revise (a new draft from this version)"),
    "save": ("保存草稿", "Save the draft"),
    "save_note": ("修改说明", "what changed"),
    "saved": ("已保存为 {label}", "Saved as {label}"),
    "unchanged": ("没有改动，未保存新版本", "Nothing changed; no version stored"),
    "problems": ("问题", "Problems"),
    "no_problems": ("检查通过，没有问题", "No problems"),
    "checking": ("检查中…", "checking…"),
    "problem_count": ("{n} 个问题", "{n} problems"),
    "add_child": ("＋下级", "+ part"),
    "remove": ("删除", "remove"),
    "new_node": ("新指标", "New indicator"),
    "add_stage": ("＋阶段", "+ stage"),
    "add_param": ("＋参数", "+ parameter"),
    "scale": ("总分", "scale"),
    "frozen": ("不能编辑", "Not editable"),
    "needs_script": ("编辑器需要浏览器启用脚本；也可以导出 YAML 修改后上传。",
                     "The editor needs script; or export the YAML, edit it and upload it."),
    "a": ("版本 A", "plan A"),
    "b": ("版本 B", "plan B"),
    "compare": ("对比", "Compare"),
    "all_nodes": ("显示全部节点", "every node"),
    "change": ("变化", "change"),
    "details": ("详情", "details"),
    "effective": ("实际权重 %", "effective %"),
    "effective_note": ("实际权重：该节点在上年最终结果总分方差中所占份额（{run}）",
                       "effective weight: the node's share of the variance of the totals ({run})"),
    "no_reference": ("库中没有上年最终结果，无法计算实际权重", "no final run of the year before: no effective weights"),
    "plan_changes": ("方案整体变化", "Changes of the plan itself"),
    "data": ("数据", "data"),
    "to_date": ("本年度截至目前的数据", "this year's data to date"),
    "last_year": ("上年度最终数据", "last year's final data"),
    "beside": ("对照方案", "beside"),
    "run": ("试算", "Run"),
    "unit": ("单位", "unit"),
    "total": ("总分", "total"),
    "rank": ("名次", "rank"),
    "gains": ("新增", "gains"),
    "loses": ("失去", "loses"),
    "moved_by": ("主要影响指标", "moved by"),
    "whatif_summary": ("{n} 个单位评价情况变化；{m} / {all} 个单位名次变化",
                       "{n} units change status; {m} of {all} change rank"),
    "all_units": ("显示全部单位", "every unit"),
    "lint": ("方案检查提示", "Lint"),
    "lint_note": ("提示不是错误：每条指出节点和讲座中的理由，供局务会议讨论",
                  "warnings, not errors: each names the node and the lecture's reason"),
    "no_lint": ("没有提示", "no warnings"),
    "warning": ("提示", "warning"),
    "no_versions": ("库中还没有方案版本：从已安装方案包的年度方案新建草稿，或上传方案文件",
                    "no plan versions yet: start a draft from the installed pack's plan of a year, or upload a file"),
    "upload_problems": ("方案文件有问题，未保存", "The plan file has problems; nothing was stored"),
}
CHANGES = {"added": "新增", "removed": "删除", "moved": "移动", "renamed": "更名", "points": "分值",
           "scoring": "计分类型", "cap": "封顶", "department": "科室", "stages": "阶段目标", "rule": "规则",
           "collector": "数据来源", "description": "说明"}
STATUSES = {"commended": "评先评优", "admonition": "诫勉谈话", "reshuffle": "班子调整"}


class Missing(UsageError):
    """No such plan version (404)."""


def words(language: str) -> dict[str, str]:
    column = 0 if language.startswith("zh") else 1
    return {key: pair[column] for key, pair in WORDS.items()}


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _pts(milli: int | None) -> str:
    return "" if milli is None else format_points(milli)


def tree_rows(plan) -> list[dict[str, Any]]:
    """The plan's nodes in tree order with depth, points, share of the scale, rule and stages."""
    rows: list[dict[str, Any]] = []

    def walk(code: str, depth: int) -> None:
        n = plan.nodes[code]
        weighted = n.scoring.value == "weighted"
        rows.append({
            "code": code, "name": n.name, "depth": depth, "kind": n.kind.value, "scoring": n.scoring.value,
            "points": _pts(n.points) if weighted or code == plan.root else "",
            "cap": "" if weighted or n.cap is None else _pts(n.cap),
            "weight": _pct(n.points / plan.scale) if weighted and plan.scale and code != plan.root else "",
            "department": n.department or "", "rule": n.rule.name if n.rule else "",
            "params": "; ".join(f"{k}: {v}" for k, v in sorted(n.rule.params.items())) if n.rule else "",
            "collector": n.collector.name if n.collector else "",
            "stages": ", ".join(f"{s.date:%m-%d} {s.target:g}" for s in n.stages)})
        for child in n.children:
            walk(child, depth + 1)

    walk(plan.root, 0)
    return rows


def _may_draft(account) -> bool:
    """Worth showing the drafting forms (the service decides: the plan's drafting department)."""
    return account.role in (Role.ADMIN, Role.CLERK) and account.unit_code is None


def register(app: FastAPI, web) -> None:
    app.add_middleware(UploadLimit, path=re.compile(r"^/plans/upload$"), limit=UPLOAD_LIMIT, too_large=TOO_LARGE)
    scheme = web.catalog.scheme
    pack = str(scheme.path) if scheme.path else scheme.name

    def w() -> dict[str, str]:
        return words(scheme.language)

    def version_of(ref: str) -> plans.PlanVersion:
        try:
            period, number = plans.parse_ref(ref)
            return plans.get_version(web.store, scheme.name, period, number)
        except UsageError as exc:
            raise Missing(exc.message, hint=exc.hint) from None

    def refused(request: Request, exc: JxError, title: str) -> Response:
        return render(web, request, "error.html", status=404 if isinstance(exc, Missing) else status_of(exc),
                      title=title, message=exc.render())

    async def act(request: Request, title: str, work, then) -> Response:
        """Do ``work`` off the event loop; redirect to ``then(result)`` or show the service's refusal."""
        try:
            done = await run_in_threadpool(work)
        except JxError as exc:
            return refused(request, exc, title)
        return RedirectResponse(then(done), status_code=303)

    # -- the list of versions, new drafts, uploads, the diff ----------------------------------

    @app.get("/plans", name="plans", response_class=HTMLResponse, include_in_schema=False)
    def plans_page(request: Request) -> Response:
        account = signed_in(request)
        found = list(reversed(plans.versions(web.store, scheme.name)))
        years = sorted({*web.catalog.years, *(v.period for v in found)})
        return render(web, request, "plans.html", pw=w(), versions=found, years=years,
                      next_year=max(years) + 1 if years else scheme.period.year, drafting=_may_draft(account),
                      limit=UPLOAD_LIMIT // (1024 * 1024))

    @app.post("/plans/new", name="plan_new", include_in_schema=False)
    async def plan_new(request: Request, year: str = Form(""), source: str = Form("")) -> Response:
        account = signed_in(request, Need.BUREAU)
        if not year.strip().isdigit():
            return refused(request, UsageError(f"{year!r} is not a year", hint="give the new plan's year, e.g. 2011"),
                           w()["new_draft"])
        return await act(request, w()["new_draft"], lambda: plans.new_version(
            web.store, web.registry, pack, int(year), source=source.strip(), user=account.name),
            lambda v: f"/plans/{v.label}/edit")

    @app.post("/plans/upload", name="plan_upload", include_in_schema=False)
    async def plan_upload(request: Request) -> Response:
        account = signed_in(request, Need.BUREAU)
        form = await request.form()  # parsed (and spooled to disk) by the CSRF check already
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return refused(request, UsageError("no file was sent", hint="choose a plan file (YAML) to upload"),
                               w()["upload"])
            data = await upload.read(UPLOAD_LIMIT + 1)
            filename = upload.filename
        finally:
            await form.close()  # the spooled temporary files of the form
        if len(data) > UPLOAD_LIMIT:
            return render(web, request, "error.html", status=413, title=w()["upload"], message=TOO_LARGE)
        name = Path((filename or "").replace("\\", "/")).name or "plan.yaml"
        name = "".join(ch for ch in name if ch.isprintable() and ch not in '/:*?"<>|')[:120].strip(" .") or "plan.yaml"

        def work() -> plans.PlanVersion:
            with tempfile.TemporaryDirectory(prefix="jx-plan-upload-") as folder:
                path = Path(folder) / name
                path.write_bytes(data)
                return plans.import_file(web.store, web.registry, pack, path, user=account.name, shown=name)

        try:
            version = await run_in_threadpool(work)
        except JxError as exc:
            return render(web, request, "plan_problems.html", status=status_of(exc), pw=w(), title=w()["upload"],
                          heading=w()["upload_problems"], message=exc.message,
                          problems=[str(p) for p in exc.problems])
        return RedirectResponse(f"/plans/{version.label}", status_code=303)

    @app.get("/plans/diff", name="plan_diff", response_class=HTMLResponse, include_in_schema=False)
    def plan_diff(request: Request, a: str = "", b: str = "", all: bool = False) -> Response:
        signed_in(request)
        found = plans.versions(web.store, scheme.name)
        choices = [v.label for v in reversed(found)] + [str(y) for y in sorted(web.catalog.years, reverse=True)]
        result = None
        if a.strip() and b.strip():
            try:
                result = plan_analysis.diff_refs(web.store, web.registry, pack, a.strip(), b.strip())
            except JxError as exc:  # a plan the store and the pack do not have: 404
                return render(web, request, "error.html", status=404 if isinstance(exc, UsageError) else status_of(exc),
                              title=w()["diff"], message=exc.render())
        rows = []
        if result is not None:
            for n in result.nodes:
                if not (all or n.changes or n.depth <= 1):
                    continue
                zh = scheme.language.startswith("zh")
                weighted = n.scoring == "weighted"
                rows.append({"code": n.code, "name": n.name, "depth": n.depth,
                             "changes": "、".join(CHANGES.get(c, c) for c in n.changes) if zh else ", ".join(n.changes),
                             "points": f"{_pts(n.points_a) or '—'} → {_pts(n.points_b) or '—'}",
                             "weight": (f"{_pct(n.share_a) or '—'} → {_pct(n.share_b) or '—'}" if weighted
                                        else f"{w()['cap']} {_pts(n.cap_a) or '—'} → {_pts(n.cap_b) or '—'}"),
                             "effective": _pct(n.effective), "details": "; ".join(n.details), "kinds": n.changes})
        return render(web, request, "plan_diff.html", pw=w(), a=a, b=b, all=all, choices=choices, result=result,
                      rows=rows)

    # -- one version: its tree, record, comments and the workflow's forms -----------------------

    @app.get("/plans/{ref}", name="plan_version", response_class=HTMLResponse, include_in_schema=False)
    def plan_version(request: Request, ref: str, node: str | None = None, saved: bool = False) -> Response:
        account = signed_in(request)
        version = version_of(ref)
        record = plans.record(web.store, version)
        plan = version.plan()
        answers: dict[int, list] = {}
        for c in record.comments:
            if c.answers is not None:
                answers.setdefault(c.answers, []).append(c)
        asked = [c for c in record.comments if c.answers is None]
        later = [x.label for x in plans.versions(web.store, scheme.name, version.period) if x.parent_id == version.id]
        problems = [str(p) for p in plans.check_document(web.registry, version)] if version.state is State.DRAFT else []
        return render(web, request, "plan_version.html", pw=w(), version=version, record=record, plan=plan,
                      rows=tree_rows(plan), asked=asked, answers=answers, drafting=_may_draft(account),
                      admin=account.role is Role.ADMIN, branch=account.unit_code is not None,
                      chosen=node if node in plan.nodes else plan.root, later=later, problems=problems,
                      saved=saved)

    @app.get("/plans/{ref}/export.yaml", name="plan_export", include_in_schema=False)
    def plan_export(request: Request, ref: str) -> Response:
        signed_in(request)
        version = version_of(ref)
        return Response(plans.export_yaml(version), media_type="application/yaml; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="{version.period}-v{version.number}.yaml"'})

    def reasoned_step(action: str, step: Callable[..., plans.PlanVersion]) -> None:
        """``POST /plans/{ref}/submit`` and ``/publish``: a bureau account moves the version on, with an
        optional reason; the service decides whether the step is allowed."""

        async def route(request: Request, ref: str, reason: str = Form("")) -> Response:
            account = signed_in(request, Need.BUREAU)
            return await act(request, w()[action], lambda: step(
                web.store, version_of(ref), user=account.name, reason=reason.strip() or None),
                lambda v: f"/plans/{v.label}")

        app.post(f"/plans/{{ref}}/{action}", name=f"plan_{action}", include_in_schema=False)(route)

    reasoned_step("submit", plans.submit)
    reasoned_step("publish", plans.publish)

    @app.post("/plans/{ref}/approve", name="plan_approve", include_in_schema=False)
    async def plan_approve(request: Request, ref: str, meeting: str = Form(""), minutes: str = Form(""),
                           reason: str = Form("")) -> Response:
        account = signed_in(request, Need.BUREAU)
        return await act(request, w()["approve"], lambda: plans.approve(
            web.store, version_of(ref), user=account.name, meeting=meeting, minutes_ref=minutes,
            reason=reason.strip() or None), lambda v: f"/plans/{v.label}")

    @app.post("/plans/{ref}/revise", name="plan_revise", include_in_schema=False)
    async def plan_revise(request: Request, ref: str) -> Response:
        account = signed_in(request, Need.BUREAU)

        def work() -> plans.PlanVersion:
            version = version_of(ref)
            return plans.new_version(web.store, web.registry, pack, version.period, source=version.label,
                                     user=account.name)

        return await act(request, w()["revise"], work, lambda v: f"/plans/{v.label}/edit")

    @app.post("/plans/{ref}/comment", name="plan_comment", include_in_schema=False)
    async def plan_comment(request: Request, ref: str, node: str = Form(""), text: str = Form("")) -> Response:
        account = signed_in(request)  # branch accounts comment; the service refuses everyone else
        return await act(request, w()["comment"], lambda: plans.comment(
            web.store, version_of(ref), node.strip(), text, user=account.name),
            lambda c: f"/plans/{ref}#comment-{c.id}")

    @app.post("/plans/{ref}/answer", name="plan_answer", include_in_schema=False)
    async def plan_answer(request: Request, ref: str, comment: str = Form(""), text: str = Form("")) -> Response:
        account = signed_in(request, Need.BUREAU)
        if not comment.strip().isdigit():
            return refused(request, UsageError(f"{comment!r} names no comment", hint="answer from the version's page"),
                           w()["answer"])
        return await act(request, w()["answer"], lambda: plans.answer(
            web.store, version_of(ref), int(comment), text, user=account.name),
            lambda c: f"/plans/{ref}#comment-{c.answers}")

    # -- the editor ----------------------------------------------------------------------------

    def editor(request: Request, version, document, *, status: int = 200, problems=(), note: str = "",
               unchanged: bool = False) -> Response:
        rules = sorted(web.registry.rules)
        return render(web, request, "plan_edit.html", status=status, pw=w(), version=version,
                      document=json.dumps(document, ensure_ascii=False), rules=rules,
                      words_json=json.dumps(w(), ensure_ascii=False), problems=list(problems), note=note,
                      unchanged=unchanged)

    @app.get("/plans/{ref}/edit", name="plan_edit", response_class=HTMLResponse, include_in_schema=False)
    def plan_edit(request: Request, ref: str, unchanged: bool = False) -> Response:
        account = signed_in(request, Need.BUREAU)
        version = version_of(ref)
        try:
            version = plans.check_editable(web.store, version, user=account.name)
        except JxError as exc:
            return render(web, request, "error.html", status=status_of(exc), title=w()["frozen"],
                          message=exc.render())
        return editor(request, version, plans.editable(version), unchanged=unchanged)

    @app.post("/plans/{ref}/save", name="plan_save", include_in_schema=False)
    async def plan_save(request: Request, ref: str, document: str = Form(""), note: str = Form("")) -> Response:
        account = signed_in(request, Need.BUREAU)
        try:
            version = await run_in_threadpool(version_of, ref)
            saved = await run_in_threadpool(lambda: plans.save_draft(
                web.store, web.registry, version, document, user=account.name, note=note))
        except SchemeError as exc:
            try:
                edited = json.loads(document)
            except ValueError:
                edited = None
            if not isinstance(edited, dict):
                return refused(request, exc, w()["save"])
            return editor(request, version, edited, status=400, problems=exc.problems, note=note)
        except JxError as exc:
            return refused(request, exc, w()["save"])
        if saved.id == version.id:
            return RedirectResponse(f"/plans/{saved.label}/edit?unchanged=1", status_code=303)
        return RedirectResponse(f"/plans/{saved.label}?saved=1", status_code=303)

    # -- what-if -------------------------------------------------------------------------------

    @app.get("/plans/{ref}/whatif", name="plan_whatif", response_class=HTMLResponse, include_in_schema=False)
    def plan_whatif(request: Request, ref: str, data: str = "last-year", beside: str = "",
                          all: bool = False) -> Response:
        signed_in(request, Need.BUREAU)
        try:
            version = version_of(ref)
            result = plan_analysis.whatif_for(web.store, web.registry, pack, version.label, data=data,
                                              baseline_ref=beside.strip() or None)
        except JxError as exc:
            return refused(request, exc, w()["whatif"])
        zh = scheme.language.startswith("zh")

        def status_name(s: str) -> str:
            base, _, item = s.partition(":")
            return (STATUSES.get(base, base) + (f"（{item}）" if item else "")) if zh else s

        rows = [{"code": u.code, "name": u.name, "before": _pts(u.total_before), "rank_before": u.rank_before,
                 "after": _pts(u.total_after), "rank_after": u.rank_after,
                 "gained": "、".join(status_name(s) for s in u.gained),
                 "lost": "、".join(status_name(s) for s in u.lost),
                 "movers": "; ".join(f"{c} {'+' if d > 0 else ''}{_pts(d)}" for c, d in u.movers)}
                for u in result.units if all or u.gained or u.lost]
        return render(web, request, "plan_whatif.html", pw=w(), version=version, result=result, rows=rows,
                      data=data, beside=beside, all=all, changed=len(result.changed_status()),
                      moved=sum(u.rank_before != u.rank_after for u in result.units))

    @app.get("/plans/{ref}/lint", name="plan_lint", response_class=HTMLResponse, include_in_schema=False)
    def plan_lint(request: Request, ref: str) -> Response:
        signed_in(request, Need.BUREAU)
        version = version_of(ref)
        try:
            found = plan_analysis.lint_ref(web.store, web.registry, pack, version.label)
        except JxError as exc:
            return refused(request, exc, w()["lint"])
        return render(web, request, "plan_lint.html", pw=w(), version=version, warnings=found)

    # -- JSON ----------------------------------------------------------------------------------

    def _problem(p) -> dict[str, Any]:
        return {"node": p.location.node, "message": p.message, "hint": p.hint, "text": str(p)}

    @app.get("/api/plans", tags=["plans"])
    def api_plans(request: Request) -> Response:
        """The scheme's stored plan versions, newest first, with their states."""
        signed_in(request)
        return JSONResponse([{"label": v.label, "period": v.period, "number": v.number, "state": v.state.value,
                              "digest": v.digest, "parent": v.parent, "origin": v.origin, "created_by": v.created_by,
                              "created_at": v.created_at.isoformat()}
                             for v in reversed(plans.versions(web.store, scheme.name))])

    @app.get("/api/plans/{ref}", tags=["plans"])
    def api_plan(request: Request, ref: str) -> Response:
        """One version (``2011`` or ``2011v2``): its record (transitions, comments) and its plan as the
        editor edits it (the plan file's mapping in JSON, dates as ``{"$date": …}``)."""
        signed_in(request)
        version = version_of(ref)
        record = plans.record(web.store, version)
        return JSONResponse({
            "label": version.label, "state": version.state.value, "digest": version.digest,
            "transitions": [{"from": t.from_state.value if t.from_state else None, "to": t.to_state.value, "by": t.by,
                             "at": t.at.isoformat(), "reason": t.reason, "meeting": t.meeting,
                             "minutes_ref": t.minutes_ref} for t in record.transitions],
            "comments": [{"id": c.id, "node": c.node, "unit": c.unit, "answers": c.answers, "by": c.by,
                          "at": c.at.isoformat(), "text": c.text} for c in record.comments],
            "document": plans.editable(version)})

    @app.post("/api/plans/{ref}/validate", tags=["plans"], openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
    async def api_validate(request: Request, ref: str) -> Response:
        """Check an edited plan of version ``ref`` (the body: the document of ``GET /api/plans/{ref}``)
        as ``jx validate`` checks a plan file; every problem with its node. Stores nothing. Needs the
        session's CSRF token in ``X-CSRF-Token``."""
        signed_in(request, Need.BUREAU)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"error": "send the edited plan as JSON (Content-Type: application/json)"},
                                status_code=400)
        try:
            body = await request.body()
            document = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError) as exc:
            return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
        problems = await run_in_threadpool(lambda: plans.check_data(web.registry, version_of(ref), document))
        return JSONResponse({"valid": not problems, "problems": [_problem(p) for p in problems]})
