"""The command line's side of sign-in: `jx user add` sets (or generates) a password, `jx user
passwd`, a branch account's `--unit`, and `--as NAME` of a user with a password needs it."""

from __future__ import annotations

import re

import pytest

from jxcore.cli import main
from jxcore.services import auth
from jxcore.store import Store


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("JX_HOME", str(tmp_path))
    monkeypatch.delenv("JX_USER", raising=False)
    monkeypatch.delenv("JX_PASSWORD", raising=False)
    return f"sqlite:///{tmp_path / 'jx.sqlite'}"


def _generated(out: str, name: str) -> str:
    return re.search(rf"password of {name} \(shown once\): (\S+)", out).group(1)


def test_generated_passwords_and_as_needs_the_password(db, capsys, monkeypatch):
    assert main(["user", "add", "admin", "--role", "admin", "--generate", "--db", db]) == 0
    admin_pw = _generated(capsys.readouterr().out, "admin")
    # a typed name no longer grants the admin's role
    assert main(["user", "add", "li", "--role", "clerk", "--dept", "DJK", "--generate", "--as", "admin",
                 "--db", db]) == 2
    assert "admin has a password" in capsys.readouterr().err
    monkeypatch.setenv("JX_PASSWORD", "not the password")
    assert main(["user", "add", "li", "--role", "clerk", "--dept", "DJK", "--generate", "--as", "admin",
                 "--db", db]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    monkeypatch.setenv("JX_PASSWORD", admin_pw)
    assert main(["user", "add", "li", "--role", "clerk", "--dept", "DJK", "--generate", "--as", "admin",
                 "--db", db]) == 0
    li_pw = _generated(capsys.readouterr().out, "li")
    assert main(["user", "add", "head-humen", "--role", "viewer", "--unit", "humen", "--generate", "--as", "admin",
                 "--db", db]) == 0
    capsys.readouterr()
    with Store.open(db) as store:
        assert auth.check_password(store, "li", li_pw).department == "DJK"
        assert auth.get_account(store, "head-humen").unit_code == "humen"


def test_passwd_by_the_user_and_by_an_admin(db, capsys, monkeypatch):
    assert main(["user", "add", "admin", "--role", "admin", "--generate", "--db", db]) == 0
    admin_pw = _generated(capsys.readouterr().out, "admin")
    monkeypatch.setenv("JX_PASSWORD", admin_pw)
    assert main(["user", "add", "li", "--role", "clerk", "--dept", "DJK", "--generate", "--as", "admin",
                 "--db", db]) == 0
    capsys.readouterr()
    assert main(["user", "passwd", "li", "--generate", "--as", "admin", "--db", db]) == 0  # an admin resets it
    new_pw = _generated(capsys.readouterr().out, "li")
    monkeypatch.setenv("JX_PASSWORD", new_pw)
    assert main(["user", "passwd", "li", "--generate", "--db", db]) == 0  # li, proving the current one
    newest = _generated(capsys.readouterr().out, "li")
    with Store.open(db) as store:
        assert auth.check_password(store, "li", newest).name == "li"
    monkeypatch.setenv("JX_PASSWORD", newest)
    assert main(["user", "passwd", "admin", "--generate", "--as", "li", "--db", db]) == 2  # not li's to change
    assert "may not" in capsys.readouterr().err


def test_passwd_without_a_terminal_needs_generate(db, capsys):
    assert main(["user", "add", "admin", "--role", "admin", "--db", db]) == 0
    assert "no password" in capsys.readouterr().out  # no terminal to ask at: said so
    assert main(["user", "passwd", "admin", "--db", db]) == 2
    assert "--generate" in capsys.readouterr().err
