"""Meetings: create, open and close check-in, who is expected, and the live counts.

The next stage deepens this (minutes, photos, leave, make-up study); for now a meeting has
what the scan loop and the member's card need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload

from qrservice.audit import Actor, record
from qrservice.models import MEETING_KINDS, Attendance, Meeting, Member, Unit
from qrservice.timeutil import shifted, utcnow

#: Attendance that counts as having taken part.
ATTENDED = ("present", "late", "made_up")
#: Inserting attendance rows, by database: a row written since we read (the same member
#: scanned at once elsewhere, the same nonce synced twice, a check-in racing the close)
#: makes the insert do nothing instead of failing the transaction; RETURNING tells which.
INSERT_ATTENDANCE = {
    "postgresql": postgresql.insert(Attendance.__table__)
    .on_conflict_do_nothing()
    .returning(Attendance.id),
    "sqlite": sqlite.insert(Attendance.__table__).on_conflict_do_nothing().returning(Attendance.id),
}
#: Meeting times must fall from this year to this many years ahead: a typo (year 0001 or
#: 20260) is refused where it is entered, not met by every page that shows the meeting.
FIRST_MEETING_YEAR = 2000
MEETING_YEARS_AHEAD = 5
#: The longest a meeting may last (a volunteer service over several days fits).
LONGEST_MEETING = timedelta(days=7)


class MeetingError(ValueError):
    """Rejected meeting fields or action; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class MeetingFields:
    unit: Unit
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str | None = None
    remote_allowed: bool = False
    points: int = 1
    late_after_min: int = 10
    opens_before_min: int = 30
    closes_after_min: int = 30


def meeting_time_problem(at: datetime, today: datetime | None = None) -> str | None:
    """Why ``at`` cannot be a meeting's time, or None: it must be a plain (zone-less) time,
    local or UTC, from FIRST_MEETING_YEAR to MEETING_YEARS_AHEAD years from now."""
    if at.tzinfo is not None:
        return _("Enter the time without a time zone; it is read as the organisation's time.")
    last = (today or utcnow()).year + MEETING_YEARS_AHEAD
    if not FIRST_MEETING_YEAR <= at.year <= last:
        return _("Enter a date from %(first)d to %(last)d.", first=FIRST_MEETING_YEAR, last=last)
    return None


def check_fields(f: MeetingFields) -> None:
    errors = {}
    if f.kind not in MEETING_KINDS:
        errors["kind"] = _("Choose a kind of meeting.")
    if not f.title.strip() or len(f.title) > 200:
        errors["title"] = _("A title of 1 to 200 characters is required.")
    for name in ("starts_at", "ends_at"):
        if problem := meeting_time_problem(getattr(f, name)):
            errors[name] = problem
    if "starts_at" in errors or "ends_at" in errors:
        pass  # the two cannot be compared
    elif f.ends_at <= f.starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    elif f.ends_at - f.starts_at > LONGEST_MEETING:
        errors["ends_at"] = _("A meeting lasts at most %(days)d days.", days=LONGEST_MEETING.days)
    if not 0 <= f.points <= 100:
        errors["points"] = _("Points must be between 0 and 100.")
    for name in ("late_after_min", "opens_before_min", "closes_after_min"):
        if not 0 <= getattr(f, name) <= 24 * 60:
            errors[name] = _("Minutes must be between 0 and 1440.")
    if f.unit.kind == "committee":
        errors["unit"] = _("A meeting belongs to a branch or a group.")
    if errors:
        raise MeetingError(errors)


def create_meeting(s: Session, actor: Actor, f: MeetingFields) -> Meeting:
    check_fields(f)
    meeting = Meeting(
        unit_id=f.unit.id,
        unit=f.unit,
        kind=f.kind,
        title=f.title.strip(),
        starts_at=f.starts_at,
        ends_at=f.ends_at,
        place=(f.place or "").strip() or None,
        remote_allowed=f.remote_allowed,
        points=f.points,
        late_after_min=f.late_after_min,
        opens_before_min=f.opens_before_min,
        closes_after_min=f.closes_after_min,
        screen_code_ttl=180 if f.remote_allowed else 30,
        status="scheduled",
        created_by=actor.label,
        created_at=utcnow(),
    )
    s.add(meeting)
    s.flush()
    record(s, actor, "meeting.create", "meeting", meeting.id, after={"title": meeting.title})
    return meeting


def open_checkin(s: Session, actor: Actor, meeting: Meeting) -> None:
    if meeting.status == "open":
        return
    meeting.status = "open"
    meeting.opened_at = meeting.opened_at or utcnow()
    meeting.closed_at = None
    record(s, actor, "meeting.open", "meeting", meeting.id)


def window(meeting: Meeting) -> tuple[datetime, datetime]:
    """The times between which check-in is accepted."""
    return (
        shifted(meeting.starts_at, -timedelta(minutes=meeting.opens_before_min)),
        shifted(meeting.ends_at, timedelta(minutes=meeting.closes_after_min)),
    )


_home = aliased(Unit, name="home_unit")


def path_end(path: str) -> str:
    """The smallest string after every string that starts with ``path`` (bytewise)."""
    return path[:-1] + chr(ord(path[-1]) + 1)


def _expected(path: Any, end: Any, unit_id: Any, dialect: str | None) -> Any:
    # The ids of the members of the unit's subtree and of those it hosts, as two indexed
    # look-ups (ix_member_unit_id, ix_member_host_unit_id) joined by UNION ALL: with an OR,
    # and no statistics, SQLite walks every active member through ix_member_active instead
    # (the status call grew 6x from 1,000 to 100,000 members). The subtree's units: SQLite
    # compares text bytewise, so a range on ix_unit_path finds them; ``LIKE :path || '%'``
    # cannot use the index. Elsewhere LIKE: a linguistic collation may not order '/' bytewise.
    in_subtree = (
        and_(_home.path >= path, _home.path < end)
        if dialect == "sqlite"
        else _home.path.startswith(path)
    )
    ids = union_all(
        select(Member.id).where(Member.unit_id.in_(select(_home.id).where(in_subtree))),
        select(Member.id).where(Member.host_unit_id == unit_id),
    )
    return and_(Member.active.is_(True), Member.id.in_(ids))


def expected_filter(
    meeting_unit_path: str, meeting_unit_id: int, dialect: str | None = None
) -> Any:
    """Members expected at a meeting: active, of the unit's subtree or hosted by the unit.

    ``dialect`` (``session.get_bind().dialect.name``) lets SQLite find the subtree by index.
    """
    return _expected(meeting_unit_path, path_end(meeting_unit_path), meeting_unit_id, dialect)


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def _unit_params(meeting: Meeting) -> dict[str, Any]:
    path = meeting.unit.path
    return {
        "path": path,
        "path_end": path_end(path),
        "unit_id": meeting.unit_id,
        "meeting_id": meeting.id,
    }


@cache
def _statements(dialect: str) -> dict[str, Any]:
    """The live-count statements, built once per dialect (the scanner polls them after every
    scan); the meeting and its unit are parameters."""
    expected = _expected(bindparam("path"), bindparam("path_end"), bindparam("unit_id"), dialect)
    accounted = select(Attendance.member_id).where(
        Attendance.meeting_id == bindparam("meeting_id"),
        Attendance.status.in_(("present", "late", "excused", "made_up")),
    )
    return {
        "expected_count": select(func.count()).select_from(Member).where(expected),
        "by_status": select(Attendance.status, func.count())
        .where(Attendance.meeting_id == bindparam("meeting_id"))
        .group_by(Attendance.status),
        "expected": select(Member).where(expected).order_by(Member.number),
        "missing": select(Member)
        .options(joinedload(Member.unit))
        .where(expected, Member.id.not_in(accounted))
        .order_by(Member.number),
        "missing_rows": select(Member.id, Member.name, Member.number, Unit.name.label("unit"))
        .join(Unit, Unit.id == Member.unit_id)
        .where(expected, Member.id.not_in(accounted))
        .order_by(Member.number),
        "recent_rows": select(
            Member.name,
            Member.number,
            Attendance.status,
            Attendance.checked_in_at,
            Attendance.via,
        )
        .join(Member, Member.id == Attendance.member_id)
        .where(
            Attendance.meeting_id == bindparam("meeting_id"),
            Attendance.status.in_(("present", "late", "visitor")),
        )
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(bindparam("limit")),
        "recent": select(Attendance)
        .options(joinedload(Attendance.member))
        .where(
            Attendance.meeting_id == bindparam("meeting_id"),
            Attendance.status.in_(("present", "late", "visitor")),
        )
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(bindparam("limit")),
    }


def expected_members(s: Session, meeting: Meeting) -> list[Member]:
    query = _statements(_dialect(s))["expected"]
    return list(s.scalars(query, _unit_params(meeting)))


def close_checkin(s: Session, actor: Actor, meeting: Meeting) -> dict[str, int]:
    """Close check-in: everyone expected without a row is absent; attendees earn the points.

    The meeting row is locked first: a check-in writing meanwhile waits for the close (its
    attendance row's reference to the meeting needs a share of that lock on PostgreSQL) and
    is then decided against the closed meeting, so no one is both absent and present and no
    attendance misses its points. A second close waits and finds the meeting closed.

    Points are settled, not added (qrservice.life.points): closing a reopened meeting again
    gives each member exactly what their attendance earns, never the points twice.
    """
    from qrservice.life.points import MEETING_ROW_LOCK, settle_attendance_points  # reads ATTENDED

    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    if meeting.status == "closed":
        return {"absent": 0, "awarded": 0}
    now = utcnow()
    seen = set(s.scalars(select(Attendance.member_id).where(Attendance.meeting_id == meeting.id)))
    missing = [
        {
            "meeting_id": meeting.id, "member_id": member.id, "status": "absent",
            "via": "closing", "checked_in_at": now, "recorded_by": actor.label,
        }
        for member in expected_members(s, meeting)
        if member.id not in seen
    ]  # fmt: skip
    absent = 0
    if missing:
        insert = INSERT_ATTENDANCE[s.get_bind().dialect.name]
        absent = len(s.execute(insert, missing).all())
    meeting.status = "closed"
    meeting.closed_at = now
    settle_attendance_points(s, meeting, None, actor.label, locked=True)
    awarded = s.scalar(
        select(func.count()).where(
            Attendance.meeting_id == meeting.id, Attendance.status.in_(ATTENDED)
        )
    ) or 0
    record(
        s, actor, "meeting.close", "meeting", meeting.id,
        after={"absent": absent, "awarded": awarded},
    )  # fmt: skip
    return {"absent": absent, "awarded": awarded}


@dataclass(frozen=True)
class Counts:
    expected: int
    present: int
    late: int
    excused: int
    visitors: int
    missing: int

    def as_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def counts(s: Session, meeting: Meeting) -> Counts:
    statements = _statements(_dialect(s))
    params = _unit_params(meeting)
    conn = s.connection()  # Core statements: the ORM layer has nothing to add
    rows = dict(conn.execute(statements["by_status"], params).all())
    expected = conn.execute(statements["expected_count"], params).scalar()
    accounted = rows.get("present", 0) + rows.get("late", 0) + rows.get("excused", 0)
    accounted += rows.get("made_up", 0)
    return Counts(
        expected=expected or 0,
        present=rows.get("present", 0),
        late=rows.get("late", 0),
        excused=rows.get("excused", 0),
        visitors=rows.get("visitor", 0),
        missing=max(0, (expected or 0) - accounted),
    )


def missing_members(s: Session, meeting: Meeting) -> list[Member]:
    """Expected members with no check-in, leave or make-up yet (their units loaded)."""
    query = _statements(_dialect(s))["missing"]
    return list(s.scalars(query, _unit_params(meeting)).unique())


def missing_rows(s: Session, meeting: Meeting) -> list[Any]:
    """``missing_members`` as rows (id, name, number, unit: its unit's name), for the
    scanner's status call after every scan: Core rows cost a third of ORM objects."""
    return (
        s.connection()
        .execute(_statements(_dialect(s))["missing_rows"], _unit_params(meeting))
        .all()
    )


def recent_rows(s: Session, meeting: Meeting, limit: int = 20) -> list[Any]:
    """``recent_checkins`` as rows (name, number, status, checked_in_at, via): see above."""
    params = {"meeting_id": meeting.id, "limit": limit}
    return s.connection().execute(_statements(_dialect(s))["recent_rows"], params).all()


def recent_checkins(s: Session, meeting: Meeting, limit: int = 20) -> list[Attendance]:
    """The latest check-ins, their members loaded."""
    query = _statements(_dialect(s))["recent"]
    return list(s.scalars(query, {"meeting_id": meeting.id, "limit": limit}).unique())


def undo_last(
    s: Session, actor: Actor, meeting: Meeting, recorded_by: str | None = None
) -> Attendance | None:
    """Take back the most recent check-in of this meeting (a mistaken scan); with
    ``recorded_by``, the most recent one recorded by that officer or device.

    After check-in has closed (or while it is reopened) the member's points for the meeting
    are settled again: the taken-back attendance no longer earns them. The meeting row is
    locked first, as a close does, so an undo and a close never miss each other.
    """
    from qrservice.life.points import MEETING_ROW_LOCK, settle_attendance_points  # reads ATTENDED

    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    query = (
        select(Attendance)
        .where(
            Attendance.meeting_id == meeting.id,
            Attendance.status.in_(("present", "late", "visitor")),
            Attendance.via != "closing",
        )
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(1)
    )
    if recorded_by is not None:
        query = query.where(Attendance.recorded_by == recorded_by)
    last = s.scalars(query).first()
    if last is None:
        return None
    before = last.status
    last.status = "undone"
    s.flush()
    if meeting.closed_at is not None:
        settle_attendance_points(s, meeting, [last.member_id], actor.label, locked=True)
    record(
        s, actor, "attendance.undo", "member", last.member_id,
        before={"meeting": meeting.id, "status": before},
        after={"meeting": meeting.id, "status": "undone"},
    )  # fmt: skip
    return last


def open_meetings_for(s: Session, member: Member, now: datetime) -> list[Meeting]:
    """Open meetings this member is expected at."""
    units = [member.unit_id]
    if member.unit.parent_id:
        units.append(member.unit.parent_id)
    if member.unit.parent and member.unit.parent.parent_id:
        units.append(member.unit.parent.parent_id)
    if member.host_unit_id:
        units.append(member.host_unit_id)
    meetings = s.scalars(_OPEN_MEETINGS_OF_UNITS, {"units": units})
    return [m for m in meetings if window(m)[0] <= now <= window(m)[1]]


#: Built once: the card page asks it on every view by the member or an officer.
_OPEN_MEETINGS_OF_UNITS = (
    select(Meeting)
    .where(Meeting.status == "open", Meeting.unit_id.in_(bindparam("units", expanding=True)))
    .order_by(Meeting.starts_at)
)
