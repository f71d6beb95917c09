"""Attendance after a meeting: reopening check-in, and an officer's corrections with reasons.

A closed meeting's attendance is changed only here or by the check-in doors while it is
reopened; each change settles the member's points (qrservice.life.points), so points always
follow attendance exactly. A correction keeps a trace: an AttendanceCorrection row (from,
to, why, who, when) and an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from qrservice.audit import Actor, record
from qrservice.life.meetings import expected_members
from qrservice.life.points import MEETING_ROW_LOCK, settle_attendance_points
from qrservice.models import Attendance, AttendanceCorrection, Meeting, Member
from qrservice.timeutil import utcnow

#: What an officer may correct attendance to: present, late, on leave, absent.
CORRECTABLE = ("present", "late", "excused", "absent")
#: The longest reason a correction keeps (AttendanceCorrection.reason).
REASON_MAX = 200


class AttendanceError(ValueError):
    """A refused correction or reopening; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def status_name(status: str) -> str:
    """An attendance status as the viewer reads it."""
    return {
        "present": _("present"),
        "late": _("late"),
        "excused": _("on leave"),
        "absent": _("absent"),
        "made_up": _("made up"),
        "visitor": _("visitor"),
        "undone": _("taken back"),
    }.get(status, status)


def reopen_checkin(s: Session, actor: Actor, meeting: Meeting) -> None:
    """Open check-in of a closed meeting again, until it is closed again.

    The points its close gave stay while it is reopened (``closed_at`` is kept: the meeting
    has been closed); members recorded absent at the close who then check in become present
    or late as any scan would make them, and the next close settles everyone's points
    exactly, never twice. The meeting row is locked first, as a close does.
    """
    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    if meeting.status != "closed":
        message = _("Only a meeting whose check-in is closed can be reopened.")
        raise AttendanceError({"status": message})
    meeting.status = "open"
    s.flush()
    record(s, actor, "meeting.reopen", "meeting", meeting.id)


def is_expected(s: Session, meeting: Meeting, member: Member) -> bool:
    """Whether the meeting expects this member (``expected_members``: whom it expects)."""
    return any(m.id == member.id for m in expected_members(s, meeting))


def correct_attendance(
    s: Session, actor: Actor, meeting: Meeting, member: Member, to_status: str, reason: str
) -> AttendanceCorrection:
    """Correct one member's attendance at a closed meeting, with the officer's reason.

    The member must be one the meeting expects, or have a row there (a visitor). A member
    with no row (expected only since the close) is taken as absent, and gets a row recorded
    by hand. Only this member's points are settled again. Refusals name the field:
    ``meeting`` (check-in not closed), ``status``, ``reason``, ``member``.
    """
    reason = " ".join(reason.split())
    errors: dict[str, str] = {}
    if to_status not in CORRECTABLE:
        errors["status"] = _("Choose present, late, on leave or absent.")
    if not 1 <= len(reason) <= REASON_MAX:
        errors["reason"] = _("A reason of 1 to %(n)d characters is required.", n=REASON_MAX)
    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    if meeting.status != "closed":
        errors["meeting"] = _("Attendance is corrected once check-in is closed.")
    row = s.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id, Attendance.member_id == member.id
        )
    )
    if row is None and not is_expected(s, meeting, member):
        errors["member"] = _("This meeting does not expect this member.")
    from_status = row.status if row is not None else "absent"
    if "status" not in errors and from_status == to_status:
        errors["status"] = _(
            "The attendance is already “%(status)s”.", status=status_name(to_status)
        )
    if errors:
        raise AttendanceError(errors)

    now = utcnow()
    if row is None:
        row = Attendance(
            meeting_id=meeting.id, member_id=member.id, status=to_status, via="manual",
            checked_in_at=now, recorded_by=actor.label,
        )  # fmt: skip
        s.add(row)
    else:
        row.status = to_status
    s.flush()
    correction = AttendanceCorrection(
        attendance_id=row.id, from_status=from_status, to_status=to_status, reason=reason,
        corrected_by=actor.label, corrected_at=now,
    )  # fmt: skip
    s.add(correction)
    s.flush()
    settle_attendance_points(s, meeting, [member.id], actor.label, locked=True)
    record(
        s, actor, "attendance.correct", "member", member.id,
        before={"meeting": meeting.id, "status": from_status},
        after={"meeting": meeting.id, "status": to_status, "why": reason},
    )  # fmt: skip
    return correction


@dataclass
class AttendanceLine:
    """One member on a meeting's attendance page or list."""

    member: Member
    status: str | None  # None: no row (expected only since the close, or never closed)
    via: str | None
    checked_in_at: datetime | None
    recorded_by: str | None
    expected: bool
    corrections: list[AttendanceCorrection] = field(default_factory=list)


def attendance_lines(s: Session, meeting: Meeting, q: str = "") -> list[AttendanceLine]:
    """Every member the meeting expects and every member with a row there (visitors), with
    their row and its corrections (oldest first), by member number; ``q`` keeps those whose
    name or number contains it. Four queries, whatever the number of members."""
    expected = {m.id: m for m in expected_members(s, meeting)}
    rows = {
        a.member_id: a
        for a in s.scalars(
            select(Attendance)
            .options(joinedload(Attendance.member))
            .where(Attendance.meeting_id == meeting.id)
        )
    }
    members = {**{a.member_id: a.member for a in rows.values()}, **expected}
    corrections: dict[int, list[AttendanceCorrection]] = {}
    for c in s.scalars(
        select(AttendanceCorrection)
        .join(Attendance, Attendance.id == AttendanceCorrection.attendance_id)
        .where(Attendance.meeting_id == meeting.id)
        .order_by(AttendanceCorrection.corrected_at, AttendanceCorrection.id)
    ):
        corrections.setdefault(c.attendance_id, []).append(c)
    q = q.strip().casefold()
    lines = []
    for member in sorted(members.values(), key=lambda m: m.number):
        if q and q not in member.name.casefold() and q not in member.number.casefold():
            continue
        row = rows.get(member.id)
        lines.append(
            AttendanceLine(
                member=member,
                status=row.status if row else None,
                via=row.via if row else None,
                checked_in_at=row.checked_in_at if row else None,
                recorded_by=row.recorded_by if row else None,
                expected=member.id in expected,
                corrections=corrections.get(row.id, []) if row else [],
            )
        )
    return lines
