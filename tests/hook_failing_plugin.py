"""A plugin for the CLI tests whose lifecycle hooks fail, as JX_HOOK_FAILS says (started|finished)."""

import os

from jxcore import hookimpl


@hookimpl
def jx_run_started(run):
    if os.environ.get("JX_HOOK_FAILS") == "started":
        raise ConnectionError("the audit log is down")


@hookimpl
def jx_run_finished(run):
    if os.environ.get("JX_HOOK_FAILS") == "finished":
        raise ConnectionError("the intranet is down")
