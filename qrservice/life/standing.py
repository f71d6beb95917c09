"""Where a member stands: this year's attendance and points, dues, and warnings.

The organisation's rule: six consecutive months without organisational life or without dues
counts as having left; a yellow warning comes at three months, a red one at six.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from qrservice.life.dues import DuesStatus, dues_status, months_between
from qrservice.life.meetings import ATTENDED
from qrservice.models import Attendance, Meeting, Member, PointsEntry

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


# One statement, built once (the card page runs it on every view; each statement costs more in
# SQLAlchemy than in SQLite): this year's attended and absent meetings and the last meeting
# attended, from the member's attendance, and the points of this year and in all.
_this_year = Meeting.starts_at >= bindparam("year_start")
_attended = Attendance.status.in_(ATTENDED)
_member_points = select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
    PointsEntry.member_id == bindparam("member_id")
)
_STANDING = (
    select(
        func.count().filter(_this_year, _attended).label("attended"),
        func.count().filter(_this_year, Attendance.status == "absent").label("absent"),
        func.max(case((_attended, Meeting.starts_at))).label("last_attended"),
        _member_points.where(PointsEntry.at >= bindparam("year_start"))
        .scalar_subquery()
        .label("points_year"),
        _member_points.scalar_subquery().label("points_total"),
    )
    .select_from(Attendance)
    .join(Meeting, Meeting.id == Attendance.meeting_id)
    .where(Attendance.member_id == bindparam("member_id"))
)


def member_standing(s: Session, member: Member, today: date, tracked_from: date) -> Standing:
    year_start = datetime(today.year, 1, 1)
    params = {"member_id": member.id, "year_start": year_start}
    row = s.connection().execute(_STANDING, params).one()  # Core: the ORM has nothing to add
    attended = row.attended
    expected = attended + row.absent  # approved leave does not count against
    points_year, points_total, last_attended = row.points_year, row.points_total, row.last_attended
    since = last_attended.date() if last_attended else max(member.joined_on, tracked_from)
    gap = max(0, months_between(since, today) - (1 if today.day < since.day else 0))
    dues = dues_status(s, member, today, tracked_from)
    worst = max(gap, dues.arrears_months)
    warning = "red" if worst >= RED_MONTHS else "yellow" if worst >= YELLOW_MONTHS else None
    return Standing(
        today.year, attended, expected, int(points_year), int(points_total), dues, gap, warning
    )
