"""Entry point of the jx-evaluation distribution (group ``jx``, name ``evaluation``)."""

from jxcore import hookimpl


@hookimpl
def jx_register_commands(cli):
    from jx_evaluation.command import register

    register(cli)


@hookimpl(optionalhook=True)
def jx_web_register_routes(app, web):
    """The evaluation pages of jx serve (jx_evaluation.web)."""
    from jx_evaluation.web import register

    register(app, web)
