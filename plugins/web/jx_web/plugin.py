"""Entry point of the jx-web distribution (group ``jx``, name ``web``): adds ``jx serve``."""

from jxcore import hookimpl


@hookimpl
def jx_register_commands(cli):
    from jx_web.commands import register

    register(cli)
