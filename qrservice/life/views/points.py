"""Points pages: a member's ledger (with the officers' add and correct forms), the monthly
three-level assessment of a unit, and the points rules per meeting kind.

A member's ledger is for the officers whose scope holds the member (the branch's secretary,
the organisers above); the assessment for any officer, of a unit in their scope; the rules
are the top committee's organisers' to set (as the organisation's settings are). Anyone else
gets 404 (403 for the rules). A refused form is shown again with its errors by field (422).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.assessment import assess
from qrservice.life.points_ledger import (
    CORRECTION_MARKERS,
    DERIVED_KINDS,
    OFFICER_KINDS,
    PointsError,
    add_entry,
    correct_entry,
    rules,
    set_rule,
    source_names,
)
from qrservice.models import POINTS_RULE_KINDS, Member, PointsEntry, Unit
from qrservice.org.accounts import can_see_member, can_see_unit, officer_required
from qrservice.org.issuance import branch_of
from qrservice.org.units import open_units_in_scope
from qrservice.timeutil import local_time, local_today, month_start, month_text, parse_month

bp = Blueprint("points", __name__, url_prefix="/points")


def _member_or_404(member_id: int) -> Member:
    member = db.session().get(Member, member_id)
    if member is None or not can_see_member(current_user, member):
        abort(404)
    return member


def _corrected_ids(entries: list[PointsEntry]) -> set[int]:
    """The ids of the lines that a correction line among ``entries`` names."""
    ids: set[int] = set()
    for entry in entries:
        if entry.kind != "correction":
            continue
        for marker in CORRECTION_MARKERS.values():
            head = marker.split("{id}")[0]
            if entry.reason.startswith(head):
                digits = entry.reason[len(head) :].split(" ")[0].rstrip(":")
                if digits.isdigit():
                    ids.add(int(digits))
    return ids


def _member_page(member: Member, errors: dict[str, str] | None = None, form: Any = None) -> Any:
    s = db.session()
    entries = list(
        s.scalars(
            select(PointsEntry)
            .where(PointsEntry.member_id == member.id)
            .order_by(PointsEntry.at.desc(), PointsEntry.id.desc())
        )
    )
    page = render_template(
        "points/member.html",
        member=member,
        branch=branch_of(member.unit),
        entries=entries,
        total=sum(e.points for e in entries),
        corrected=_corrected_ids(entries),
        sources=source_names(),
        officer_kinds=OFFICER_KINDS,
        derived=DERIVED_KINDS,
        form=form if form is not None else {"kind": "volunteer", "on": local_today().isoformat()},
        errors=errors or {},
        local_time=local_time,
    )
    return page, 422 if errors else 200


@bp.route("/members/<int:member_id>")
@officer_required
def member(member_id: int) -> Any:
    return _member_page(_member_or_404(member_id))


@bp.route("/members/<int:member_id>/entries", methods=["POST"])
@officer_required
def add(member_id: int) -> Any:
    member = _member_or_404(member_id)
    s = db.session()
    try:
        add_entry(
            s, Actor.of(current_user), member, kind=request.form.get("kind", ""),
            points=request.form.get("points", ""), reason=request.form.get("reason", ""),
            on=request.form.get("on", ""),
        )  # fmt: skip
    except PointsError as exc:
        s.rollback()
        return _member_page(member, exc.errors, request.form)
    flash(_("The points were recorded."), "notice")
    return redirect(url_for(".member", member_id=member.id), code=303)


@bp.route("/entries/<int:entry_id>/correct", methods=["POST"])
@officer_required
def correct(entry_id: int) -> Any:
    s = db.session()
    entry = s.get(PointsEntry, entry_id)
    if entry is None:
        abort(404)
    member = _member_or_404(entry.member_id)
    reason = request.form.get("reason", "")
    back = url_for(".member", member_id=member.id)
    if not confirmed() and reason.strip() and entry.kind not in DERIVED_KINDS + ("correction",):
        consequences = [
            _(
                "A correction line of %(points)+d points will reverse line #%(id)s (“%(reason)s”).",
                points=-entry.points,
                id=entry.id,
                reason=entry.reason,
            ),  # fmt: skip
            _("The line itself stays in the ledger; nothing is deleted."),
        ]
        return ask_to_confirm(_("Correct a points line"), consequences, _("Correct it"), back)
    try:
        correct_entry(s, Actor.of(current_user), entry, reason)
    except PointsError as exc:
        s.rollback()
        errors = {"correct": "; ".join(exc.errors.values()), "correct_id": str(entry.id)}
        return _member_page(member, errors)
    flash(_("The line was corrected."), "notice")
    return redirect(url_for(".member", member_id=member.id), code=303)


def _chosen_unit() -> Unit:
    s = db.session()
    unit = current_user.unit
    if raw := request.args.get("unit", "").strip():
        chosen = s.get(Unit, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if chosen is None:
            chosen = s.scalar(select(Unit).where(Unit.code == raw))
        if chosen is None or not can_see_unit(current_user, chosen):
            abort(404)
        unit = chosen
    return unit


@bp.route("/assessment")
@officer_required
def assessment() -> Any:
    unit = _chosen_unit()
    this_month = month_start(local_today())
    month, month_error = this_month, None
    if raw := request.args.get("month", "").strip():
        try:
            month = parse_month(raw)
        except ValueError as exc:
            month_error = str(exc)
    s = db.session()
    result = assess(s, unit, month)
    units = open_units_in_scope(s, current_user.unit)
    return render_template(
        "points/assessment.html", unit=unit, result=result, month_text=month_text,
        month_error=month_error, units=units,
    ), (422 if month_error else 200)  # fmt: skip


def _top_organiser_or_403() -> None:
    if current_user.role != "organiser" or current_user.unit.parent_id is not None:
        abort(403)


@bp.route("/rules", methods=["GET", "POST"])
@officer_required
def rules_page() -> Any:
    _top_organiser_or_403()
    s = db.session()
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in POINTS_RULE_KINDS if k in request.form}
        if not form:
            errors["points"] = _("required")
        actor = Actor.of(current_user)
        changed = 0
        held = rules(s)
        for kind, value in form.items():
            if value.strip() == "" and held[kind] is None:
                continue
            try:
                if held[kind] is None or str(held[kind]) != value.strip():
                    set_rule(s, actor, kind, value)
                    changed += 1
            except PointsError as exc:
                errors[kind] = exc.errors.get("points") or "; ".join(exc.errors.values())
        if not errors:
            flash(_("Changes saved.") if changed else _("Nothing changed."), "notice")
            return redirect(url_for(".rules_page"), code=303)
        s.rollback()
    held = rules(s)
    shown = {k: ("" if v is None else str(v)) for k, v in held.items()}
    shown.update(form)
    return render_template(
        "points/rules.html", kinds=POINTS_RULE_KINDS, form=shown, errors=errors
    ), (422 if errors else 200)
