"""Meeting pages for officers: list, create, open and close check-in, attendance."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, or_, select
from sqlalchemy.orm import contains_eager

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import audit_trail
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.meetings import (
    MeetingError,
    MeetingFields,
    close_checkin,
    counts,
    create_meeting,
    meeting_time_problem,
    missing_members,
    open_checkin,
)
from qrservice.models import MEETING_KINDS, Attendance, AuditEvent, Meeting, Unit
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.org.members import units_in_scope
from qrservice.timeutil import from_local, local_time, utcnow

bp = Blueprint("meetings", __name__, url_prefix="/meetings")


@bp.route("/")
@officer_required
def index() -> Any:
    """Where an officer lands: meetings with check-in open first, then today's and upcoming
    ones in the order they start, then earlier ones, newest first."""
    s = db.session()
    in_scope = select(Meeting).join(Meeting.unit).options(contains_eager(Meeting.unit))
    in_scope = in_scope.where(Unit.path.startswith(current_user.unit.path, autoescape=True))
    today_starts = from_local(datetime.combine(local_time(utcnow()).date(), time()))
    current = or_(Meeting.status == "open", Meeting.starts_at >= today_starts)
    coming = s.scalars(
        in_scope.where(current)
        .order_by(case((Meeting.status == "open", 0), else_=1), Meeting.starts_at, Meeting.id)
        .limit(100)
    ).all()
    earlier = s.scalars(
        in_scope.where(~current).order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(100)
    ).all()
    return render_template("meetings/index.html", coming=coming, earlier=earlier)


def meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session().get(Meeting, meeting_id)
    if meeting is None or not can_see_unit(current_user, meeting.unit):
        abort(404)
    return meeting


def _local(value: str, field: str, errors: dict[str, str]) -> datetime:
    """A form's local date and time as stored (naive UTC); a bad one is named in ``errors``."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = _("Enter a date and time.")
        return datetime(2000, 1, 1)
    # Checked before the conversion: a zone or a year 0001 must not reach the arithmetic.
    if problem := meeting_time_problem(at):
        errors[field] = problem
        return datetime(2000, 1, 1)
    return from_local(at)


def _int(value: str, field: str, errors: dict[str, str], default: int) -> int:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        errors[field] = _("Enter a whole number.")
        return default


@bp.route("/new", methods=["GET", "POST"])
@officer_required
def new() -> Any:
    s = db.session()
    units = [u for u in units_in_scope(s, current_user.unit) if u.kind != "committee"]
    form = request.form
    if request.method == "POST":
        errors: dict[str, str] = {}
        unit = next((u for u in units if str(u.id) == form.get("unit_id")), None)
        if unit is None:
            errors["unit"] = _("Choose a unit.")
        fields = MeetingFields(
            unit=unit or current_user.unit,
            kind=form.get("kind", ""),
            title=form.get("title", ""),
            starts_at=_local(form.get("starts_at", ""), "starts_at", errors),
            ends_at=_local(form.get("ends_at", ""), "ends_at", errors),
            place=form.get("place"),
            remote_allowed=form.get("remote_allowed") == "yes",
            points=_int(form.get("points", ""), "points", errors, 1),
            late_after_min=_int(form.get("late_after_min", ""), "late_after_min", errors, 10),
        )
        try:
            if errors:
                raise MeetingError(errors)
            meeting = create_meeting(s, Actor.of(current_user), fields)
        except MeetingError as exc:
            return render_template(
                "meetings/new.html", units=units, kinds=MEETING_KINDS, form=form,
                errors={**errors, **exc.errors},
            ), 422  # fmt: skip
        flash(_("Meeting created."), "notice")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template(
        "meetings/new.html", units=units, kinds=MEETING_KINDS, form={}, errors={}
    )


@bp.route("/<int:meeting_id>")
@officer_required
def show(meeting_id: int) -> Any:
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    rows = s.scalars(
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.status != "undone")
        .order_by(Attendance.checked_in_at)
    ).all()
    history = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "meeting", AuditEvent.entity_id == meeting.id)
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        attendance=rows,
        counts=counts(s, meeting),
        missing=missing_members(s, meeting) if meeting.status != "closed" else [],
        history=audit_trail(s, history),
    )


@bp.route("/<int:meeting_id>/open", methods=["POST"])
@officer_required
def open_(meeting_id: int) -> Any:
    meeting = meeting_or_404(meeting_id)
    open_checkin(db.session(), Actor.of(current_user), meeting)
    flash(_("Check-in is open."), "notice")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/close", methods=["POST"])
@officer_required
def close(meeting_id: int) -> Any:
    meeting = meeting_or_404(meeting_id)
    if meeting.status == "open" and not confirmed():
        tally = counts(db.session(), meeting)
        attended = tally.present + tally.late
        return ask_to_confirm(
            _("Close check-in of “%(title)s”?", title=meeting.title),
            [
                _("%(n)d expected members who have not checked in or asked for leave are "
                  "recorded absent.", n=tally.missing),
                _("%(n)d members who attended earn %(points)d points each.",
                  n=attended, points=meeting.points),
                _("Scanners and the on-screen code stop checking anyone in; scans saved offline "
                  "before now still count when they sync."),
            ],
            _("Close check-in"),
            url_for("meetings.show", meeting_id=meeting.id),
        )  # fmt: skip
    done = close_checkin(db.session(), Actor.of(current_user), meeting)
    flash(_("Check-in closed: %(absent)d absent, %(awarded)d earned points.", **done), "notice")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.app_template_global()
def meeting_kind_names() -> dict[str, str]:
    return {
        "branch_general": _("Branch general meeting"),
        "branch_committee": _("Branch committee meeting"),
        "group": _("Group meeting"),
        "lecture": _("Party lecture"),
        "theme_day": _("Theme party day"),
        "org_life": _("Organisational-life meeting"),
        "volunteer": _("Volunteer service"),
        "other": _("Other"),
    }


@bp.app_template_global()
def meeting_status_names() -> dict[str, str]:
    return {"scheduled": _("scheduled"), "open": _("check-in open"), "closed": _("closed")}


@bp.app_template_global()
def checkin_via_names() -> dict[str, str]:
    """How an attendance row came to be (Attendance.via), as the viewer reads it."""
    return {
        "scan": _("scanned by an officer"),
        "screen_code": _("scanned the on-screen code"),
        "remote": _("checked in remotely"),
        "manual": _("recorded by hand"),
        "offline": _("scanned offline, synced later"),
        "closing": _("recorded at closing"),
        "leave": _("leave approved"),
        "device": _("scanned by a scanner device"),
    }


@bp.app_template_global()
def attendance_status_names() -> dict[str, str]:
    return {
        "present": _("present"),
        "late": _("late"),
        "excused": _("on leave"),
        "absent": _("absent"),
        "made_up": _("made up"),
        "visitor": _("visitor"),
    }
