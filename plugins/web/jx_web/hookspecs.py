"""The web app's hooks: other plugins add routes and pages to ``jx serve`` (docs/web.md).

Added to the plugin manager by :func:`jx_web.app.create_app` with ``pm.add_hookspecs``. jx checks
hook names when plugins load, before the app exists, so implement them with
``@hookimpl(optionalhook=True)``: your plugin then also loads where jx-web is not installed.
"""

from jxcore.hookspecs import hookspec


@hookspec
def jx_web_register_routes(app, web):
    """Add routes (pages, API endpoints, static files) to the app.

    :param app: the :class:`fastapi.FastAPI` application; add routes with ``app.get(...)``,
        ``app.post(...)`` or ``app.include_router(...)``. Every unsafe request to them is
        CSRF-checked by the app; call ``jx_web.security.signed_in(request, need)`` in a route to
        require a signed-in account (and a role).
    :param web: the :class:`jx_web.app.Web` state: ``web.store``, ``web.registry``,
        ``web.catalog`` (the scheme's latest run, cached), ``web.render(request, template, **ctx)``
        and ``web.templates`` (add your own loader to ``web.templates.env.loader`` to extend).

    Use in a plugin::

        @hookimpl(optionalhook=True)
        def jx_web_register_routes(app, web):
            @app.get("/hello", response_class=HTMLResponse)
            def hello(request: Request):
                account = signed_in(request)
                return f"<p>hello {html.escape(account.name)}</p>"
    """
