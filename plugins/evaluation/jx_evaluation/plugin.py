"""Entry point of the jx-evaluation distribution (group ``jx``, name ``evaluation``)."""

from jxcore import hookimpl


@hookimpl
def jx_register_commands(cli):
    from jx_evaluation.command import register

    register(cli)
