from jxcore.hookspecs import hookimpl  # noqa: F401
