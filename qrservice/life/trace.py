"""The trace of a meeting (痕迹管理): its minutes, its photos and its attendance as recorded.

After a meeting its branch's secretary files the minutes and photos; organisers above read
them without visiting. A closed meeting still without minutes a week after its close is
overdue (``overdue_traces``). Photo files live under the uploads folder, never in the
database: a file is written before its row is committed and removed if the transaction rolls
back; a deleted photo's file is removed only once the deletion is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from qrservice.audit import Actor, record
from qrservice.life.attendance import AttendanceLine, attendance_lines
from qrservice.life.photos import PhotoError, remove_photo, store_photo
from qrservice.models import Meeting, MeetingPhoto, Unit
from qrservice.timeutil import utcnow

#: The longest minutes kept, in characters.
MINUTES_MAX = 20_000
#: The longest photo caption (MeetingPhoto.caption).
CAPTION_MAX = 200
#: A closed meeting without minutes this long after its close is overdue.
OVERDUE_AFTER = timedelta(days=7)


class TraceError(ValueError):
    """A refused change to a trace; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Trace:
    """What a meeting leaves behind."""

    meeting: Meeting
    photos: list[MeetingPhoto]
    attendance: list[AttendanceLine]

    @property
    def filed(self) -> bool:
        return bool(self.meeting.minutes and self.meeting.minutes.strip())


def trace_of(s: Session, meeting: Meeting) -> Trace:
    return Trace(meeting, meeting_photos(s, meeting), attendance_lines(s, meeting))


def meeting_photos(s: Session, meeting: Meeting) -> list[MeetingPhoto]:
    return list(
        s.scalars(
            select(MeetingPhoto)
            .where(MeetingPhoto.meeting_id == meeting.id)
            .order_by(MeetingPhoto.uploaded_at, MeetingPhoto.id)
        )
    )


def _check_traceable(meeting: Meeting, errors: dict[str, str]) -> None:
    if meeting.status == "cancelled":
        errors["meeting"] = _("A cancelled meeting has no trace to file.")
    elif meeting.status == "scheduled":
        errors["meeting"] = _("The trace is filed once the meeting has been held.")


def file_minutes(s: Session, actor: Actor, meeting: Meeting, text: str) -> None:
    """Set the meeting's minutes (replacing earlier ones); blank minutes are refused."""
    text = text.replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    _check_traceable(meeting, errors)
    if not text:
        errors["minutes"] = _("Write the minutes.")
    elif len(text) > MINUTES_MAX:
        errors["minutes"] = _("The minutes may have at most %(n)d characters.", n=MINUTES_MAX)
    if errors:
        raise TraceError(errors)
    before = {"minutes": meeting.minutes}
    meeting.minutes = text
    meeting.minutes_by = actor.label
    meeting.minutes_at = utcnow()
    s.flush()
    record(s, actor, "trace.minutes", "meeting", meeting.id, before=before,
           after={"minutes": text})  # fmt: skip


def _after_transaction(s: Session, on_commit: Callable[[], None] | None,
                       on_rollback: Callable[[], None] | None) -> None:  # fmt: skip
    """Run ``on_commit`` once the session commits, or ``on_rollback`` once it rolls back."""
    done = False

    def committed(*_args: object) -> None:
        nonlocal done
        if not done:
            done = True
            if on_commit:
                on_commit()

    def rolled_back(*_args: object) -> None:
        nonlocal done
        if not done:
            done = True
            if on_rollback:
                on_rollback()

    event.listen(s, "after_commit", committed)
    event.listen(s, "after_soft_rollback", rolled_back)


def add_photo(
    s: Session,
    actor: Actor,
    meeting: Meeting,
    data: bytes,
    caption: str,
    uploads_dir: Path,
    max_photos: int,
) -> MeetingPhoto:
    """Re-encode a photo (qrservice.life.photos), store it and record it on the meeting."""
    caption = " ".join(caption.split())
    errors: dict[str, str] = {}
    _check_traceable(meeting, errors)
    if len(caption) > CAPTION_MAX:
        errors["caption"] = _("A caption may have at most %(n)d characters.", n=CAPTION_MAX)
    count = s.scalar(select(func.count()).where(MeetingPhoto.meeting_id == meeting.id)) or 0
    if count >= max_photos:
        errors["photo"] = _("A meeting keeps at most %(n)d photos.", n=max_photos)
    if errors:
        raise TraceError(errors)
    try:
        stored = store_photo(uploads_dir, f"meetings/{meeting.id}", data)
    except PhotoError as exc:
        raise TraceError(exc.errors) from None
    try:
        photo = MeetingPhoto(
            meeting_id=meeting.id, path=stored.path, width=stored.width, height=stored.height,
            size_bytes=stored.size_bytes, caption=caption or None, uploaded_by=actor.label,
            uploaded_at=utcnow(),
        )  # fmt: skip
        s.add(photo)
        s.flush()
        record(s, actor, "trace.photo_add", "meeting", meeting.id,
               after={"photo": photo.id, "caption": photo.caption})  # fmt: skip
    except BaseException:
        remove_photo(uploads_dir, stored.path)
        raise
    _after_transaction(s, None, lambda: remove_photo(uploads_dir, stored.path))
    return photo


def delete_photo(s: Session, actor: Actor, photo: MeetingPhoto, uploads_dir: Path) -> None:
    """Delete a photo; its file goes once the deletion is committed."""
    path = photo.path
    record(s, actor, "trace.photo_delete", "meeting", photo.meeting_id,
           before={"photo": photo.id, "caption": photo.caption})  # fmt: skip
    s.delete(photo)
    s.flush()
    _after_transaction(s, lambda: remove_photo(uploads_dir, path), None)


def overdue_traces(s: Session, scope: Unit, now: datetime) -> list[Meeting]:
    """The scope's closed meetings still without minutes ``OVERDUE_AFTER`` after they closed,
    oldest first, with their units (one query)."""
    return list(
        s.scalars(
            select(Meeting)
            .join(Meeting.unit)
            .where(
                Unit.path.startswith(scope.path, autoescape=True),
                Meeting.status == "closed",
                Meeting.closed_at <= now - OVERDUE_AFTER,
                or_(Meeting.minutes.is_(None), Meeting.minutes == ""),
            )
            .options(contains_eager(Meeting.unit))
            .order_by(Meeting.closed_at, Meeting.id)
        )
    )
