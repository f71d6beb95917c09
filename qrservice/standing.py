"""Where a member stands: this year's attendance and points, dues, and warnings.

The organisation's rule: six consecutive months without organisational life or without dues
counts as having left; a yellow warning comes at three months, a red one at six.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .dues import DuesStatus, dues_status, months_between
from .meetings import ATTENDED
from .models import Attendance, Meeting, Member, PointsEntry

YELLOW_MONTHS = 3
RED_MONTHS = 6


@dataclass(frozen=True)
class Standing:
    year: int
    attended: int
    expected: int
    points_year: int
    points_total: int
    dues: DuesStatus
    months_without_meeting: int
    warning: str | None  # None, yellow or red

    @property
    def attendance_rate(self) -> int | None:
        return round(100 * self.attended / self.expected) if self.expected else None


# Built once (the card page runs them on every view); the member and year are parameters.
_ATTENDANCE_THIS_YEAR = (
    select(Attendance.status, func.count())
    .join(Meeting, Meeting.id == Attendance.meeting_id)
    .where(
        Attendance.member_id == bindparam("member_id"),
        Meeting.starts_at >= bindparam("year_start"),
        Attendance.status.in_(("present", "late", "made_up", "excused", "absent")),
    )
    .group_by(Attendance.status)
)
_year_points = func.sum(PointsEntry.points).filter(PointsEntry.at >= bindparam("year_start"))
_POINTS = select(
    func.coalesce(_year_points, 0), func.coalesce(func.sum(PointsEntry.points), 0)
).where(PointsEntry.member_id == bindparam("member_id"))
_LAST_ATTENDED = (
    select(func.max(Meeting.starts_at))
    .join(Attendance, Attendance.meeting_id == Meeting.id)
    .where(Attendance.member_id == bindparam("member_id"), Attendance.status.in_(ATTENDED))
)


def member_standing(s: Session, member: Member, today: date, tracked_from: date) -> Standing:
    year_start = datetime(today.year, 1, 1)
    params = {"member_id": member.id, "year_start": year_start}
    conn = s.connection()  # Core statements: the ORM layer has nothing to add
    rows = dict(conn.execute(_ATTENDANCE_THIS_YEAR, params).all())
    attended = sum(rows.get(k, 0) for k in ATTENDED)
    expected = attended + rows.get("absent", 0)  # approved leave does not count against
    points_year, points_total = conn.execute(_POINTS, params).one()
    last_attended = conn.execute(_LAST_ATTENDED, params).scalar()
    since = last_attended.date() if last_attended else max(member.joined_on, tracked_from)
    gap = max(0, months_between(since, today) - (1 if today.day < since.day else 0))
    dues = dues_status(s, member, today, tracked_from)
    worst = max(gap, dues.arrears_months)
    warning = "red" if worst >= RED_MONTHS else "yellow" if worst >= YELLOW_MONTHS else None
    return Standing(
        today.year, attended, expected, int(points_year), int(points_total), dues, gap, warning
    )
