"""Entry point of the jx-evaluation distribution (group ``jx``, name ``evaluation``).

``jx evaluate`` is declared in the ``jx.commands`` entry-point group (jx_evaluation.cli_commands)."""

from jxcore import hookimpl


@hookimpl(optionalhook=True)
def jx_web_register_routes(app, web):
    """The evaluation pages of jx serve (jx_evaluation.web)."""
    from jx_evaluation.web import register

    register(app, web)


@hookimpl
def jx_settings_keys():
    """settings.evaluation: variations, seed and the plan judged by its data."""
    return ("evaluation",)
