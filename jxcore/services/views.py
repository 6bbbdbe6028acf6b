"""A run as the applications see it, whether it was just scored or read back from the store.

:class:`RunView` is built from a :class:`~jxcore.models.RunResult` (inside a run) or from a
:class:`~jxcore.store.StoredRun` plus the plan that scored it (:func:`jxcore.services.stored_view`),
so every application (outputs, the web app, evaluation) works the same on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from jxcore.errors import UsageError
from jxcore.models import Node, RunResult, Scheme


@attrs.frozen(eq=False)
class RunView:
    """Scores (int64 milli-points, ``(n_nodes, n_units)``, root row first), ranks and measures."""

    scheme: Scheme
    run_id: str | None
    as_of: dt.date
    final: bool
    codes: np.ndarray
    names: np.ndarray
    node_codes: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray
    values: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    #: the installed plan of this period is not the one that scored this run (say so where shown)
    plan_differs: bool = False
    _rows: dict[str, int] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_rows", {code: i for i, code in enumerate(self.node_codes)})

    @classmethod
    def from_result(cls, result: RunResult) -> RunView:
        return cls(scheme=result.scheme, run_id=result.run.id, as_of=result.run.as_of, final=result.run.final,
                   codes=np.asarray(result.units.codes, dtype=object),
                   names=np.asarray(result.units.names, dtype=object), node_codes=tuple(result.node_codes),
                   scores=result.scores, ranks=np.asarray(result.ranks),
                   values={c: m.value for c, m in result.measures.items()},
                   sources={c: m.source for c, m in result.measures.items()})

    @classmethod
    def from_stored(cls, stored: Any, scheme: Scheme, *, plan_differs: bool = False) -> RunView:
        """``stored`` is a :class:`jxcore.store.StoredRun`; ``scheme`` (the plan that scored it)
        gives names, rules, settings."""
        return cls(scheme=scheme, run_id=stored.id, as_of=stored.as_of, final=stored.final,
                   codes=np.asarray(stored.unit_codes, dtype=object),
                   names=np.asarray(stored.unit_names, dtype=object), node_codes=tuple(stored.node_codes),
                   scores=stored.scores, ranks=np.asarray(stored.ranks), values=stored.values,
                   sources=stored.measure_sources, plan_differs=plan_differs)

    @property
    def totals(self) -> np.ndarray:
        return self.scores[0]

    @property
    def language(self) -> str:
        return self.scheme.language

    def __len__(self) -> int:
        return len(self.codes)

    def has_node(self, code: str) -> bool:
        return code in self._rows

    def node_scores(self, code: str) -> np.ndarray:
        return self.scores[self._rows[code]]

    def node(self, code: str) -> Node | None:
        """The scheme's node (None if the scheme no longer has it)."""
        return self.scheme.nodes.get(code)

    def items(self) -> list[Node]:
        """The scheme's major items that this run has scores for."""
        return [n for n in self.scheme.items() if n.code in self._rows]

    def unit_position(self, code: str) -> int:
        try:
            return list(self.codes).index(code)
        except ValueError:
            shown = ", ".join(map(str, self.codes[:8]))
            raise UsageError(f"unit {code!r} is not in run {self.run_id} of scheme {self.scheme.name}",
                             hint=f"give a unit code such as {shown}") from None

