"""Explain's data: the source rows or entries behind a unit's measure, through each collector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jxcore.interfaces import CollectContext, CollectRequest, RowSample
from jxcore.models import Node
from jxcore.params import check_params
from jxcore.plugins import Registry
from jxcore.services.views import RunView


def source_rows(view: RunView, registry: Registry, store: Any, opener: Any, unit: str,
                limit: int) -> Callable[[Node], RowSample | None]:
    """indicator node → its source rows for ``unit`` as of the run's date, from the collector's
    optional ``source_rows`` (None when the collector has none). ``opener`` is a
    :class:`jxcore.engine.SourceOpener` of the view's plan."""
    ctx = CollectContext(scheme=view.scheme, units=view.scheme.unit_table(), period=view.scheme.period,
                         as_of=view.as_of, open_source=opener.open, store=store)

    def rows(node: Node) -> RowSample | None:
        collector = registry.collector(node.collector_ref.name)
        method = getattr(collector, "source_rows", None)
        if method is None:
            return None
        params, _ = check_params(collector.params, node.collector_ref.params)
        return method(ctx, CollectRequest(node, params), unit, limit)

    return rows
