"""Scheme packs: loading (YAML with line numbers) and the one-pass check of a plan.

``load_scheme`` reads a pack and one period's plan into a checked :class:`jxcore.models.Scheme`;
every problem is reported at once as ``file:line: node: what is wrong (how to fix)`` in one
``SchemeError``. The format is documented in docs/scheme-format.md.
"""

from jxcore.scheme.loader import PackInfo, SchemeFiles, check_pack, load_pack, load_scheme, scheme_from_dict

__all__ = ["PackInfo", "SchemeFiles", "check_pack", "load_pack", "load_scheme", "scheme_from_dict"]
