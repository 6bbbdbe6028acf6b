"""Ranks and the scheme's ranking settings: one mechanism for the engine and every output.

``settings.ranking`` says how ties are ranked: ``ties: shared`` (default) gives equal scores one
rank (1, 2, 2, 4); ``ties: order`` breaks them by the node codes in ``tie_break`` (higher first),
then by unit order. The engine ranks every run with it, so ``jx validate`` checks it always.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jxcore.errors import Problem
from jxcore.models import Scheme
from jxcore.params import Param
from jxcore.settings import checked_settings, settings_problems

RANKING_SETTINGS = (
    Param("ties", "string", "equal scores share a rank, or are ordered by tie_break", default="shared",
          choices=("shared", "order")),
    Param("tie_break", "list", "node codes that break ties (higher first), with ties: order", default=[]),
)


def ranking_problems(scheme: Scheme) -> list[Problem]:
    """What is wrong with ``settings.ranking`` (each problem names the setting's dotted path)."""
    return settings_problems(scheme, "ranking", RANKING_SETTINGS, node_lists=("tie_break",))


def ranking_settings(scheme: Scheme) -> dict[str, Any]:
    """The checked ``settings.ranking`` with defaults filled in; SchemeError if it is wrong."""
    return checked_settings(scheme, "ranking", RANKING_SETTINGS, node_lists=("tie_break",))


def rank_values(values: np.ndarray, *, ties: str = "shared", tie_keys: Sequence[np.ndarray] = (),
                higher_first: bool = True) -> np.ndarray:
    """1-based ranks of ``values``: ``shared`` gives equal values one rank (1, 2, 2, 4);
    ``order`` breaks ties by ``tie_keys`` (higher first, in the order given), then by position."""
    v = np.asarray(values)
    n = v.shape[0]
    key = -v if higher_first else v
    ranks = np.empty(n, dtype=np.int64)
    if ties == "shared":
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        first = np.r_[True, ordered[1:] != ordered[:-1]] if n else np.zeros(0, dtype=bool)
        ranks[order] = np.maximum.accumulate(np.where(first, np.arange(1, n + 1), 0)) if n else ranks
        return ranks
    order = np.lexsort([np.arange(n)] + [-np.asarray(k) for k in reversed(tie_keys)] + [key])
    ranks[order] = np.arange(1, n + 1)
    return ranks


def rank_totals(matrix: np.ndarray, node_codes: Sequence[str], settings: Mapping[str, Any]) -> np.ndarray:
    """Ranks by total (row 0 of a run's score matrix) under checked ranking ``settings``."""
    tie_keys = [matrix[list(node_codes).index(code)] for code in settings["tie_break"]]
    return rank_values(matrix[0], ties=settings["ties"], tie_keys=tie_keys)
