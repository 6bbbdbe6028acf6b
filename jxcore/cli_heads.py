"""``jx keys`` and ``jx heads``: the signing key and the signed tree heads (docs/records.md).

The key signs the audit chain's head at every lock, unlock and final run; the heads go to a file
anyone can keep, which ``jx verify --heads FILE`` later checks the store against.
"""

from __future__ import annotations

from pathlib import Path

import click

from jxcore.cli_kit import db_option


@click.group("keys")
def keys_group() -> None:
    """The bureau's Ed25519 signing key (JX_SIGNING_KEY, else JX_HOME/signing-key.pem)."""


@keys_group.command("init")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Where to write the private key (default JX_SIGNING_KEY, else JX_HOME/signing-key.pem).")
@click.option("--force", is_flag=True, help="Replace an existing key (a lost or leaked one).")
def keys_init(out: Path | None, force: bool) -> None:
    """Make the signing key (file mode 0600) and print its public key to publish with the plan."""
    from jxcore.records.heads import init_key

    path, public = init_key(out, force=force)
    click.echo(f"signing key written to {path}: keep it outside the store's server and its backups")
    click.echo(f"public key {public}")


@keys_group.command("show")
def keys_show() -> None:
    """Print the public key of the signing key."""
    from jxcore.records.heads import key_path, public_key

    click.echo(f"public key {public_key()} ({key_path()})")


@click.group("heads")
def heads_group() -> None:
    """Signed tree heads: one per lock, unlock and final run."""


@heads_group.command("show")
@db_option
def heads_show(db: str | None) -> None:
    """Print the store's signed heads, one JSON line each (the printable text to publish)."""
    from jxcore.services import signed_heads
    from jxcore.store import Store

    with Store.open(db) as store:
        for head in signed_heads(store):
            click.echo(head.line())


@heads_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
def heads_export(file: Path, db: str | None) -> None:
    """Append the signed heads FILE lacks, each with its consistency proof from the one before."""
    from jxcore.services import export_heads
    from jxcore.store import Store

    with Store.open(db) as store:
        new = export_heads(store, file)
    click.echo(f"{len(new)} new signed heads appended to {file}" +
               (f"; the newest covers {new[-1].size} records, head {new[-1].head}" if new else ""))


def add_heads_commands(cli: click.Group) -> None:
    for command in (keys_group, heads_group):
        cli.add_command(command)
