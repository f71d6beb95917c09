"""A branch's board for a period (电子方针管理板): its measures against targets, 三会一课
compliance, attendance per kind and over 12 months, dues, points and the monthly assessment,
warned members with their causes, the month's political birthdays and what waits on the
branch (leave, make-up, transfers, traces).

Every part is one or a few statements whatever the branch's size (a test holds the count of a
200-member branch to that of a 20-member one).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from qrservice.boards.figures import Board, PointsFigures, Rate, TrendPoint
from qrservice.boards.measures import attendance_by_kind_and_month, branch_measures
from qrservice.boards.periods import Period
from qrservice.boards.targets import target_checks
from qrservice.life.assessment import assess
from qrservice.life.attention import AttentionFilter, attention_list
from qrservice.life.birthdays import month_birthdays
from qrservice.life.requests import pending_leave, pending_makeup
from qrservice.life.trace import overdue_traces
from qrservice.models import MEETING_KINDS, Member, PointsEntry, Transfer, Unit
from qrservice.org.organisation import current_organisation
from qrservice.org.units import in_subtree
from qrservice.timeutil import add_months, from_local, local_time, month_start, utcnow

TREND_MONTHS = 12
#: Points bands of the distribution: (lowest, highest or None).
POINTS_BANDS = ((None, 0), (1, 4), (5, 9), (10, 19), (20, None))
TOP = 10


def _band_label(low: int | None, high: int | None) -> str:
    if low is None:
        return f"≤{high}"
    if high is None:
        return f"≥{low}"
    return f"{low}–{high}"


def _points(
    s: Session, branch: Unit, period: Period, members: int, rankings: bool
) -> PointsFigures:
    """Points of the period per active member of the branch: total, bands, top contributors."""
    per_member = (
        select(Member.name, func.coalesce(func.sum(PointsEntry.points), 0).label("points"))
        .join(Unit, Unit.id == Member.unit_id)
        .outerjoin(
            PointsEntry,
            (PointsEntry.member_id == Member.id)
            & (PointsEntry.at >= period.starts_at)
            & (PointsEntry.at < period.ends_at),
        )
        .where(Member.active.is_(True), in_subtree(branch))
        .group_by(Member.id, Member.name, Member.number)
        .order_by(Member.number)
    )
    rows = [(name, int(points)) for name, points in s.execute(per_member)]
    bands = []
    for low, high in POINTS_BANDS:
        n = sum(1 for _name, p in rows if (low is None or p >= low) and (high is None or p <= high))
        bands.append((_band_label(low, high), n))
    top = sorted((r for r in rows if r[1] > 0), key=lambda r: -r[1])[:TOP] if rankings else []
    return PointsFigures(
        total=sum(p for _n, p in rows), members=members, distribution=tuple(bands), top=tuple(top)
    )


def _pending_transfers(s: Session, branch: Unit) -> list[Transfer]:
    inside = select(Unit.id).where(in_subtree(branch))
    return list(
        s.scalars(
            select(Transfer)
            .where(
                Transfer.status.in_(("requested", "released")),
                or_(Transfer.from_unit_id.in_(inside), Transfer.to_unit_id.in_(inside)),
            )
            .options(
                selectinload(Transfer.member),
                selectinload(Transfer.from_unit),
                selectinload(Transfer.to_unit),
            )
            .order_by(Transfer.started_at)
        )
    )


def _last_month(period: Period, today: date) -> date:
    """The month a board's month-bound parts read: the period's last, or this one if sooner."""
    return min(add_months(period.end, -1), month_start(today))


def branch_board(s: Session, branch: Unit, period: Period, today: date) -> Board:
    org = current_organisation(s)
    rankings = bool(org.rankings_enabled) if org is not None else False
    measures = branch_measures(s, [branch], period, today, warnings=False, targets=False)[branch.id]

    # Attendance per kind in the period, and per local month over the trend's 12 months.
    last = add_months(period.end, -1)
    trend_start = add_months(last, -(TREND_MONTHS - 1))
    first = min(trend_start, period.start)
    rows = attendance_by_kind_and_month(
        s,
        branch,
        from_local(datetime.combine(first, time.min)),
        from_local(datetime.combine(period.end, time.min)),
    )
    by_kind: dict[str, Rate] = {}
    by_month: dict[date, Rate] = {}
    for r in rows:
        one = Rate(r.attended, r.absent, r.excused, 1)
        month = month_start(local_time(r.starts_at).date())
        if period.contains(month):
            by_kind[r.kind] = by_kind.get(r.kind, Rate()) + one
        if month >= trend_start:
            by_month[month] = by_month.get(month, Rate()) + one
    trend = [
        TrendPoint(m, by_month.get(m, Rate()))
        for m in (add_months(trend_start, k) for k in range(TREND_MONTHS))
    ]

    # Warned members as the attention list shows them (their standings, 4 statements).
    attention = attention_list(s, branch, AttentionFilter("all"), today)
    warned = [r for r in attention.rows if r.standing.warning]
    measures.red = sum(1 for r in warned if r.standing.warning == "red")
    measures.yellow = len(warned) - measures.red
    # Owed today, over every member in arrears (the attention list holds them all).
    owed = sum(r.standing.dues.owed_fen for r in attention.rows if "arrears" in r.reasons)
    measures.dues = replace(measures.dues, owed_fen=owed)
    measures.points = _points(s, branch, period, measures.members, rankings)
    target_checks(s, {branch.id: measures}, period)
    month = _last_month(period, today)
    return Board(
        unit=branch,
        period=period,
        today=today,
        measures=measures,
        by_kind={k: by_kind[k] for k in MEETING_KINDS if k in by_kind},
        trend=trend,
        assessment=assess(s, branch, month),
        warned=warned,
        birthdays=month_birthdays(s, branch, month),
        pending_leave=pending_leave(s, branch),
        pending_makeup=pending_makeup(s, branch),
        pending_transfers=_pending_transfers(s, branch),
        untraced=[
            m
            for m in overdue_traces(s, branch, utcnow())
            if period.starts_at <= m.starts_at < period.ends_at
        ],
    )
