"""What clerks, inspectors and admins do in the browser (及时录入、及时锁定、及时公示): entry forms and
file uploads (:mod:`jx_web.entry`), locks, the chain head and the year's announcement
(:mod:`jx_web.locks`), users and logs (:mod:`jx_web.admin`). Every act goes through
``jxcore.services``; this module holds what those pages share: their words and how they render.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from jxcore.errors import AccessDenied, JxError, LockedError

WORDS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "entry": ("数据录入", "Data entry"),
    "entries": ("已录入条目", "Entries"),
    "batches": ("录入批次", "Batches"),
    "kind": ("数据类别", "Kind"),
    "form": ("逐条录入", "Enter one"),
    "upload": ("上传文件", "Upload a file"),
    "template": ("下载模板", "Template (XLSX)"),
    "file": ("文件", "File"),
    "sheet": ("工作表（可不填）", "Sheet (optional)"),
    "preview": ("预览", "Preview"),
    "save": ("保存", "Save"),
    "confirm": ("确认导入", "Confirm the import"),
    "cancel": ("放弃", "Cancel"),
    "required": ("必填", "required"),
    "choose": ("请选择", "choose"),
    "feeds": ("将计入的指标", "Indicators this feeds"),
    "department": ("科室", "Department"),
    "count": ("条数", "entries"),
    "units_changed": ("涉及单位", "Units"),
    "score_change": ("得分变化（按当前排行榜 {as_of} 试算）", "Score change (on the current leaderboard of {as_of})"),
    "counts_later": ("{n} 条日期晚于当前排行榜的截止日期，将在之后的运行中计分",
                     "{n} entries are dated after the current leaderboard's date: they count from a later run"),
    "no_change": ("不改变任何单位的总分", "changes no unit's total"),
    "before": ("之前", "before"),
    "after": ("之后", "after"),
    "total": ("总分", "total"),
    "rank": ("名次", "rank"),
    "problems": ("文件有问题，未导入任何数据", "The file has problems; nothing was imported"),
    "problems_form": ("请修改标出的项目", "Correct the fields marked"),
    "where_sheet": ("工作表", "sheet"),
    "where_row": ("行", "row"),
    "where_column": ("列", "column"),
    "what": ("问题", "problem"),
    "how": ("如何修改", "how to fix"),
    "would_import": ("将导入 {rows} 条", "{rows} entries would be imported"),
    "saved": ("已保存", "Saved"),
    "imported": ("已导入 {rows} 条（批次 {batch}）", "{rows} entries imported (batch {batch})"),
    "history": ("条目记录", "History"),
    "entered_by": ("录入人", "entered by"),
    "entered_at": ("录入时间", "entered at"),
    "source": ("来源", "source"),
    "row": ("行", "row"),
    "supersedes": ("更正了", "corrects"),
    "superseded_by": ("被更正为", "superseded by"),
    "withdrawn": ("已撤回", "withdrawn"),
    "live": ("有效", "counts"),
    "correct": ("更正", "Correct"),
    "withdraw": ("撤回", "Withdraw"),
    "withdraw_batch": ("撤回整批", "Withdraw the batch"),
    "reason": ("原因", "Reason"),
    "correcting": ("更正条目 #{id}", "Correcting entry #{id}"),
    "all_kinds": ("全部类别", "all kinds"),
    "all_units": ("全部单位", "all units"),
    "filter": ("筛选", "Filter"),
    "shown_newest": ("显示最新 {n} 条", "the newest {n} shown"),
    "records": ("锁定与公示", "Locks and publication"),
    "locks": ("锁定", "Locks"),
    "lock": ("锁定", "Lock"),
    "lock_until": ("锁定截至日期的录入数据", "Lock entries up to"),
    "lock_final": ("锁定本年度最终结果", "Lock the final results"),
    "scope": ("范围", "scope"),
    "scope_entries": ("录入数据截至 {until}", "entries up to {until}"),
    "scope_final": ("最终结果及全部录入数据", "final results and all entries"),
    "by": ("操作人", "by"),
    "at": ("时间", "at"),
    "state": ("状态", "state"),
    "active": ("生效中", "active"),
    "lifted": ("已解除（{a} 申请，{b} 确认）", "lifted ({a} requested, {b} confirmed)"),
    "requested": ("{who} 已申请解除", "unlock requested by {who}"),
    "request_unlock": ("申请解除", "Request the unlock"),
    "confirm_unlock": ("确认解除", "Confirm the unlock"),
    "unlock_reason": ("解除原因", "Reason for the unlock"),
    "request_reason": ("申请原因", "the request's reason"),
    "chain_head": ("审计链头", "Chain head"),
    "chain_size": ("记录数", "records"),
    "download": ("下载", "Download"),
    "printable": ("打印版（会议记录用）", "Printable (for the minutes)"),
    "verify": ("校验", "Verify"),
    "verified": ("校验通过：{size} 条记录，链头 {head}", "Verified: {size} records, head {head}"),
    "verify_failed": ("校验发现 {n} 处问题", "Verification found {n} problems"),
    "signed_heads": ("签名链头", "Signed heads"),
    "event": ("事件", "event"),
    "publish": ("公布年度最终结果", "Publish the year's final results"),
    "publish_note": ("计算 {year} 年最终结果并锁定，之后所有账号可在公示页查看",
                     "Scores {year}'s final result and locks it; every account can then read the announcement"),
    "announcement": ("年度公示", "Announcement"),
    "announcement_of": ("{year} 年度绩效考核结果公示", "Results of {year}"),
    "no_final": ("{year} 年还没有最终结果", "{year} has no final result yet"),
    "users": ("用户", "Users"),
    "add_user": ("新增用户", "Add a user"),
    "role": ("角色", "role"),
    "unit": ("单位", "unit"),
    "disabled": ("已停用", "disabled"),
    "enabled": ("正常", "active"),
    "disable": ("停用", "Disable"),
    "enable": ("启用", "Enable"),
    "reset_password": ("重置密码", "Reset the password"),
    "new_password": ("{name} 的新密码（只显示这一次）：", "New password of {name} (shown only once):"),
    "set_unit": ("设置单位", "Set the unit"),
    "change_role": ("修改角色", "Change the role"),
    "departments": ("科室", "Departments"),
    "department_name": ("科室名称（新科室）", "Department name (a new department)"),
    "access_log": ("访问日志", "Access log"),
    "audit_chain": ("审计链", "Audit chain"),
    "allowed": ("允许", "allowed"),
    "refused": ("拒绝", "refused"),
    "all": ("全部", "all"),
    "action": ("操作", "action"),
    "message": ("内容", "message"),
    "table": ("表", "table"),
    "older": ("更早", "older"),
    "none_yet": ("暂无", "none yet"),
}

ROLE_NAMES = {"admin": ("管理员", "admin"), "clerk": ("录入员", "clerk"), "inspector": ("督察", "inspector"),
              "viewer": ("查看", "viewer")}


def words(language: str) -> dict[str, str]:
    column = 0 if language.startswith("zh") else 1
    return {key: pair[column] for key, pair in WORDS.items()} | {
        f"role_{k}": pair[column] for k, pair in ROLE_NAMES.items()}


def words_of(web) -> dict[str, str]:
    return words(web.catalog.scheme.language)


def render(web, request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A page of these modules: the app's own rendering with their words as ``w``."""
    return web.render(request, template, status=status, w=words_of(web), **ctx)


def status_of(exc: JxError) -> int:
    """The HTTP status of a refused act: 403 not allowed, 409 locked, else 400 (bad input)."""
    return 403 if isinstance(exc, AccessDenied) else 409 if isinstance(exc, LockedError) else 400


async def perform(web, request: Request, title: str, work, then: str) -> Response:
    """Do ``work`` (a service call) off the event loop; then redirect to ``then``, or show why it
    was refused (bad input 400, not allowed 403, locked 409) with the service's own words."""
    try:
        await run_in_threadpool(work)
    except JxError as exc:
        return render(web, request, "error.html", status=status_of(exc), title=title, message=exc.render())
    return RedirectResponse(then, status_code=303)


def register(app: FastAPI, web) -> None:
    """Add the entry, records, administration and plan-making pages to the app."""
    from jx_web import admin, entry, locks, planning

    for module in (entry, locks, admin, planning):
        module.register(app, web)
