"""Entry point of the jx-web distribution (group ``jx``, name ``web``): adds ``jx serve`` and, through
the app's own hook, its entry, records and administration pages (jx_web.workflow)."""

from jxcore import hookimpl


@hookimpl
def jx_register_commands(cli):
    from jx_web.commands import register

    register(cli)


@hookimpl(optionalhook=True)
def jx_web_register_routes(app, web):
    from jx_web.workflow import register

    register(app, web)
