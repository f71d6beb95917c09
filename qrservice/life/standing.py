"""Where a member stands: this year's attendance and points, dues, and warnings with causes.

The organisation's rule: six consecutive months without organisational life or without dues
counts as having left; a yellow warning comes at three months, a red one at six. A warning
names its causes with their dates: the last meeting attended (or when the member came under
watch, if never) and the first month in arrears.

Cancelled meetings count for nothing. ``member_standing`` serves one member (the card page,
the officer's member page); ``standings`` serves a list of members (who needs attention) in a
fixed number of queries, whatever the number of members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from qrservice.life.dues import DuesStatus, dues_status, dues_statuses
from qrservice.life.meetings import ATTENDED
from qrservice.models import Attendance, Meeting, Member, PointsEntry
from qrservice.timeutil import months_between

YELLOW_MONTHS = 3
RED_MONTHS = 6


@dataclass(frozen=True)
class Cause:
    """Why a member is warned: ``meetings`` (no organisational life since ``since``) or
    ``dues`` (unpaid since the month ``since``), for ``months`` months."""

    kind: str
    since: date
    months: int


@dataclass(frozen=True)
class Standing:
    year: int
    attended: int
    expected: int
    points_year: int
    points_total: int
    dues: DuesStatus
    #: The day of the last meeting attended, or None if never.
    last_attended: date | None
    months_without_meeting: int
    warning: str | None  # None, yellow or red
    #: What the warning is about, worst first; empty without a warning.
    causes: tuple[Cause, ...] = ()

    @property
    def attendance_rate(self) -> int | None:
        return round(100 * self.attended / self.expected) if self.expected else None


def warning_for(months: int) -> str | None:
    return "red" if months >= RED_MONTHS else "yellow" if months >= YELLOW_MONTHS else None


def _whole_months(since: date, today: date) -> int:
    """Whole months from ``since`` to ``today`` (10 March to 9 June is 2, to 10 June is 3)."""
    return max(0, months_between(since, today) - (1 if today.day < since.day else 0))


def _standing(member: Member, today: date, row: Any, points: Any, dues: DuesStatus) -> Standing:
    attended = row.attended if row else 0
    absent = row.absent if row else 0
    last = row.last_attended.date() if row and row.last_attended else None
    excused = row.last_excused.date() if row and row.last_excused else None
    since = max(d for d in (last, excused) if d) if last or excused else None
    since = since or max(member.joined_on, dues.tracked_from or member.joined_on)
    gap = _whole_months(since, today) if since <= today else 0
    causes = []
    if warning_for(gap):
        causes.append(Cause("meetings", since, gap))
    if warning_for(dues.arrears_months) and dues.first_arrears_month is not None:
        causes.append(Cause("dues", dues.first_arrears_month, dues.arrears_months))
    causes.sort(key=lambda c: -c.months)
    return Standing(
        year=today.year,
        attended=attended,
        expected=attended + absent,  # approved leave does not count against
        points_year=int(points.points_year) if points else 0,
        points_total=int(points.points_total) if points else 0,
        dues=dues,
        last_attended=last,
        months_without_meeting=gap,
        warning=warning_for(max(gap, dues.arrears_months)),
        causes=tuple(causes),
    )


# Built once (the card page runs them on every view): attended and absent meetings this year
# and the last meeting attended; cancelled meetings count for nothing.
_this_year = Meeting.starts_at >= bindparam("year_start")
_attended = Attendance.status.in_(ATTENDED)
_ATTENDANCE_COLUMNS = (
    func.count().filter(_this_year, _attended).label("attended"),
    func.count().filter(_this_year, Attendance.status == "absent").label("absent"),
    func.max(case((_attended, Meeting.starts_at))).label("last_attended"),
    # Approved leave (请假) is not a month without organisational life: it restarts the gap.
    func.max(case((Attendance.status == "excused", Meeting.starts_at))).label("last_excused"),
)
_COUNTED = (Attendance.member_id.in_(bindparam("member_ids", expanding=True)),
            Meeting.status != "cancelled")  # fmt: skip
#: Per member of a list.
_ATTENDANCE = (
    select(Attendance.member_id, *_ATTENDANCE_COLUMNS)
    .join(Meeting, Meeting.id == Attendance.meeting_id)
    .where(*_COUNTED)
    .group_by(Attendance.member_id)
)
_POINTS = (
    select(
        PointsEntry.member_id,
        func.coalesce(
            func.sum(case((PointsEntry.at >= bindparam("year_start"), PointsEntry.points))), 0
        ).label("points_year"),
        func.sum(PointsEntry.points).label("points_total"),
    )
    .where(PointsEntry.member_id.in_(bindparam("member_ids", expanding=True)))
    .group_by(PointsEntry.member_id)
)
#: One member's attendance and points in one statement: the card page's share of the work.
_member_points = select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
    PointsEntry.member_id.in_(bindparam("member_ids", expanding=True))
)
_ONE = (
    select(
        *_ATTENDANCE_COLUMNS,
        _member_points.where(PointsEntry.at >= bindparam("year_start"))
        .scalar_subquery()
        .label("points_year"),
        _member_points.scalar_subquery().label("points_total"),
    )
    .select_from(Attendance)
    .join(Meeting, Meeting.id == Attendance.meeting_id)
    .where(*_COUNTED)
)


def standings(s: Session, members: Sequence[Member], today: date) -> dict[int, Standing]:
    """Each member's standing by id, in four statements (two of them dues') however many
    members there are."""
    if not members:
        return {}
    ids = [m.id for m in members]
    params = {"member_ids": ids, "year_start": datetime(today.year, 1, 1)}
    conn = s.connection()  # Core rows: the ORM has nothing to add
    rows = {r.member_id: r for r in conn.execute(_ATTENDANCE, params)}
    points = {r.member_id: r for r in conn.execute(_POINTS, params)}
    dues = dues_statuses(s, ids, today)
    return {
        m.id: _standing(m, today, rows.get(m.id), points.get(m.id), dues[m.id]) for m in members
    }


def member_standing(s: Session, member: Member, today: date) -> Standing:
    params = {"member_ids": [member.id], "year_start": datetime(today.year, 1, 1)}
    row = s.connection().execute(_ONE, params).one()
    return _standing(member, today, row, row, dues_status(s, member, today))
