"""Every public hook and command is documented in docs/."""

from __future__ import annotations

from pathlib import Path

import click

from jxcore import hookspecs
from jxcore.cli import cli

DOCS = Path(__file__).parent.parent / "docs"


def hook_names() -> list[str]:
    return sorted(name for name in vars(hookspecs) if name.startswith("jx_"))


def test_there_are_hooks_to_document():
    assert "jx_register_rules" in hook_names() and len(hook_names()) >= 9


def test_every_hook_has_a_section_with_an_example():
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    sections = {s.split("\n", 1)[0].strip(): s for s in text.split("\n### ")[1:]}
    missing = [name for name in hook_names() if name not in sections]
    assert missing == []
    no_example = [name for name in hook_names() if "@hookimpl" not in sections[name]]
    assert no_example == []


def test_every_hook_has_a_docstring_with_its_parameters():
    for name in hook_names():
        spec = getattr(hookspecs, name)
        doc = spec.__doc__ or ""
        args = spec.__code__.co_varnames[: spec.__code__.co_argcount]
        assert all(f":param {a}:" in doc for a in args), name


def test_every_core_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = cli.list_commands(click.Context(cli))  # the core's and the installed plugins'
    assert {"run", "validate", "tree", "plugins", "schemes"} <= set(names)
    missing = [name for name in names if f"## jx {name}" not in text]
    assert missing == []
