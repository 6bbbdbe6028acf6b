"""``settings.evaluation`` of a plan: how far the plan may plausibly vary, and the evaluation's thresholds.

Checked like every other setting (:func:`jxcore.settings.checked_settings`): a typo or a bad value
is a SchemeError naming ``settings.evaluation.<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jxcore.errors import Location, Problem, SchemeError
from jxcore.models import Scheme
from jxcore.params import Param
from jxcore.settings import checked_settings

#: rule parameters varied by default: the numeric targets, step sizes and per-step points
DEFAULT_VARIED = ("target", "step", "per_step_above", "per_step_below", "per_step")


def _ranges_problem(value: Any) -> str | None:
    for key, ranges in value.items():
        if not isinstance(ranges, Mapping):
            return f"{key!r}: give a mapping {{parameter: relative range}}, not {ranges!r}"
        for name, share in ranges.items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
                return f"{key}.{name}: a relative range is a number from 0 to below 1 (0.1 = ±10 %), not {share!r}"
    return None


def _bounds_problem(value: Any) -> str | None:
    numbers = [x for x in value if isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0]
    if numbers != list(value) or sorted(set(numbers), reverse=True) != numbers:
        return f"give numbers of market entities >= 0, strictly decreasing (class 1 is the largest), not {value!r}"
    return None


EVALUATION_SETTINGS = (
    Param("variations", "integer", "Monte Carlo variations of the plan (jx evaluate --variations overrides)",
          default=1000, minimum=10),
    Param("seed", "integer", "seed of the random variations (--seed overrides)", default=0, minimum=0),
    Param("weight_range", "number", "each weighted item's weight varies by ± this share, then all are "
          "renormalised to the scale", default=0.2, minimum=0, maximum=0.99),
    Param("param_range", "number", "relative range of the varied numeric rule parameters (0.1 = ±10 %)",
          default=0.1, minimum=0, maximum=0.99),
    Param("params", "list", "names of the numeric rule parameters varied by param_range",
          default=list(DEFAULT_VARIED)),
    Param("ranges", "mapping", "per indicator code or rule name: {parameter: relative range}; "
          "overrides param_range (0 keeps a parameter fixed)", default={}, validator=_ranges_problem),
    Param("levels", "integer", "parameter sets drawn per indicator; each variation picks one per indicator",
          default=32, minimum=1),
    Param("missing", "string", "vary: a unit without data is scored as zero or as excluded at random "
          "(rules with a missing parameter); keep: as the plan says", default="vary", choices=("vary", "keep")),
    Param("holds_share", "number", "a decision is robust when it holds in at least this share of variations",
          default=0.9, minimum=0, maximum=1),
    Param("sobol_samples", "integer", "Sobol' base sample size N (a power of 2); N × (items + 2) plan evaluations",
          default=1024, minimum=16),
    Param("size_share", "number", "flag the ranking when unit size explains more than this share of its "
          "variance (R² of ranks on log staff and log entities)", default=0.25, minimum=0, maximum=1),
    Param("size_classes", "list", "market entities at which size classes 1..4 start (decreasing); default "
          "the class_bounds of the plan's major_cases rule, else the quintiles", default=None,
          validator=_bounds_problem),
    Param("peers", "string", "peer groups: neighbours (nearest on log staff and log entities) or class",
          default="neighbours", choices=("neighbours", "class")),
    Param("neighbours", "integer", "how many nearest units form a unit's peer group", default=5, minimum=1),
    Param("peer_gap", "number", "a unit is far from its peers when its total differs from their mean by more "
          "than this many standard deviations of all totals", default=1.0, minimum=0),
    Param("redundant", "number", "indicator pairs correlated above this |r| are listed as redundant",
          default=0.9, minimum=0, maximum=1),
    Param("workload", "list", "indicator codes whose value is a workload (per head against the system "
          "average); default the indicators scored by the workload rule", default=None),
)


def evaluation_settings(scheme: Scheme, **overrides: Any) -> dict[str, Any]:
    """The checked ``settings.evaluation`` with defaults, then ``overrides`` that are not None."""
    opts = checked_settings(scheme, "evaluation", EVALUATION_SETTINGS, node_lists=("workload",))
    opts.update({k: v for k, v in overrides.items() if v is not None})
    bad = [k for k in opts["ranges"] if k not in scheme.nodes and not _is_rule_name(scheme, k)]
    if bad:
        raise SchemeError.from_problems(f"scheme {scheme.name}: bad settings.evaluation", [Problem(
            f"ranges names {', '.join(map(str, bad))}, neither an indicator nor a rule of the "
            f"{scheme.period.year} plan", Location(file=str(scheme.path) if scheme.path else None,
                                                   node="settings.evaluation.ranges"),
            "key each range by an indicator code or by the name of a rule the plan uses")])
    return opts


def _is_rule_name(scheme: Scheme, name: str) -> bool:
    return any(n.rule is not None and n.rule.name == name for n in scheme.indicators())
