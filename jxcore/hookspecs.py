"""Hook specifications: everything a jx plugin can provide or observe.

Every hook starts with ``jx_``. Plugins implement them with ``@jxcore.hookimpl`` and are found
through the ``jx`` entry-point group (code plugins) and the ``jx.schemes`` group (scheme packs).
Hooks are called with keyword arguments, and an implementation may accept fewer arguments than
its specification, so specifications can grow without breaking plugins.

The ``jx_register_*`` hooks are called once when the registry is built: each receives a
``register`` callback; call it once per object. A name registered twice (by any two plugins) is a
``PluginError`` naming both.

Rules and collectors are called once per indicator / per collector with arrays over all units,
never once per unit.
"""

from __future__ import annotations

import pluggy

PROJECT = "jx"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def jx_register_rules(register):
    """Register scoring rules.

    :param register: call ``register(rule)`` with an object satisfying
        :class:`jxcore.interfaces.Rule` (``name``, ``description``, ``params``, ``score``).

    Use in a plugin::

        @hookimpl
        def jx_register_rules(register):
            register(MyRule())
    """


@hookspec
def jx_register_collectors(register):
    """Register data collectors.

    :param register: call ``register(collector)`` with an object satisfying
        :class:`jxcore.interfaces.Collector` (``name``, ``description``, ``params``, ``collect``).

    Use in a plugin::

        @hookimpl
        def jx_register_collectors(register):
            register(MyCollector())
    """


@hookspec
def jx_register_outputs(register):
    """Register result outputs (applications: ranking, commendation, reports …).

    :param register: call ``register(output)`` with an object satisfying
        :class:`jxcore.interfaces.Output` (``name``, ``description``, ``params``, ``emit``).

    Use in a plugin::

        @hookimpl
        def jx_register_outputs(register):
            register(MyOutput())
    """


@hookspec
def jx_register_schemes(register):
    """Register scheme packs.

    :param register: call ``register(pack)`` with a :class:`jxcore.interfaces.SchemePack`
        (``name``, ``path`` to the directory holding ``scheme.yaml``, ``title``).

    Use in a scheme pack's module (entry-point group ``jx.schemes``)::

        @hookimpl
        def jx_register_schemes(register):
            register(SchemePack("guangdong", Path(__file__).parent / "scheme", "广东省工商局"))
    """


@hookspec
def jx_register_commands(cli):
    """Add commands to the ``jx`` command line.

    :param cli: the root :class:`click.Group`; add commands with ``cli.add_command`` or the
        ``@cli.command()`` decorator.

    A plugin that fails here is reported and the other commands still work.

    Use in a plugin::

        @hookimpl
        def jx_register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello")
    """


@hookspec
def jx_settings_keys():
    """Name the top-level keys of a scheme's ``settings:`` this plugin reads.

    Return an iterable of key names. ``jx validate`` reports any other top-level key (a typo such
    as ``comendation:``, or a key for a plugin that is not installed) with its file:line and the
    known keys. The core's own are ``ranking``, ``records`` and ``plans``. What is inside a key is
    the plugin's to check (``check_settings`` of an output, rule or collector).

    Use in a plugin::

        @hookimpl
        def jx_settings_keys():
            return ("commendation", "leadership_review")
    """


@hookspec
def jx_prepare_source(scheme, source):
    """Get a source database ready before a collector opens it.

    :param scheme: the :class:`jxcore.models.Scheme` being run.
    :param source: the :class:`jxcore.models.Source` about to be opened.

    Called once per source and run, before the first connection. Use it to generate demo data
    on first use, refresh a replica, or check that a file exists (raise ``DataError`` if not).
    """


@hookspec
def jx_run_started(run, scheme, store):
    """A run has started: the scheme is checked, nothing is collected yet.

    :param run: the :class:`jxcore.models.Run` (no id yet).
    :param scheme: the :class:`jxcore.models.Scheme`.
    :param store: the :class:`jxcore.store.Store` the run will be written to, or None (a run
        without a store, as the test kit makes). A demo pack can load its manual entries here.
    """


@hookspec
def jx_run_scored(run, result):
    """A run has scored every unit; nothing is stored yet.

    :param run: the :class:`jxcore.models.Run`.
    :param result: the :class:`jxcore.models.RunResult` (scores, ranks, measures).

    Raising here fails the run and stores nothing.
    """


@hookspec
def jx_run_finished(run, result):
    """A run is stored and every output has run.

    :param run: the :class:`jxcore.models.Run`, now with its ``id``.
    :param result: the :class:`jxcore.models.RunResult`.

    Called after the transaction committed: raising here cannot undo the run.
    """
