"""Meetings: create, edit, cancel and delete, open and close check-in, who is expected, the
live counts, and the lists of a unit's meetings (by month, and a member's coming ones).

A cancelled meeting expects no one and counts for nothing; a branch committee meeting (支委会)
expects the branch's office holders only. Plans (many meetings in one step) are in
``qrservice.life.meeting_plans``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, exists, false, func, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload

from qrservice import timeutil
from qrservice.audit import Actor, record
from qrservice.models import (
    MEETING_KINDS,
    MEETING_STATUSES,
    UNIT_ROLES,
    Attendance,
    Meeting,
    Member,
    ScannerDevice,
    Unit,
    UnitRole,
)
from qrservice.timeutil import from_local, local_time, shifted, utcnow

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
#: The offices of a branch committee (支委): a branch committee meeting expects their holders.
BRANCH_COMMITTEE_ROLES = tuple(role for role in UNIT_ROLES if role != "group_leader")
#: What may still change once check-in has opened: the rest is what attendance was taken for.
EDITABLE_ONCE_OPENED = ("title", "place")
#: How long a cancellation's reason may be.
REASON_MAX = 200
#: How far ahead the card page and the landing page look for coming meetings.
UPCOMING = timedelta(days=30)
#: Locks the meeting row alone, however it was loaded (FOR UPDATE OF meeting): a plain FOR
#: UPDATE would lock an outer-joined unit too, which PostgreSQL refuses.
ROW_LOCK = {"of": Meeting}


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
    if len((f.place or "").strip()) > 200:
        errors["place"] = _("At most 200 characters.")
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
    elif f.kind == "branch_committee" and f.unit.kind != "branch":
        errors["unit"] = _("A branch committee meeting belongs to a branch.")
    elif f.unit.closed_at is not None:
        errors["unit"] = _("This unit is closed.")
    if errors:
        raise MeetingError(errors)


def create_meeting(s: Session, actor: Actor, f: MeetingFields) -> Meeting:
    check_fields(f)
    meeting = new_meeting(actor, f)
    s.add(meeting)
    s.flush()
    record(s, actor, "meeting.create", "meeting", meeting.id, after={"title": meeting.title})
    return meeting


def new_meeting(actor: Actor, f: MeetingFields, plan_id: int | None = None) -> Meeting:
    """A scheduled meeting of checked fields, not yet added to a session."""
    return Meeting(
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
        plan_id=plan_id,
        created_by=actor.label,
        created_at=utcnow(),
    )


def fields_of(meeting: Meeting) -> MeetingFields:
    """The meeting's fields as they stand, to change some of them with ``replace``."""
    return MeetingFields(
        unit=meeting.unit,
        kind=meeting.kind,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        place=meeting.place,
        remote_allowed=meeting.remote_allowed,
        points=meeting.points,
        late_after_min=meeting.late_after_min,
        opens_before_min=meeting.opens_before_min,
        closes_after_min=meeting.closes_after_min,
    )


def has_opened(meeting: Meeting) -> bool:
    """Whether check-in was ever opened (then attendance was taken on its fields)."""
    return meeting.status != "scheduled" or meeting.opened_at is not None


def _audit_value(value: Any) -> Any:
    return value.code if isinstance(value, Unit) else value


def update_meeting(s: Session, actor: Actor, meeting: Meeting, f: MeetingFields) -> dict[str, Any]:
    """Change a meeting's fields; returns the changed ones (name → new value).

    Before check-in ever opened every field may change, checked as at creation; afterwards
    only the title and the place (anything else changed is refused, on its field). A
    cancelled meeting does not change.
    """
    if meeting.status == "cancelled":
        raise MeetingError({"status": _("A cancelled meeting cannot be changed.")})
    current = fields_of(meeting)
    changed = {
        name: getattr(f, name)
        for name in MeetingFields.__dataclass_fields__
        if getattr(f, name) != getattr(current, name)
    }
    if "title" in changed:
        changed["title"] = f.title.strip()
    if "place" in changed:
        changed["place"] = (f.place or "").strip() or None
    changed = {k: v for k, v in changed.items() if v != getattr(current, k)}
    if has_opened(meeting):
        refused = [name for name in changed if name not in EDITABLE_ONCE_OPENED]
        if refused:
            message = _("Check-in has opened: only the title and the place can change.")
            raise MeetingError(dict.fromkeys(refused, message))
    check_fields(f)
    if not changed:
        return {}
    before = {name: _audit_value(getattr(current, name)) for name in changed}
    for name, value in changed.items():
        if name == "unit":
            meeting.unit_id = value.id
        setattr(meeting, name, value)
    meeting.screen_code_ttl = 180 if meeting.remote_allowed else 30
    s.flush()
    after = {name: _audit_value(value) for name, value in changed.items()}
    record(s, actor, "meeting.update", "meeting", meeting.id, before=before, after=after)
    return changed


def cancel_meeting(s: Session, actor: Actor, meeting: Meeting, reason: str) -> None:
    """Cancel a scheduled or open meeting, with the reason: it then expects no one, takes no
    check-in and counts for nothing (its check-ins stay, as a record). A closed meeting is
    not cancelled: its attendance is corrected instead.

    The meeting row is locked first, as at closing: a check-in writing meanwhile waits, then
    finds the meeting cancelled.
    """
    reason = " ".join(reason.split())
    errors = {}
    if not 1 <= len(reason) <= REASON_MAX:
        errors["reason"] = _("A reason of 1 to %(n)d characters is required.", n=REASON_MAX)
    s.refresh(meeting, with_for_update=ROW_LOCK)
    if meeting.status == "closed":
        errors["status"] = _(
            "This meeting is closed and cannot be cancelled; correct its attendance instead."
        )
    elif meeting.status == "cancelled":
        errors["status"] = _("This meeting is already cancelled.")
    if errors:
        raise MeetingError(errors)
    before = meeting.status
    meeting.status = "cancelled"
    meeting.cancelled_at = utcnow()
    meeting.cancelled_by = actor.label
    meeting.cancel_reason = reason
    s.flush()
    from qrservice.life.points import settle_attendance_points

    settle_attendance_points(s, meeting, None, actor.label, locked=True)
    record(
        s, actor, "meeting.cancel", "meeting", meeting.id,
        before={"status": before}, after={"status": "cancelled", "reason": reason},
    )  # fmt: skip


def deletion_problem(s: Session, meeting: Meeting) -> str | None:
    """Why this meeting cannot be deleted, or None: only one that never opened, with no
    attendance and no scanner device paired to it, may go; any other is cancelled."""
    if has_opened(meeting):
        return _("Check-in of this meeting has opened: cancel it instead.")
    if s.scalar(select(exists().where(Attendance.meeting_id == meeting.id))):
        return _("This meeting has attendance records: cancel it instead.")
    if s.scalar(select(exists().where(ScannerDevice.meeting_id == meeting.id))):
        return _("A scanner device is paired to this meeting: cancel it instead.")
    return None


def delete_meeting(s: Session, actor: Actor, meeting: Meeting) -> None:
    """Delete a meeting that never opened; the audit trail keeps its title."""
    s.refresh(meeting, with_for_update=ROW_LOCK)
    if problem := deletion_problem(s, meeting):
        raise MeetingError({"meeting": problem})
    before = {
        "title": meeting.title,
        "unit": meeting.unit.code,
        "starts_at": meeting.starts_at,
        "kind": meeting.kind,
    }
    meeting_id = meeting.id
    s.delete(meeting)
    s.flush()
    record(s, actor, "meeting.delete", "meeting", meeting_id, before=before)


def open_checkin(s: Session, actor: Actor, meeting: Meeting) -> None:
    if meeting.status == "open":
        return
    if meeting.status == "cancelled":
        raise MeetingError({"status": _("This meeting was cancelled.")})
    if meeting.status == "closed":
        # One way back into a closed meeting: reopening, confirmed and in the trail.
        raise MeetingError(
            {"status": _("Check-in of this meeting is closed: reopen it from its attendance page.")}
        )
    meeting.status = "open"
    meeting.opened_at = meeting.opened_at or utcnow()
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


def _office_holders(unit_id: Any) -> Any:
    """Active members holding a branch committee office in the unit (a 支委会's expected)."""
    holders = select(UnitRole.member_id).where(
        UnitRole.unit_id == unit_id, UnitRole.role.in_(BRANCH_COMMITTEE_ROLES)
    )
    return and_(Member.active.is_(True), Member.id.in_(holders))


def expects(meeting: Meeting) -> str:
    """Whom a meeting expects: "no_one" (cancelled), "office_holders" (a branch committee
    meeting: the branch's committee) or "unit" (its unit's subtree and hosted members)."""
    if meeting.status == "cancelled":
        return "no_one"
    return "office_holders" if meeting.kind == "branch_committee" else "unit"


def meeting_expected_filter(meeting: Meeting, dialect: str | None = None) -> Any:
    """The members ``meeting`` expects, as a filter on Member (see ``expects``)."""
    who = expects(meeting)
    if who == "no_one":
        return false()
    if who == "office_holders":
        return _office_holders(meeting.unit_id)
    return expected_filter(meeting.unit.path, meeting.unit_id, dialect)


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


def _statements_of(s: Session, meeting: Meeting) -> dict[str, Any] | None:
    """The live-count statements for whom this meeting expects; None when it expects no one."""
    who = expects(meeting)
    if who == "no_one":
        return None
    return _statements(_dialect(s), office_holders=who == "office_holders")


@cache
def _statements(dialect: str, office_holders: bool = False) -> dict[str, Any]:
    """The live-count statements, built once per dialect and kind of expected list (the
    scanner polls them after every scan); the meeting and its unit are parameters."""
    if office_holders:
        expected = _office_holders(bindparam("unit_id"))
    else:
        expected = _expected(
            bindparam("path"), bindparam("path_end"), bindparam("unit_id"), dialect
        )
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
    statements = _statements_of(s, meeting)
    if statements is None:
        return []
    return list(s.scalars(statements["expected"], _unit_params(meeting)))


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
    awarded = (
        s.scalar(
            select(func.count()).where(
                Attendance.meeting_id == meeting.id, Attendance.status.in_(ATTENDED)
            )
        )
        or 0
    )
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
    """The live counts; a cancelled meeting expects no one (its check-ins still show)."""
    statements = _statements_of(s, meeting)
    params = _unit_params(meeting)
    conn = s.connection()  # Core statements: the ORM layer has nothing to add
    rows = dict(conn.execute(_statements(_dialect(s))["by_status"], params).all())
    if statements is None:
        rows = {k: v for k, v in rows.items() if k in ("present", "late", "visitor")}
        return Counts(0, rows.get("present", 0), rows.get("late", 0), 0,
                      rows.get("visitor", 0), 0)  # fmt: skip
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
    statements = _statements_of(s, meeting)
    if statements is None:
        return []
    return list(s.scalars(statements["missing"], _unit_params(meeting)).unique())


def missing_rows(s: Session, meeting: Meeting) -> list[Any]:
    """``missing_members`` as rows (id, name, number, unit: its unit's name), for the
    scanner's status call after every scan: Core rows cost a third of ORM objects."""
    statements = _statements_of(s, meeting)
    if statements is None:
        return []
    return s.connection().execute(statements["missing_rows"], _unit_params(meeting)).all()


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

    The member's points for the meeting are settled again: a taken-back attendance earns
    nothing, so points a close gave are reversed (after closing, or while reopened). The
    meeting row is locked first, as a close does, so an undo and a close never miss each other.
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


@dataclass(frozen=True)
class CardMeetings:
    """A member's meetings for their card page: check-in open now, and coming ones."""

    open_now: list[Meeting]
    upcoming: list[Meeting]


def card_meetings(s: Session, member: Member, now: datetime) -> CardMeetings:
    """The meetings of the member's units (home, its branch, host) that the member is expected
    at and that are open now or scheduled to start within ``UPCOMING``: one query, by unit.

    Cancelled and closed meetings are left out; a branch committee meeting shows only to
    the branch's office holders.
    """
    units = [member.unit_id]
    if member.unit.parent_id:
        units.append(member.unit.parent_id)
    if member.host_unit_id:
        units.append(member.host_unit_id)
    params = {"units": units, "member_id": member.id, "now": now, "until": now + UPCOMING}
    meetings = list(s.scalars(_CARD_MEETINGS, params))
    open_now = [m for m in meetings if m.status == "open" and window(m)[0] <= now <= window(m)[1]]
    upcoming = [m for m in meetings if m.status == "scheduled" or now <= window(m)[1]]
    return CardMeetings(open_now, upcoming)


#: Built once, like _OPEN_MEETINGS_OF_UNITS: the card page asks it on every unlocked view.
_CARD_MEETINGS = (
    select(Meeting)
    .where(
        Meeting.unit_id.in_(bindparam("units", expanding=True)),
        Meeting.status.in_(("open", "scheduled")),
        or_(
            Meeting.status == "open",
            and_(Meeting.starts_at >= bindparam("now"), Meeting.starts_at < bindparam("until")),
        ),
        or_(
            Meeting.kind != "branch_committee",
            exists().where(
                UnitRole.unit_id == Meeting.unit_id,
                UnitRole.member_id == bindparam("member_id"),
                UnitRole.role.in_(BRANCH_COMMITTEE_ROLES),
            ),
        ),
    )
    .order_by(Meeting.starts_at, Meeting.id)
)


def _in_scope(scope: Unit) -> Any:
    return Unit.path.startswith(scope.path, autoescape=True)


def coming_meetings(s: Session, scope: Unit, now: datetime, limit: int = 20) -> list[Meeting]:
    """The scope's meetings open now, then those scheduled from today (local) on to
    ``UPCOMING`` ahead, in the order they start: an officer's landing page."""
    today = from_local(datetime.combine(local_time(now).date(), datetime.min.time()))
    return list(
        s.scalars(
            select(Meeting)
            .join(Meeting.unit)
            .where(
                _in_scope(scope),
                or_(
                    Meeting.status == "open",
                    and_(
                        Meeting.status == "scheduled",
                        Meeting.starts_at >= today,
                        Meeting.starts_at < now + UPCOMING,
                    ),
                ),
            )
            .order_by((Meeting.status != "open"), Meeting.starts_at, Meeting.id)
            .limit(limit)
        )
    )


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The stored (UTC) times from the first local moment of ``month`` to that of the next."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    midnight = datetime.min.time()
    return (
        from_local(datetime.combine(month.replace(day=1), midnight)),
        from_local(datetime.combine(following, midnight)),
    )


def parse_month(text: str) -> date | None:
    """A month as people write it (``YYYY-MM``, 2026年1月, …) as its first day, or None."""
    try:
        month = timeutil.parse_month(text)
    except ValueError:
        return None
    return month if FIRST_MEETING_YEAR <= month.year <= 9998 else None


@dataclass(frozen=True)
class MeetingFilter:
    """Which of a scope's meetings to list: every field narrows; None leaves it open."""

    unit: Unit | None = None
    kind: str | None = None
    state: str | None = None
    #: Stored (UTC) start times from (inclusive) and before (exclusive).
    starts_from: datetime | None = None
    starts_before: datetime | None = None


@dataclass(frozen=True)
class MeetingPage:
    items: list[Meeting]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _filtered(scope: Unit, filt: MeetingFilter) -> Any:
    query = select(Meeting).join(Meeting.unit).where(_in_scope(scope))
    if filt.unit is not None:
        query = query.where(_in_scope(filt.unit))
    if filt.kind is not None:
        query = query.where(Meeting.kind == filt.kind)
    if filt.state is not None:
        query = query.where(Meeting.status == filt.state)
    if filt.starts_from is not None:
        query = query.where(Meeting.starts_at >= filt.starts_from)
    if filt.starts_before is not None:
        query = query.where(Meeting.starts_at < filt.starts_before)
    return query


def find_meetings(
    s: Session, scope: Unit, filt: MeetingFilter, page: int = 1, per_page: int = 50
) -> MeetingPage:
    """The scope's meetings matching ``filt`` in the order they start, a page at a time."""
    query = _filtered(scope, filt)
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = s.scalars(
        query.options(joinedload(Meeting.unit))
        .order_by(Meeting.starts_at, Meeting.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return MeetingPage(list(items), total, page, per_page)


def meetings_between(s: Session, scope: Unit, filt: MeetingFilter) -> list[Meeting]:
    """Every meeting matching ``filt`` (a calendar's month: a bounded period), in order."""
    return list(
        s.scalars(
            _filtered(scope, filt)
            .options(joinedload(Meeting.unit))
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )


@dataclass(frozen=True)
class CalendarDay:
    day: date
    in_month: bool
    meetings: list[Meeting]


def month_calendar(month: date, meetings: list[Meeting]) -> list[list[CalendarDay]]:
    """Weeks (Monday to Sunday) covering ``month``, each day with its meetings by local date."""
    by_day: dict[date, list[Meeting]] = {}
    for meeting in meetings:
        by_day.setdefault(local_time(meeting.starts_at).date(), []).append(meeting)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    return [
        [CalendarDay(day, day.month == month.month, by_day.get(day, [])) for day in week]
        for week in weeks
    ]


#: The states a meeting can be in, in the order of its life.
STATES = MEETING_STATUSES
