"""The web app's words: jx_outputs' label table (the static 绩效之窗's) plus the live site's own."""

from __future__ import annotations

from collections.abc import Mapping

from jx_outputs.labels import labels as output_labels

WEB_LABELS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "user_name": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "leaderboard": ("排行榜", "Leaderboard"),
    "my_unit": ("本单位", "My unit"),
    "explain": ("得分说明", "Explain"),
    "compare": ("对比", "Compare"),
    "runs": ("运行记录", "Runs"),
    "distribution": ("总分分布", "Distribution of totals"),
    "warnings_count": ("预警数", "warnings"),
    "total_history": ("总分走势", "total history"),
    "final_years": ("历年最终结果", "final results by year"),
    "losses": ("失分最多的指标（与最好单位比）", "where the points went (against the best unit)"),
    "best": ("最好", "best"),
    "best_unit": ("最好单位", "best unit"),
    "target": ("目标", "target"),
    "lost_points": ("失分", "lost"),
    "status": ("评价情况", "status"),
    "commended": ("评先评优", "commended"),
    "not_commended": ("未列入评先评优", "not commended"),
    "review_none": ("无", "none"),
    "new_since": ("较上一日新增", "new since the previous day"),
    "all_levels": ("全部预警", "all warnings"),
    "run_a": ("运行 A", "run A"),
    "run_b": ("运行 B", "run B"),
    "change": ("变化", "change"),
    "show": ("显示", "Show"),
    "page": ("第 {page} 页", "page {page}"),
    "previous_page": ("上一页", "previous"),
    "next_page": ("下一页", "next"),
    "children": ("下级项目", "parts"),
    "collector": ("采集方式", "collector"),
    "sql": ("查询", "query"),
    "forbidden": ("无权访问", "Not allowed"),
    "not_found": ("找不到页面", "Not found"),
    "error": ("出错了", "Error"),
    "bad_login": ("用户名或密码错误", "Wrong user name or password"),
    "throttled": ("登录失败次数过多，请 {minutes} 分钟后再试",
                  "Too many failed sign-ins; try again in {minutes} minutes"),
    "csrf": ("表单已过期，请刷新页面后重新提交", "The form has expired; reload the page and submit again"),
    "no_run": ("还没有运行结果", "No run yet"),
    "sessions": ("会话", "Sessions"),
    "revoke": ("注销", "Revoke"),
    "run_now": ("立即运行", "Run now"),
    "final": ("最终结果", "final"),
    "latest": ("最新", "latest"),
    "home": ("首页", "Home"),
    "item_rank_note": ("括号内为单项名次", "in brackets: the rank on that item"),
    "plan_differs": ("本结果按当时的考核方案计分，与现行方案不同",
                     "scored with the plan of its day, which differs from the installed plan"),
}


def labels(language: str) -> Mapping[str, str]:
    """Both tables in one language: ``zh`` gives Chinese, anything else English."""
    column = 0 if language.startswith("zh") else 1
    return {**output_labels(language), **{key: pair[column] for key, pair in WEB_LABELS.items()}}
