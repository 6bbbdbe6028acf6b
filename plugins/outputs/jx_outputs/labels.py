"""One label table for every output: Chinese for ``language: zh`` schemes, English otherwise."""

from __future__ import annotations

from collections.abc import Mapping

LABELS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "ranking_title": ("{title} {year} 年度排行榜（截至 {as_of}）", "{title} {year} ranking (as of {as_of})"),
    "site_title": ("绩效之窗", "Performance window"),
    "rank": ("名次", "rank"),
    "unit": ("单位", "unit"),
    "code": ("代码", "code"),
    "total": ("总分", "total"),
    "gap": ("与上一名差距", "gap to above"),
    "move": ("名次变化", "move"),
    "item_rank": ("单项名次", "item rank"),
    "items": ("大项得分", "item scores"),
    "indicators": ("指标得分", "indicator scores"),
    "indicator": ("指标", "indicator"),
    "node": ("项目", "node"),
    "points": ("分值", "points"),
    "score": ("得分", "score"),
    "measure": ("考核数据", "measure"),
    "source": ("数据来源", "source"),
    "rule": ("考核规则", "rule"),
    "commendation": ("评先评优", "commendation"),
    "top_units": ("总分前 {n} 名", "top {n} by total"),
    "item_excellence": ("单项先进：{item}", "excellent in {item}"),
    "not_eligible": ("不参评（有 {nodes} 扣分）", "not eligible (deducted on {nodes})"),
    "review": ("班子评价", "leadership review"),
    "admonition": ("诫勉谈话", "admonition talk"),
    "reshuffle": ("班子调整", "leadership reshuffle"),
    "admonition_rule": ("连续 {years} 年总分排名后 {k} 名", "bottom {k} by total {years} years running"),
    "reshuffle_rule": ("连续 {years} 年总分排名后 {k} 名且低于合格线 {line} 分",
                       "bottom {k} by total {years} years running and below the pass line {line}"),
    "bottom_of": ("{year} 年后 {k} 名", "bottom {k} of {year}"),
    "missing_year": ("{year} 年没有最终结果（请运行 {command}）", "{year} has no final result (run {command})"),
    "none": ("无", "none"),
    "warnings": ("预警", "early warnings"),
    "level": ("预警等级", "level"),
    "stage": ("阶段目标", "stage target"),
    "due": ("截止日期", "due"),
    "value": ("完成值", "value"),
    "new": ("新增", "new"),
    "level_1": ("关注", "attention"),
    "level_2": ("警告", "warning"),
    "level_3": ("严重警告", "serious warning"),
    "rank_history": ("名次走势", "rank history"),
    "as_of": ("截至", "as of"),
    "run": ("运行", "run"),
    "back": ("返回排行榜", "back to the ranking"),
    "explain_title": ("{name}（{code}）{year} 年得分说明，截至 {as_of}：总分 {total} / {scale}，第 {rank} 名",
                      "{name} ({code}) {year}, as of {as_of}: total {total} of {scale}, rank {rank}"),
    "earned": ("得 {score} / {points}", "{score} of {points}"),
    "lost": ("失 {lost}", "lost {lost}"),
    "gained": ("加 {gained}", "gained {gained}"),
    "no_data": ("无数据", "no data"),
    "sheet_ranking": ("排行榜", "ranking"),
    "sheet_items": ("大项得分", "item scores"),
    "sheet_indicators": ("指标得分", "indicator scores"),
    "sheet_commendation": ("评先评优", "commendation"),
    "sheet_review": ("班子评价", "leadership review"),
    "sheet_warnings": ("预警", "warnings"),
}


def labels(language: str) -> Mapping[str, str]:
    """The labels of one language: ``zh`` gives Chinese, anything else English."""
    column = 0 if language.startswith("zh") else 1
    return {key: pair[column] for key, pair in LABELS.items()}
