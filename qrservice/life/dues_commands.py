"""CLI commands for dues, under ``qrservice dues``: set-amount, exempt, pay, void, status, list
and import. Changes are audited as done by the command line ("cli"); a refused change names the
field and the option at fault, exits non-zero and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: A dues error's field → the option of these commands that gave the value.
_OPTIONS = {
    "effective_from": "--from", "first_month": "--first", "last_month": "--to",
    "months": "--months", "amount": "--yuan", "method": "--method", "receipt_no": "--receipt",
    "paid_on": "--paid-on", "note": "--note", "reason": "--reason",
}  # fmt: skip


@click.group("dues")
def dues() -> None:
    """Dues: monthly amounts, exemptions, payments, status, lists and imports."""


COMMANDS.append(dues)


def _refusal(errors: dict[str, str], options: dict[str, str] | None = None) -> click.ClickException:
    names = {**_OPTIONS, **(options or {})}
    for field, message in errors.items():
        click.echo(f"{field} ({names.get(field, field)}): {message}", err=True)
    return click.ClickException("Nothing was changed.")


@contextmanager
def _dues(options: dict[str, str] | None = None) -> Iterator[Session]:
    """The app's context and one transaction: every change or none. A DuesError becomes a
    click error naming each field and its option."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.dues import DuesError

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            yield s
    except DuesError as exc:
        raise _refusal(exc.errors, options) from None


def _member(s: Session, number: str) -> Any:
    from qrservice.models import Member

    member = s.scalar(select(Member).where(Member.number == number.strip()))
    if member is None:
        raise click.ClickException(f"number (NUMBER): no member with number {number!r}")
    return member


def _actor() -> Any:
    from qrservice.audit import Actor

    return Actor.system()


def _parse(field: str, parse: Any, value: Any) -> Any:
    from qrservice.life.dues import DuesError

    try:
        return parse(value)
    except ValueError as exc:
        raise DuesError({field: str(exc)}) from None


@dues.command("set-amount")
@click.argument("number")
@click.option("--yuan", "amount", required=True, help="Monthly amount in yuan, e.g. 20 or 12.50.")
@click.option("--from", "month", required=True, help="First month it applies to, YYYY-MM.")
def set_amount(number: str, amount: str, month: str) -> None:
    """Set a member's monthly dues from a month on (the same month again replaces it)."""
    from qrservice.life.dues import parse_yuan, set_dues_rate, yuan
    from qrservice.timeutil import parse_month

    with _dues() as s:
        member = _member(s, number)
        fen = _parse("amount", parse_yuan, amount)
        first = _parse("effective_from", parse_month, month)
        set_dues_rate(s, _actor(), member, first, fen)
    click.echo(f"{number}: {yuan(fen)} yuan a month from {first:%Y-%m}.")


@dues.command("exempt")
@click.argument("number")
@click.option("--from", "first", required=True, help="First exempt month, YYYY-MM.")
@click.option("--to", "last", default=None, help="Last exempt month; none: until ended.")
@click.option("--reason", default="", help="Why (required).")
def exempt(number: str, first: str, last: str | None, reason: str) -> None:
    """Exempt a member from dues (免交) for a span of months."""
    from qrservice.life.dues import add_exemption
    from qrservice.timeutil import parse_month

    options = {"first_month": "--from"}
    with _dues(options) as s:
        member = _member(s, number)
        first_month = _parse("first_month", parse_month, first)
        last_month = _parse("last_month", parse_month, last) if last else None
        add_exemption(s, _actor(), member, first_month, last_month, reason)
    until = f"{last_month:%Y-%m}" if last_month else "further notice"
    click.echo(f"{number}: exempt from {first_month:%Y-%m} until {until}.")


@dues.command("pay")
@click.argument("number")
@click.option("--first", required=True, help="First month paid for, YYYY-MM.")
@click.option("--months", default="1", show_default=True, help="Months paid for, 1–24.")
@click.option("--yuan", "amount", required=True, help="Amount paid in yuan.")
@click.option("--method", default="cash", show_default=True, help="cash, transfer or online.")
@click.option("--receipt", "receipt_no", required=True, help="Receipt number (used once).")
@click.option("--paid-on", default=None, help="Date paid, YYYY-MM-DD (default: today).")
@click.option("--note", default=None, help="A note kept in the audit trail.")
def pay(
    number: str, first: str, months: str, amount: str, method: str, receipt_no: str,
    paid_on: str | None, note: str | None,
) -> None:  # fmt: skip
    """Record dues paid by a member, with its receipt number."""
    from qrservice.life.dues import clean_payment, record_payment, yuan
    from qrservice.timeutil import local_today

    with _dues() as s:
        member = _member(s, number)
        fields = clean_payment({
            "first_month": first, "months": months, "amount": amount, "method": method,
            "receipt_no": receipt_no, "paid_on": paid_on or local_today().isoformat(),
            "note": note,
        })  # fmt: skip
        record_payment(s, _actor(), member, **fields.as_kwargs())
    click.echo(
        f"{number}: {yuan(fields.amount_fen)} yuan for {fields.months} month(s) from "
        f"{fields.first_month:%Y-%m} recorded, receipt {fields.receipt_no}."
    )


@dues.command("void")
@click.argument("receipt")
@click.option("--reason", default="", help="Why (required).")
def void(receipt: str, reason: str) -> None:
    """Void a payment by its receipt number: it counts for nothing and stays listed."""
    from qrservice.life.dues import void_payment
    from qrservice.models import DuesPayment

    with _dues() as s:
        payment = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == receipt.strip()))
        if payment is None:
            raise click.ClickException(f"receipt (RECEIPT): no payment with receipt {receipt!r}")
        void_payment(s, _actor(), payment, reason)
    click.echo(f"Payment {receipt} voided.")


def _status_lines(status: Any) -> list[str]:
    from qrservice.life.dues import yuan
    from qrservice.timeutil import month_text

    monthly = f"{yuan(status.monthly_fen)} yuan" if status.monthly_fen is not None else "not set"
    due = yuan(status.due_this_month_fen) if status.due_this_month_fen is not None else "unknown"
    lines = [
        f"  monthly amount:    {monthly}",
        f"  owed from:         {month_text(status.tracked_from) or 'not tracked'}",
        f"  paid through:      {month_text(status.paid_through) or 'nothing yet'}",
        f"  months in arrears: {status.arrears_months} (owed {yuan(status.owed_fen)} yuan)",
        f"  this month:        {status.this_month_state}, due {due} yuan"
        + (" (exempt)" if status.exempt_now else ""),
    ]
    if status.first_arrears_month:
        lines.insert(4, f"  first in arrears:  {month_text(status.first_arrears_month)}")
    return lines


@dues.command("status")
@click.argument("number")
@click.option("--on", "on", default=None, help="As of this day, YYYY-MM-DD (default: today).")
def status(number: str, on: str | None) -> None:
    """Where a member stands: paid through, arrears, this month."""
    from qrservice.life.dues import dues_status
    from qrservice.timeutil import local_today, parse_day

    with _dues({"day": "--on"}) as s:
        member = _member(s, number)
        day = _parse("day", parse_day, on) if on else local_today()
        got = dues_status(s, member, day)
        click.echo(f"{member.number} {member.name} ({member.unit.code})")
        click.echo("\n".join(_status_lines(got)))


@dues.command("list")
@click.option("--unit", "unit_code", required=True, help="The branch (or any unit) by code.")
@click.option("--month", default=None, help="As of this month, YYYY-MM (default: this month).")
@click.option("--arrears", is_flag=True, help="Only members in arrears.")
def list_(unit_code: str, month: str | None, arrears: bool) -> None:
    """A unit's dues list: each active member's amount, paid through, arrears and this month."""
    from qrservice.life.dues import yuan
    from qrservice.life.dues_io import dues_list
    from qrservice.models import Unit
    from qrservice.timeutil import local_today, month_start, month_text, parse_month

    with _dues({"month": "--month"}) as s:
        unit = s.scalar(select(Unit).where(Unit.code == unit_code.strip()))
        if unit is None:
            raise click.ClickException(f"--unit: no unit with code {unit_code!r}")
        first = _parse("month", parse_month, month) if month else month_start(local_today())
        listing = dues_list(s, unit, first, arrears)
        click.echo(f"{unit.code} {unit.name}, {month_text(listing.month)}")
        click.echo(f"{'number':<12} {'monthly':>9} {'through':>8} {'arrears':>7} {'owed':>10}  "
                   "this month  name")  # fmt: skip
        for row in listing.rows:
            st = row.status
            click.echo(
                f"{row.member.number:<12} {yuan(st.monthly_fen) or '-':>9} "
                f"{month_text(st.paid_through) or '-':>8} {st.arrears_months:>7} "
                f"{yuan(st.owed_fen):>10}  {st.this_month_state:<10}  {row.member.name}"
            )
        click.echo(
            f"{len(listing.rows)} members; {listing.in_arrears} in arrears owing "
            f"{yuan(listing.owed_fen)} yuan; collected in {month_text(listing.month)}: "
            f"{yuan(listing.collected_fen)} yuan."
        )


@dues.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_code", default=None, help="Scope: only members under this code.")
@click.option("--dry-run", is_flag=True, help="Report what would be recorded; write nothing.")
def import_(file: Path, unit_code: str | None, dry_run: bool) -> None:
    """Import dues payments from CSV or XLSX (bank or WeChat lists): every row or none."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema, _scope
    from qrservice.life.dues import yuan
    from qrservice.life.dues_io import (
        PaymentsRejected,
        apply_payments,
        plan_payments,
        read_payments,
    )
    from qrservice.org.members_io import ImportFileError

    app = _app()
    _require_current_schema(app)
    with app.app_context():
        try:
            rows = read_payments(file.read_bytes(), file.name)
        except ImportFileError as exc:
            for err in exc.errors:
                click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
            raise click.ClickException(str(exc)) from None
        try:
            with db.transaction(app) as s:
                scope = _scope(s, unit_code)
                if dry_run:
                    report = plan_payments(s, scope, rows)
                else:
                    report = apply_payments(s, _actor(), scope, rows)
        except PaymentsRejected as exc:
            report = exc.report
    for err in report.errors:
        click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
    written = not dry_run and report.ok
    verb = "recorded" if written else "would record"
    click.echo(
        f"{report.total} rows: {verb} {len(report.rows)} payments, "
        f"{yuan(report.amount_fen)} yuan; errors {len(report.errors)}."
    )
    if report.errors:
        raise click.ClickException("Nothing was imported: correct the rows above and try again.")
