"""Event kinds (text) to positions in a rule's list of kinds, exactly, in a few integer passes.

Comparing a 30,000-row text column once per declared kind costs ~0.15 ms a kind, which made the
event-kind rules slower than a millisecond. Instead the rows are read as their UCS-4 code points:
a few character positions that tell the declared kinds apart pick each row's one candidate kind
through small lookup tables, and one pass of word compares over the whole rows confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np


def kind_index(kinds: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Position in ``names`` of each row of ``kinds`` (a numpy text array), -1 where none matches.

    Same answer as ``kinds == name`` for each name in turn (the last of equal names wins), at a
    fraction of the cost when there are several names.
    """
    n = len(kinds)
    width = kinds.dtype.itemsize // 4
    fits = [i for i, name in enumerate(names) if len(name) <= width]  # a longer name cannot match
    as_stored = np.array([names[i] for i in fits], dtype=f"<U{width}").tolist()
    last = dict(zip(as_stored, fits))  # of equal names the last wins
    if n == 0 or not last:
        return np.full(n, -1, dtype=np.int64)
    table = np.array(list(last), dtype=f"<U{width}")
    rows = np.ascontiguousarray(kinds, dtype=f"<U{width}")  # little-endian code points
    chars = rows.view(np.uint32).reshape(n, width)
    cand = np.zeros(n, dtype=np.int64) if len(table) == 1 else None
    for column, low, char_lut, pair_lut, radix in _plan(table.tobytes(), len(table), width):
        code = char_lut.take(np.minimum(chars[:, column] - low, len(char_lut) - 1))
        cand = pair_lut.take(code if cand is None else cand * radix + code)
    # cand: the one declared kind each row can be, len(table) where none
    same = _rows_equal(rows, table.take(np.minimum(cand, len(table) - 1)))
    return np.where(same, np.array([*last.values(), -1], dtype=np.int64).take(cand), -1)


@lru_cache(maxsize=256)
def _plan(table_bytes: bytes, count: int, width: int) -> tuple:
    """The lookup steps that narrow a row to one candidate of the ``count`` declared kinds.

    Each step reads one character position and maps (id so far, character) to a dense id among
    the declared kinds' prefixes on the positions read, ``distinct`` meaning "none"; the last step
    maps straight to the kind's position in the table (``count`` for none). Positions are chosen
    greedily, the one that separates the most kinds first, until every kind has its own id.
    """
    chars = np.frombuffer(table_bytes, dtype=np.uint32).reshape(count, width)
    name_ids = np.zeros(count, dtype=np.int64)
    distinct = 1
    steps = []
    while distinct < count:
        column = max(range(width), key=lambda j: len(set(zip(name_ids.tolist(), chars[:, j].tolist()))))
        values, char_code = np.unique(chars[:, column], return_inverse=True)
        radix = len(values) + 1
        pairs, new_ids = np.unique(name_ids * radix + char_code, return_inverse=True)
        low = values[0]
        char_lut = np.full(int(values[-1] - low) + 2, len(values), dtype=np.int64)
        char_lut[values - low] = np.arange(len(values))
        pair_lut = np.full((distinct + 1) * radix, len(pairs), dtype=np.int64)
        pair_lut[pairs] = np.arange(len(pairs))
        steps.append((column, low, char_lut, pair_lut, radix))
        name_ids, distinct = new_ids.astype(np.int64), len(pairs)
    if steps:
        name_of_id = np.full(distinct + 1, count, dtype=np.int64)
        name_of_id[name_ids] = np.arange(count)
        steps[-1] = (*steps[-1][:3], name_of_id.take(steps[-1][3]), steps[-1][4])
    return tuple(steps)


def _rows_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise equality of two same-shaped text arrays, compared as machine words."""
    size = a.dtype.itemsize
    word = np.uint64 if size % 8 == 0 else np.uint32
    differ = a.view(word).reshape(len(a), -1) != b.view(word).reshape(len(b), -1)
    words = differ.shape[1]
    if words in (1, 2, 4, 8):  # a row's flags as one integer
        return differ.view(f"u{words}").ravel() == 0
    any_differ = differ[:, 0].copy()
    for j in range(1, words):
        any_differ |= differ[:, j]
    return ~any_differ
