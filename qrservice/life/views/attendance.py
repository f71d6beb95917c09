"""Attendance after a meeting: an officer's corrections, each with its reason, and reopening
check-in of a closed meeting."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import actor_name
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.attendance import (
    CORRECTABLE,
    REASON_MAX,
    AttendanceError,
    attendance_lines,
    correct_attendance,
    reopen_checkin,
    status_name,
)
from qrservice.life.views.meetings import meeting_or_404
from qrservice.models import Meeting, Member
from qrservice.org.accounts import officer_required

bp = Blueprint("attendance", __name__)


def _page(
    meeting: Meeting,
    errors: dict[str, str] | None = None,
    member_id: int | None = None,
    form: dict[str, str] | None = None,
) -> Any:
    q = request.args.get("q", "")[:64]
    return render_template(
        "attendance/index.html",
        meeting=meeting,
        lines=attendance_lines(db.session(), meeting, q),
        q=q,
        choices=[(status, status_name(status)) for status in CORRECTABLE],
        reason_max=REASON_MAX,
        errors=errors or {},
        failed=member_id,
        form=form or {},
        who=actor_name,
    )


@bp.route("/meetings/<int:meeting_id>/attendance")
@officer_required
def index(meeting_id: int) -> Any:
    """Everyone the meeting expects and every visitor: status, how it was recorded, the
    corrections made; on a closed meeting a correction form for each."""
    return _page(meeting_or_404(meeting_id))


@bp.route("/meetings/<int:meeting_id>/attendance/<int:member_id>", methods=["POST"])
@officer_required
def correct(meeting_id: int, member_id: int) -> Any:
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    member = s.get(Member, member_id)
    if member is None:
        abort(404)
    form = {"status": request.form.get("status", ""), "reason": request.form.get("reason", "")}
    try:
        correct_attendance(
            s, Actor.of(current_user), meeting, member, form["status"], form["reason"]
        )
    except AttendanceError as exc:
        if "member" in exc.errors:
            abort(404)  # not on this meeting's list: said like any record out of reach
        return _page(meeting, exc.errors, member.id, form), 422
    flash(
        _("Attendance of %(name)s corrected to “%(status)s”.", name=member.name,
          status=status_name(form["status"])),
        "notice",
    )  # fmt: skip
    return redirect(
        url_for(".index", meeting_id=meeting.id, q=request.args.get("q") or None) + f"#m{member.id}"
    )


@bp.route("/meetings/<int:meeting_id>/reopen", methods=["POST"])
@officer_required
def reopen(meeting_id: int) -> Any:
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    back = url_for("meetings.show", meeting_id=meeting.id)
    if meeting.status == "closed" and not confirmed():
        return ask_to_confirm(
            _("Reopen check-in of “%(title)s”?", title=meeting.title),
            [
                _("Scanners, the on-screen code and officers can check members in again until "
                  "you close check-in again."),
                _("Members recorded absent at the close who check in now are recorded present "
                  "or late."),
                _("Points stay as the close gave them; closing again settles them, never "
                  "twice."),
            ],
            _("Reopen check-in"),
            back,
            danger=False,
        )  # fmt: skip
    try:
        reopen_checkin(s, Actor.of(current_user), meeting)
    except AttendanceError as exc:
        return render_template("error.html", code=409, message=exc.errors["status"]), 409
    flash(_("Check-in is open again."), "notice")
    return redirect(back)
