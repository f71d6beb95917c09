"""The trace of a meeting (痕迹管理): minutes and photos, and meetings without their trace.

Officers over the meeting's unit read its trace; its branch's secretary (or an officer of the
meeting's own unit) files it: organisers above read without changing. Photos are served only
through ``photo``, by id, after the scope check: never as uploaded, never by their path.
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
from qrservice.audit_sentences import actor_name
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.attendance import status_name
from qrservice.life.photos import PhotoError, photo_file, read_capped, thumbnail
from qrservice.life.trace import (
    CAPTION_MAX,
    MINUTES_MAX,
    TraceError,
    add_photo,
    delete_photo,
    overdue_traces,
    trace_of,
)
from qrservice.life.views.meetings import meeting_or_404
from qrservice.models import Meeting, MeetingPhoto
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.timeutil import utcnow

bp = Blueprint("trace", __name__)


def uploads_dir() -> Path:
    return Path(current_app.config["UPLOADS_DIR"])


def may_file(meeting: Meeting) -> bool:
    """The branch's secretary over the meeting files its trace, or an officer of the meeting's
    own unit; organisers above read it only."""
    if not can_see_unit(current_user, meeting.unit):
        return False
    return current_user.role == "secretary" or current_user.unit_id == meeting.unit_id


def _filer_meeting_or_404(meeting_id: int) -> Meeting:
    meeting = meeting_or_404(meeting_id)
    if not may_file(meeting):
        abort(403)
    return meeting


def _page(meeting: Meeting, errors: dict[str, str] | None = None, minutes: str | None = None):  # type: ignore[no-untyped-def]
    return render_template(
        "trace/show.html",
        trace=trace_of(db.session(), meeting),
        meeting=meeting,
        may_file=may_file(meeting),
        errors=errors or {},
        minutes=meeting.minutes or "" if minutes is None else minutes,
        minutes_max=MINUTES_MAX,
        caption_max=CAPTION_MAX,
        max_photos=current_app.config["PHOTOS_PER_MEETING"],
        max_mb=f"{current_app.config['PHOTO_MAX_BYTES'] / (1024 * 1024):g}",
        status_name=status_name,
        who=actor_name,
    )


@bp.route("/meetings/<int:meeting_id>/trace")
@officer_required
def show(meeting_id: int) -> Any:
    """The meeting's minutes, photos and attendance as recorded with its corrections."""
    return _page(meeting_or_404(meeting_id))


@bp.route("/meetings/<int:meeting_id>/trace/minutes", methods=["POST"])
@officer_required
def minutes(meeting_id: int) -> Any:
    from qrservice.life.trace import file_minutes

    meeting = _filer_meeting_or_404(meeting_id)
    text = request.form.get("minutes", "")
    try:
        file_minutes(db.session(), Actor.of(current_user), meeting, text)
    except TraceError as exc:
        return _page(meeting, exc.errors, text), 422
    flash(_("Minutes filed."), "notice")
    return redirect(url_for(".show", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/trace/photos", methods=["POST"])
@officer_required
def add_photo_(meeting_id: int) -> Any:
    meeting = _filer_meeting_or_404(meeting_id)
    cap = current_app.config["PHOTO_MAX_BYTES"]
    too_large = _("The photo is larger than %(mb)s MB.", mb=f"{cap / (1024 * 1024):g}")
    # Refused by its declared length before the photo is read (the form's own fields are few).
    if (request.content_length or 0) > cap + 64 * 1024:
        return _page(meeting, {"photo": too_large}), 413
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return _page(meeting, {"photo": _("Choose a photo to upload.")}), 422
    try:
        data = read_capped(upload.stream, cap)
    except PhotoError as exc:
        return _page(meeting, exc.errors), 413 if upload.stream.tell() > cap else 422
    try:
        add_photo(
            db.session(), Actor.of(current_user), meeting, data,
            request.form.get("caption", ""), uploads_dir(),
            current_app.config["PHOTOS_PER_MEETING"],
        )  # fmt: skip
    except TraceError as exc:
        return _page(meeting, exc.errors), 422
    flash(_("Photo added."), "notice")
    return redirect(url_for(".show", meeting_id=meeting.id) + "#photos")


def _photo_or_404(photo_id: int) -> MeetingPhoto:
    photo = db.session().get(MeetingPhoto, photo_id)
    if photo is None or not can_see_unit(current_user, photo.meeting.unit):
        abort(404)
    return photo


@bp.route("/trace/photos/<int:photo_id>")
@officer_required
def photo(photo_id: int) -> Any:
    """A photo we re-encoded, by id after the scope check (``?size=small``: a thumbnail)."""
    row = _photo_or_404(photo_id)
    try:
        path = photo_file(uploads_dir(), row.path)
    except PhotoError:
        abort(404)
    if not path.is_file():
        abort(404)
    body = thumbnail(path) if request.args.get("size") == "small" else path.read_bytes()
    response = make_response(body)
    response.content_type = "image/jpeg"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="photo-{row.id}.jpg"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/trace/photos/<int:photo_id>/delete", methods=["POST"])
@officer_required
def delete(photo_id: int) -> Any:
    row = _photo_or_404(photo_id)
    meeting = row.meeting
    if not may_file(meeting):
        abort(403)
    back = url_for(".show", meeting_id=meeting.id)
    if not confirmed():
        return ask_to_confirm(
            _("Delete this photo of “%(title)s”?", title=meeting.title),
            [_("The photo is removed from the meeting’s trace and its file is deleted."),
             _("The deletion is kept in the meeting’s history.")],
            _("Delete the photo"),
            back,
        )  # fmt: skip
    delete_photo(db.session(), Actor.of(current_user), row, uploads_dir())
    flash(_("Photo deleted."), "notice")
    return redirect(back + "#photos")


@bp.route("/trace/overdue")
@officer_required
def overdue() -> Any:
    """Closed meetings of the officer's scope still without minutes a week after closing."""
    meetings = overdue_traces(db.session(), current_user.unit, utcnow())
    return render_template("trace/overdue.html", meetings=meetings)
