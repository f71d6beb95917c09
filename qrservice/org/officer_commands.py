"""CLI commands for officer accounts: list-users, reset-password, deactivate-user,
reactivate-user and set-role. Each change ends the account's sessions at once and is audited
as done by the command line ("cli"); a refused change names the option at fault and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: An account error's field → the option of these commands that gave the value.
_OPTIONS = {"new_password": "--password", "role": "--role", "unit": "--unit"}


def _command(function: click.Command) -> click.Command:
    COMMANDS.append(function)
    return function


@contextmanager
def _accounts() -> Iterator[Session]:
    """The app's context (production mode, the kept logins) and one transaction: every change
    or none. An AccountError becomes a click error naming the option."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.accounts import AccountError

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            yield s
    except AccountError as exc:
        raise click.ClickException(f"{_OPTIONS.get(exc.field, exc.field)}: {exc.message}") from None


def _user(s: Session, username: str) -> Any:
    from qrservice.models import User

    user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise click.ClickException(f"USERNAME: no account {username!r} (see qrservice list-users)")
    return user


def _unit(s: Session, code: str) -> Any:
    from qrservice.models import Unit

    unit = s.scalar(select(Unit).where(Unit.code == code.strip()))
    if unit is None:
        raise click.ClickException(f"--unit: no unit with code {code!r}")
    return unit


@_command
@click.command("list-users")
@click.option("--unit", "unit_code", default=None, help="Only accounts of this unit's subtree.")
@click.option("--all", "everyone", is_flag=True, help="Deactivated accounts too.")
def list_users(unit_code: str | None, everyone: bool) -> None:
    """List officer accounts: username, name, role, unit, state and last login."""
    from qrservice.models import Unit, User

    with _accounts() as s:
        query = select(User).join(Unit, Unit.id == User.unit_id).order_by(User.username)
        if unit_code:
            query = query.where(Unit.path.startswith(_unit(s, unit_code).path))
        if not everyone:
            query = query.where(User.active.is_(True))
        users = s.scalars(query).all()
        rows = [
            (
                user.username,
                user.display_name,
                user.role,
                user.unit.code,
                _state(user),
                _last_login(user),
            )  # fmt: skip
            for user in users
        ]
    click.echo("\t".join(("username", "name", "role", "unit", "state", "last login")))
    for row in rows:
        click.echo("\t".join(row))
    click.echo(f"{len(rows)} accounts" + ("" if everyone else " (active; --all for every one)"))


def _state(user: Any) -> str:
    state = "active" if user.active else "deactivated"
    return state + (", must change password" if user.must_change_password else "")


def _last_login(user: Any) -> str:
    from qrservice.timeutil import local_time

    if user.last_login_at is None:
        return "never"
    return local_time(user.last_login_at).strftime("%Y-%m-%d %H:%M")


@_command
@click.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="Set this password instead of a temporary one.")
@click.option("--prompt", is_flag=True, help="Ask for the password to set, hidden.")
def reset_password_cmd(username: str, password: str | None, prompt: bool) -> None:
    """Reset an officer's password and end every login of the account.

    Prints a temporary password once: the officer must choose their own at the next login, and
    it expires unused after 72 hours. With --password or --prompt, sets that password instead
    (checked by the password rules; no change is forced).
    """
    from qrservice.audit import Actor
    from qrservice.org.accounts import TEMPORARY_PASSWORD_HOURS, reset_password

    if password is not None and prompt:
        raise click.UsageError("give --password or --prompt, not both")
    if prompt:
        password = click.prompt(
            "New password", hide_input=True, confirmation_prompt="Repeat the new password"
        )
    with _accounts() as s:
        user = _user(s, username)
        chosen = reset_password(s, Actor.system(), user, password)
        name = user.username
    if password is None:
        click.echo(f"Temporary password of {name} (shown only now): {chosen}")
        click.echo(
            f"{name} must choose their own password at the next login; unused, it expires in "
            f"{TEMPORARY_PASSWORD_HOURS} hours. Every login of the account has ended."
        )
    else:
        click.echo(f"Password of {name} set. Every login of the account has ended.")


def _set_active(username: str, active: bool) -> None:
    from qrservice.audit import Actor
    from qrservice.org.accounts import set_active

    with _accounts() as s:
        user = _user(s, username)
        was = user.active
        set_active(s, Actor.system(), user, active)
    if was == active:
        click.echo(f"{username} was already {'active' if active else 'deactivated'}.")
    elif active:
        click.echo(f"{username} reactivated: they can log in again with their password.")
    else:
        click.echo(f"{username} deactivated: every login of the account has ended.")


@_command
@click.command("deactivate-user")
@click.argument("username")
def deactivate_user(username: str) -> None:
    """Deactivate an officer account: every login ends at once; records stay."""
    _set_active(username, False)


@_command
@click.command("reactivate-user")
@click.argument("username")
def reactivate_user(username: str) -> None:
    """Reactivate a deactivated officer account."""
    _set_active(username, True)


@_command
@click.command("set-role")
@click.argument("username")
@click.option("--role", type=click.Choice(["organiser", "secretary"]), default=None,
              help="New role [default: unchanged].")  # fmt: skip
@click.option("--unit", "unit_code", default=None, help="New unit code [default: unchanged].")
def set_role(username: str, role: str | None, unit_code: str | None) -> None:
    """Change an officer's role or unit; every login of the account ends.

    A secretary is scoped to a branch, an organiser to a committee or a branch.
    """
    from qrservice.audit import Actor
    from qrservice.org.accounts import update_user

    if role is None and unit_code is None:
        raise click.UsageError("give --role, --unit or both")
    with _accounts() as s:
        user = _user(s, username)
        unit = _unit(s, unit_code) if unit_code else user.unit
        changed = update_user(s, Actor.system(), user, role=role or user.role, unit=unit)
        summary = f"{user.username}: {user.role}, {user.unit.code}"
    if changed:
        click.echo(f"{summary}. Every login of the account has ended.")
    else:
        click.echo(f"{summary}: nothing changed.")


def warn_of_published_passwords(app: Flask) -> None:
    """In production, say loudly (on stderr) which active accounts still have a password the
    demo published: those accounts cannot log in until their password is reset."""
    from qrservice import db
    from qrservice.org.accounts import accounts_with_published_passwords

    if app.config["ENV"] != "production":
        return
    with app.app_context(), db.transaction(app) as s:
        names = [user.username for user in accounts_with_published_passwords(s)]
    if not names:
        return
    rule = "!" * 78
    click.secho(rule, fg="red", err=True)
    click.secho(
        f"WARNING: {len(names)} active account(s) still have a password published with the "
        f"demo: {', '.join(names)}.",
        fg="red", bold=True, err=True,
    )  # fmt: skip
    click.secho(
        "Anyone who read the demo knows it. Their logins are refused in production: reset each "
        "one now with 'qrservice reset-password USERNAME' (or deactivate-user).",
        fg="red", err=True,
    )  # fmt: skip
    click.secho(rule, fg="red", err=True)
