"""CLI commands for transfers (组织关系转接), hosting and political birthdays.

``qrservice transfers list|start|release|accept|refuse|cancel``, ``qrservice hosting set|end``,
``qrservice birthdays list|cards``. The command line acts as the organisation's own office: it
may act on either side of a transfer. A refused change names the option and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: A field of a transfer or hosting → the option or argument that sets it.
OPTIONS = {
    "member": "NUMBER",
    "to_unit": "--to",
    "reason": "--reason",
    "refusal_reason": "--reason",
    "host_unit": "--host",
    "status": "TRANSFER",
}


def _refused(errors: dict[str, str]) -> click.ClickException:
    return click.ClickException(
        "; ".join(f"{OPTIONS.get(field, field)}: {message}" for field, message in errors.items())
    )


def _transfer(s: Any, transfer_id: int) -> Any:
    from qrservice.models import Transfer

    transfer = s.get(Transfer, transfer_id) if 1 <= transfer_id <= 2**31 - 1 else None
    if transfer is None:
        raise click.ClickException(f"no transfer with id {transfer_id}")
    return transfer


def _line(t: Any) -> str:
    return (
        f"{t.id}\t{t.status}\t{t.member.number}\t{t.member.name}\t"
        f"{t.from_unit.code} -> {t.to_unit.code}\t{t.reason or ''}"
    )


@click.group()
def transfers() -> None:
    """Move members between units: start, release (old side), accept (new side)."""


@transfers.command("list")
@click.option("--all", "everything", is_flag=True, help="Also finished transfers.")
def list_transfers(everything: bool) -> None:
    """Pending transfers (id, step, member, from -> to, reason)."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.transfers import transfers_for

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        incoming, _outgoing = transfers_for(s, None, pending_only=not everything)
        for t in incoming:
            click.echo(_line(t))
        if not incoming:
            click.echo("No transfers.")


def _act(action: str, transfer_id: int, reason: str | None = None) -> None:
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org import transfers as ops

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            t = _transfer(s, transfer_id)
            if action == "release":
                ops.release_transfer(s, Actor.system(), None, t)
            elif action == "accept":
                ops.accept_transfer(s, Actor.system(), None, t)
            elif action == "refuse":
                ops.refuse_transfer(s, Actor.system(), None, t, reason)
            else:
                ops.cancel_transfer(s, Actor.system(), None, t)
            click.echo(_line(t))
    except ops.TransferError as exc:
        raise _refused(exc.errors) from None


@transfers.command("start")
@click.argument("number")
@click.option("--to", "to_unit", required=True, help="Code of the receiving branch or group.")
@click.option("--reason", default=None)
def start(number: str, to_unit: str, reason: str | None) -> None:
    """Start moving member NUMBER; from the command line it is released at once."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.transfers import TransferError, start_transfer

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            t = start_transfer(
                s, Actor.system(), None, member_number=number, to_unit=to_unit, reason=reason
            )
            click.echo(_line(t))
    except TransferError as exc:
        raise _refused(exc.errors) from None


@transfers.command("release")
@click.argument("transfer_id", type=int)
def release(transfer_id: int) -> None:
    """The old side releases transfer TRANSFER_ID."""
    _act("release", transfer_id)


@transfers.command("accept")
@click.argument("transfer_id", type=int)
def accept(transfer_id: int) -> None:
    """The new side accepts: the member moves; their old offices end."""
    _act("accept", transfer_id)


@transfers.command("refuse")
@click.argument("transfer_id", type=int)
@click.option("--reason", default=None, help="Why (required).")
def refuse(transfer_id: int, reason: str | None) -> None:
    """Refuse a pending transfer, with a reason."""
    _act("refuse", transfer_id, reason)


@transfers.command("cancel")
@click.argument("transfer_id", type=int)
def cancel(transfer_id: int) -> None:
    """Withdraw a pending transfer."""
    _act("cancel", transfer_id)


@click.group()
def hosting() -> None:
    """A floating member hosted by a branch where they are (they keep their home)."""


def _hosting(number: str, host: str | None) -> None:
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _member, _require_current_schema
    from qrservice.org.transfers import TransferError, end_host, set_host

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            member = _member(s, number)
            if host is None:
                changed = end_host(s, Actor.system(), member)
                click.echo(f"{member.number}: " + ("hosting ended" if changed else "not hosted"))
            else:
                changed = set_host(s, Actor.system(), member, host)
                click.echo(f"{member.number}: hosted by {host}" + ("" if changed else " already"))
    except TransferError as exc:
        raise _refused(exc.errors) from None


@hosting.command("set")
@click.argument("number")
@click.option("--host", required=True, help="Code of the hosting branch.")
def set_(number: str, host: str) -> None:
    """The branch --host hosts floating member NUMBER."""
    _hosting(number, host)


@hosting.command("end")
@click.argument("number")
def end(number: str) -> None:
    """Member NUMBER is no longer hosted."""
    _hosting(number, None)


@click.group()
def birthdays() -> None:
    """Political birthdays (政治生日): a unit's list of a month, and greeting cards."""


def _birthdays(unit_code: str, month: str) -> tuple[Any, Any, Any]:
    from qrservice.cli import _scope
    from qrservice.timeutil import parse_month

    try:
        first = parse_month(month)
    except ValueError as exc:
        raise click.ClickException(f"--month: {exc}") from None
    return _scope, first, None


@birthdays.command("list")
@click.option("--unit", "unit_code", required=True)
@click.option("--month", required=True, help="YYYY-MM")
def list_birthdays(unit_code: str, month: str) -> None:
    """Members of --unit whose political birthday falls in --month: day, years, name."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.birthdays import month_birthdays

    scope, first, _none = _birthdays(unit_code, month)
    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        unit = scope(s, unit_code)
        found = month_birthdays(s, unit, first)
        for b in found:
            click.echo(
                f"{b.day.isoformat()}\t{b.years}\t{b.member.number}\t{b.member.name}\t"
                f"{b.member.unit.code}"
            )
        click.echo(f"{len(found)} political birthdays in {unit.code} in {first:%Y-%m}.")


@birthdays.command("cards")
@click.option("--unit", "unit_code", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def birthday_cards(unit_code: str, month: str, output: Path) -> None:
    """One A5 greeting card per member of --unit with a political birthday in --month."""
    from cards.greetings import Greeting, render_greetings_pdf
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.birthdays import month_birthdays
    from qrservice.org.organisation import organisation_name
    from qrservice.org.views.units import unit_label

    scope, first, _none = _birthdays(unit_code, month)
    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        unit = scope(s, unit_code)
        found = month_birthdays(s, unit, first)
        if not found:
            raise click.ClickException(
                f"nobody in {unit.code} has a political birthday in {first:%Y-%m}"
            )
        org = organisation_name(s)
        greetings = [
            Greeting(org_name=org, unit_name=unit_label(b.member.unit), member_name=b.member.name,
                     joined_on=b.member.joined_on, day=b.day, years=b.years)
            for b in found
        ]  # fmt: skip
        output.write_bytes(render_greetings_pdf(greetings, f"{org} 政治生日", org))
    click.echo(f"{len(found)} greeting cards written to {output}")


COMMANDS.extend([transfers, hosting, birthdays])
