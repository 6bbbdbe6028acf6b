"""The run view the applications read: :class:`jxcore.services.views.RunView` (kept here for
plugins that import it from jx_outputs)."""

from jxcore.services.views import RunView

__all__ = ["RunView"]
