"""Leave requests and make-up study: the member's forms (card page) and the secretary's lists.

Officers see and decide requests of meetings in their scope (others are 404). A member acts
only from their own card unlocked on this phone with the PIN: anyone else is refused (403)
and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.photos import PhotoError, photo_file, read_capped, remove_photo, store_photo
from qrservice.life.requests import (
    RequestError,
    accept_makeup,
    approve_leave,
    leave_of,
    makeup_deadline,
    pending_leave,
    pending_makeup,
    record_leave,
    refuse_leave,
    request_leave,
    return_makeup,
    submit_makeup,
    withdraw_leave,
)
from qrservice.life.views.meetings import meeting_or_404
from qrservice.models import LeaveRequest, MakeupStudy, Meeting, Member
from qrservice.org.accounts import can_see_member, can_see_unit, officer_required

bp = Blueprint("requests", __name__)


def _refused(errors: dict[str, str], back: str) -> Any:
    """A refusal that names each field, with a way back; 422, nothing written."""
    return render_template("requests/refused.html", errors=errors, back=back), 422


# The officer's side.


@bp.route("/requests/")
@officer_required
def index() -> Any:
    """Pending leave and make-up of meetings in the officer's scope, with their decisions."""
    s = db.session()
    scope = current_user.unit
    return render_template(
        "requests/index.html",
        leaves=pending_leave(s, scope),
        studies=pending_makeup(s, scope),
        deadline=lambda m: makeup_deadline(s, m),
    )


def _leave_or_404(leave_id: int) -> LeaveRequest:
    leave = db.session().get(LeaveRequest, leave_id)
    if leave is None or not can_see_unit(current_user, leave.meeting.unit):
        abort(404)
    return leave


def _study_or_404(study_id: int) -> MakeupStudy:
    study = db.session().get(MakeupStudy, study_id)
    if study is None or not can_see_unit(current_user, study.meeting.unit):
        abort(404)
    return study


def _back() -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for(".index")


def _decided(decide: Any, item: Any, done: str) -> Any:
    """An officer's decision from a list: made with the form's comment, or refused with the
    reasons shown where the officer came from."""
    try:
        decide(db.session(), Actor.of(current_user), item, request.form.get("comment", ""))
    except RequestError as exc:
        return _refused(exc.errors, _back())
    flash(done, "notice")
    return redirect(_back(), 303)


@bp.route("/requests/leave/<int:leave_id>/approve", methods=["POST"])
@officer_required
def approve(leave_id: int) -> Any:
    leave = _leave_or_404(leave_id)
    return _decided(approve_leave, leave, _("Leave of %(name)s approved.", name=leave.member.name))


@bp.route("/requests/leave/<int:leave_id>/refuse", methods=["POST"])
@officer_required
def refuse(leave_id: int) -> Any:
    leave = _leave_or_404(leave_id)
    return _decided(refuse_leave, leave, _("Leave of %(name)s refused.", name=leave.member.name))


@bp.route("/requests/makeup/<int:study_id>/accept", methods=["POST"])
@officer_required
def accept(study_id: int) -> Any:
    study = _study_or_404(study_id)
    done = _("Make-up of %(name)s accepted.", name=study.member.name)
    return _decided(accept_makeup, study, done)


@bp.route("/requests/makeup/<int:study_id>/return", methods=["POST"])
@officer_required
def return_(study_id: int) -> Any:
    study = _study_or_404(study_id)
    done = _("Make-up of %(name)s returned.", name=study.member.name)
    return _decided(return_makeup, study, done)


def _uploads() -> Path:
    return Path(current_app.config["UPLOADS_DIR"])


@bp.route("/requests/makeup/<int:study_id>/photo")
@officer_required
def photo(study_id: int) -> Any:
    """The photo of a member's notes (re-encoded, without metadata), after the scope check."""
    study = _study_or_404(study_id)
    if study.photo_path is None:
        abort(404)
    try:
        path = photo_file(_uploads(), study.photo_path)
    except PhotoError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = make_response(path.read_bytes())
    response.content_type = "image/jpeg"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/meetings/<int:meeting_id>/leave/<int:member_id>", methods=["POST"])
@officer_required
def record(meeting_id: int, member_id: int) -> Any:
    """Leave given by phone, recorded from the meeting's missing list: approved at once."""
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    member = s.get(Member, member_id)
    if member is None or not can_see_member(current_user, member):
        abort(404)
    back = url_for("meetings.show", meeting_id=meeting.id)
    try:
        record_leave(s, Actor.of(current_user), meeting, member, request.form.get("reason", ""))
    except RequestError as exc:
        if "member" in exc.errors:
            abort(404)  # not on this meeting's list: said like any record out of reach
        return _refused(exc.errors, back)
    flash(_("Leave of %(name)s recorded.", name=member.name), "notice")
    return redirect(back, 303)


# The member's side, from their unlocked card.


def _own_card(token: str) -> tuple[Any, Member]:
    """The card and its member, if this phone unlocked it with the PIN; else 403/404."""
    from qrservice.org.issuance import CardRefused, resolve_card
    from qrservice.signing_keys import key_ring
    from scan.views import unlocked_card_ids

    try:
        card = resolve_card(db.session(), key_ring(), token)
    except CardRefused:
        abort(404)
    if unlocked_card_ids().get(card.member_id) != card.version:
        abort(403)
    return card, card.member


def _card_meeting(meeting_id: int) -> Meeting:
    meeting = db.session().get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


@bp.route("/c/<token>/leave/<int:meeting_id>", methods=["POST"])
def ask_leave(token: str, meeting_id: int) -> Any:
    _card, member = _own_card(token)
    meeting = _card_meeting(meeting_id)
    back = url_for("scan.card_page", token=token)
    try:
        request_leave(db.session(), member, meeting, request.form.get("reason", ""))
    except RequestError as exc:
        return _refused(exc.errors, back)
    flash(_("Your request for leave is sent to your branch."), "notice")
    return redirect(back + "#requests", 303)


@bp.route("/c/<token>/leave/<int:meeting_id>/withdraw", methods=["POST"])
def withdraw(token: str, meeting_id: int) -> Any:
    _card, member = _own_card(token)
    meeting = _card_meeting(meeting_id)
    back = url_for("scan.card_page", token=token)
    leave = leave_of(db.session(), meeting, member)
    if leave is None:
        abort(404)
    try:
        withdraw_leave(db.session(), member, leave)
    except RequestError as exc:
        return _refused(exc.errors, back)
    flash(_("Your request for leave is withdrawn."), "notice")
    return redirect(back + "#requests", 303)


@bp.route("/c/<token>/makeup/<int:meeting_id>", methods=["POST"])
def submit(token: str, meeting_id: int) -> Any:
    _card, member = _own_card(token)
    meeting = _card_meeting(meeting_id)
    back = url_for("scan.card_page", token=token)
    stored = None
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            data = read_capped(upload.stream, current_app.config["PHOTO_MAX_BYTES"])
            stored = store_photo(_uploads(), "makeup", data)
        except PhotoError as exc:
            return _refused(exc.errors, back)
    try:
        submit_makeup(db.session(), member, meeting, request.form.get("text", ""),
                      photo_path=stored.path if stored else None)  # fmt: skip
    except RequestError as exc:
        if stored is not None:
            remove_photo(_uploads(), stored.path)
        return _refused(exc.errors, back)
    flash(_("Your make-up study is sent to your branch."), "notice")
    return redirect(back + "#requests", 303)


@bp.app_context_processor
def _meeting_requests() -> dict[str, Any]:
    """For the meeting page's missing list: pending leave requests by member id."""

    def pending_leave_by_member(meeting: Meeting) -> dict[int, LeaveRequest]:
        from sqlalchemy import select

        rows = db.session().scalars(
            select(LeaveRequest).where(
                LeaveRequest.meeting_id == meeting.id, LeaveRequest.status == "pending"
            )
        )
        return {r.member_id: r for r in rows}

    return {"pending_leave_by_member": pending_leave_by_member}


def card_requests(s: Any, member: Member) -> dict[str, Any]:
    """What the member's unlocked card page shows of leave and make-up: their requests by
    meeting, the meetings they may still make up (with the last day), their make-up."""
    from qrservice.life.requests import makeup_due, member_leave, member_makeup

    leaves = member_leave(s, member)
    return {
        "my_leave": leaves,
        "leave_by_meeting": {r.meeting_id: r for r in leaves},
        "makeup_due": [(m, makeup_deadline(s, m)) for m in makeup_due(s, member)],
        "my_makeup": member_makeup(s, member),
    }
