"""jx-web: the live 绩效之窗 (`jx serve`), an ASGI app over the services, with real login."""
