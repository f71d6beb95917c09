"""Transfers between units, hosting of floating members, political birthdays.

/transfers/: the officer's pending transfers, incoming and outgoing, with their actions and a
form to start one. /members/<id>/host: set and end hosting. /birthdays: a branch's political
birthdays of a month, and their greeting cards as a PDF.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.birthdays import Birthday, anniversary, month_birthdays, years_of_membership
from qrservice.models import Member, Transfer, Unit
from qrservice.org.accounts import can_see_member, can_see_unit, officer_required
from qrservice.org.organisation import organisation_name
from qrservice.org.transfers import (
    TransferError,
    accept_transfer,
    can_accept,
    can_release,
    can_see_transfer,
    cancel_transfer,
    end_host,
    refuse_transfer,
    release_transfer,
    set_host,
    start_transfer,
    transfers_for,
)
from qrservice.org.views.members import member_or_404
from qrservice.org.views.units import unit_label
from qrservice.timeutil import local_today, month_start, parse_month

bp = Blueprint("transfers", __name__)


def _destinations() -> list[Unit]:
    """Every open branch and group: a transfer may name any of them by code."""
    return list(
        db.session().scalars(
            select(Unit)
            .where(Unit.kind != "committee", Unit.closed_at.is_(None))
            .order_by(Unit.code)
        )
    )


def _index_page(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    s = db.session()
    incoming, outgoing = transfers_for(s, current_user)
    form = request.form if request.method == "POST" else request.args
    return (
        render_template(
            "transfers/index.html",
            incoming=incoming,
            outgoing=outgoing,
            destinations=_destinations(),
            errors=errors or {},
            form=form,
            can_release=lambda t: can_release(current_user, t),
            can_accept=lambda t: can_accept(current_user, t),
        ),
        status,
    )


@bp.route("/transfers/")
@officer_required
def index() -> Any:
    return _index_page()


@bp.route("/transfers/start", methods=["POST"])
@officer_required
def start() -> Any:
    try:
        transfer = start_transfer(
            db.session(), Actor.of(current_user), current_user,
            member_number=request.form.get("member", ""),
            to_unit=request.form.get("to_unit", ""),
            reason=request.form.get("reason"),
        )  # fmt: skip
    except TransferError as exc:
        return _index_page(exc.errors, 422)
    if transfer.status == "released":
        flash(_("Transfer started and released; the receiving branch accepts it."), "notice")
    else:
        flash(_("Transfer requested; the member's present branch releases it."), "notice")
    return redirect(url_for("transfers.index"))


def _transfer_or_404(transfer_id: int) -> Transfer:
    transfer = db.session().get(Transfer, transfer_id)
    if transfer is None or not can_see_transfer(current_user, transfer):
        abort(404)
    return transfer


#: action → (confirmation title, button, consequence)
def _confirmation(action: str, t: Transfer) -> tuple[str, str, list[str]]:
    values = {"name": t.member.name, "old": unit_label(t.from_unit), "new": unit_label(t.to_unit)}
    return {
        "release": (
            _("Release %(name)s from %(old)s?", **values),
            _("Release"),
            [_("%(new)s may then accept %(name)s.", **values)],
        ),
        "accept": (
            _("Accept %(name)s into %(new)s?", **values),
            _("Accept"),
            [
                _("%(name)s moves from %(old)s to %(new)s now; their attendance, points, dues "
                  "and card go with them.", **values),
                _("Offices they hold in %(old)s end.", **values),
            ],
        ),
        "refuse": (
            _("Refuse the transfer of %(name)s?", **values),
            _("Refuse"),
            [_("The transfer ends; %(name)s stays in %(old)s.", **values)],
        ),
        "cancel": (
            _("Cancel the transfer of %(name)s?", **values),
            _("Cancel the transfer"),
            [_("The transfer ends; %(name)s stays in %(old)s.", **values)],
        ),
    }[action]  # fmt: skip


def _act(transfer_id: int, action: str) -> Any:
    transfer = _transfer_or_404(transfer_id)
    if action == "refuse" and not request.form.get("refusal_reason", "").strip():
        return _index_page({"refusal_reason": _("say why the transfer is refused")}, 422)
    if not confirmed():
        title, button, consequences = _confirmation(action, transfer)
        return ask_to_confirm(title, consequences, button, url_for("transfers.index"))
    s, actor = db.session(), Actor.of(current_user)
    try:
        if action == "release":
            release_transfer(s, actor, current_user, transfer)
        elif action == "accept":
            accept_transfer(s, actor, current_user, transfer)
        elif action == "refuse":
            refuse_transfer(s, actor, current_user, transfer, request.form.get("refusal_reason"))
        else:
            cancel_transfer(s, actor, current_user, transfer)
    except TransferError as exc:
        return _index_page(exc.errors, 422)
    flash(
        {
            "release": _("Released."),
            "accept": _("Accepted: the member has moved."),
            "refuse": _("Transfer refused."),
            "cancel": _("Transfer cancelled."),
        }[action],
        "notice",
    )
    return redirect(url_for("transfers.index"))


@bp.route("/transfers/<int:transfer_id>/release", methods=["POST"])
@officer_required
def release(transfer_id: int) -> Any:
    return _act(transfer_id, "release")


@bp.route("/transfers/<int:transfer_id>/accept", methods=["POST"])
@officer_required
def accept(transfer_id: int) -> Any:
    return _act(transfer_id, "accept")


@bp.route("/transfers/<int:transfer_id>/refuse", methods=["POST"])
@officer_required
def refuse(transfer_id: int) -> Any:
    return _act(transfer_id, "refuse")


@bp.route("/transfers/<int:transfer_id>/cancel", methods=["POST"])
@officer_required
def cancel(transfer_id: int) -> Any:
    return _act(transfer_id, "cancel")


# Hosting of floating members.


def _host_branches() -> list[Unit]:
    return list(
        db.session().scalars(
            select(Unit).where(Unit.kind == "branch", Unit.closed_at.is_(None)).order_by(Unit.code)
        )
    )


@bp.route("/members/<int:member_id>/host", methods=["GET", "POST"])
@officer_required
def host(member_id: int) -> Any:
    """Set the branch hosting a floating member (officers over the member's home)."""
    member = member_or_404(member_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            chosen = request.form.get("host_unit", "")
            set_host(db.session(), Actor.of(current_user), member, chosen)
        except TransferError as exc:
            errors = exc.errors
        else:
            flash(_("Hosting recorded."), "notice")
            return redirect(url_for("members.show", member_id=member.id))
    form = request.form if request.method == "POST" else {
        "host_unit": member.host_unit.code if member.host_unit else ""
    }  # fmt: skip
    return (
        render_template(
            "transfers/host.html",
            member=member,
            branches=_host_branches(),
            errors=errors,
            form=form,
        ),  # fmt: skip
        422 if errors else 200,
    )


@bp.route("/members/<int:member_id>/unhost", methods=["POST"])
@officer_required
def unhost(member_id: int) -> Any:
    member = member_or_404(member_id)
    if member.host_unit is not None and not confirmed():
        return ask_to_confirm(
            _("End the hosting of %(name)s?", name=member.name),
            [_("%(host)s no longer expects %(name)s at its meetings.",
               host=unit_label(member.host_unit), name=member.name)],
            _("End hosting"),
            url_for("members.show", member_id=member.id),
        )  # fmt: skip
    if end_host(db.session(), Actor.of(current_user), member):
        flash(_("Hosting ended."), "notice")
    return redirect(url_for("members.show", member_id=member.id))


# Political birthdays.


def _unit_and_month() -> tuple[Unit, date]:
    s = db.session()
    code = request.args.get("unit", "").strip()
    unit = s.scalar(select(Unit).where(Unit.code == code)) if code else current_user.unit
    if unit is None or not can_see_unit(current_user, unit):
        abort(404)
    raw = request.args.get("month", "").strip()
    try:
        month = parse_month(raw) if raw else month_start(local_today())
    except ValueError:
        abort(400, description=_("month: write it as YYYY-MM"))
    return unit, month


def _greetings_pdf(found: list[Birthday], title: str, org: str) -> bytes:
    """The greeting cards as a PDF. The PDF renderer is loaded here, when a card is asked
    for: workers that only serve scans never load it."""
    from cards.greetings import Greeting, render_greetings_pdf

    greetings = [
        Greeting(
            org_name=org,
            unit_name=unit_label(b.member.unit),
            member_name=b.member.name,
            joined_on=b.member.joined_on,
            day=b.day,
            years=b.years,
        )  # fmt: skip
        for b in found
    ]
    return render_greetings_pdf(greetings, title, org)


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/birthdays")
@officer_required
def birthdays() -> Any:
    unit, month = _unit_and_month()
    s = db.session()
    return render_template(
        "birthdays/index.html",
        unit=unit,
        month=month,
        birthdays=month_birthdays(s, unit, month),
        units=[u for u in _destinations() if u.kind == "branch" and can_see_unit(current_user, u)]
        or [unit],
    )


@bp.route("/birthdays/cards.pdf")
@officer_required
def birthday_cards() -> Any:
    unit, month = _unit_and_month()
    s = db.session()
    org = organisation_name(s)
    found = month_birthdays(s, unit, month)
    if not found:
        flash(_("Nobody in %(unit)s has a political birthday in %(month)s.",
                unit=unit_label(unit), month=month.strftime("%Y-%m")), "error")  # fmt: skip
        back = url_for("transfers.birthdays", unit=unit.code, month=month.strftime("%Y-%m"))
        return redirect(back)
    data = _greetings_pdf(found, f"{org} 政治生日", org)
    return _pdf(data, f"birthdays-{unit.code}-{month.strftime('%Y-%m')}.pdf")


@bp.route("/birthdays/members/<int:member_id>.pdf")
@officer_required
def birthday_card(member_id: int) -> Any:
    member = db.session().get(Member, member_id)
    if member is None or not can_see_member(current_user, member):
        abort(404)
    raw = request.args.get("year", "").strip()
    year = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 4 else local_today().year
    if year <= member.joined_on.year:
        abort(400, description=_("year: after the year the member joined"))
    org = organisation_name(db.session())
    day = anniversary(member.joined_on, year)
    b = Birthday(member, day, years_of_membership(member.joined_on, year))
    data = _greetings_pdf([b], f"{org} {member.name}", org)
    return _pdf(data, f"birthday-{member.number}-{year}.pdf")
