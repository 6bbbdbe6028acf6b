"""jx-rules: the standard scoring rules of jx (see docs/rules.md), registered by ``jx_rules.plugin``."""
