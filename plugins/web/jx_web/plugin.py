"""Entry point of the jx-web distribution (group ``jx``, name ``web``): adds ``jx serve`` and, through
the app's own hook, its entry, records and administration pages (jx_web.workflow).

``jx serve`` is declared in the ``jx.commands`` entry-point group (jx_web.cli_commands)."""

from jxcore import hookimpl


@hookimpl(optionalhook=True)
def jx_web_register_routes(app, web):
    from jx_web.workflow import register

    register(app, web)


@hookimpl
def jx_settings_keys():
    """settings.web: the common figures of the leaderboard."""
    return ("web",)
