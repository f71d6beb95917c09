"""A period's measures for any number of branches, counted by the database.

Each measure is one grouped statement over the subtree that holds the branches, whatever the
number of branches or members: members, dues and warnings per home unit; attendance per
meeting unit and kind; payments and points per home unit. Python only folds groups into their
branch. What counts:

- attendance: closed meetings starting in the period (an open meeting's record is not final;
  cancelled ones count for nothing): present, late and made up over those plus absent; leave
  is neither;
- dues: members owing for a month of the period (up to this month); settled when every such
  month is paid or exempt; in arrears when a past owed month is not fully paid; collected is
  what live payments brought in the period, by the day paid;
- points: every ledger line of the period, over the branch's active members;
- warnings: as the member's page says them (qrservice.life.standing): yellow at three months
  without organisational life or dues, red at six, today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session

from qrservice.boards.figures import BranchMeasures, DuesFigures, PointsFigures, Rate
from qrservice.boards.periods import Period
from qrservice.life.dues import org_dues_start
from qrservice.life.dues_settled import (
    arrears_months,
    dues_start_index,
    in_arrears,
    owes_between,
    settled_through,
)
from qrservice.life.meetings import ATTENDED
from qrservice.life.standing import RED_MONTHS, YELLOW_MONTHS
from qrservice.models import Attendance, DuesPayment, Meeting, Member, PointsEntry, Unit
from qrservice.org.units import in_subtree
from qrservice.timeutil import add_months, month_number, month_start, same_day_months_later

#: Organisational life that restarts the warning clock: attending, or approved leave.
LIFE = (*ATTENDED, "excused")


def branch_of_units(s: Session, within: Unit, branches: Iterable[Unit]) -> dict[int, int]:
    """unit id → the branch (of ``branches``) it belongs to: the branch itself and its groups."""
    wanted = {b.id for b in branches}
    rows = s.execute(select(Unit.id, Unit.parent_id).where(in_subtree(within))).all()
    out = {}
    for unit_id, parent_id in rows:
        if unit_id in wanted:
            out[unit_id] = unit_id
        elif parent_id in wanted:
            out[unit_id] = parent_id
    return out


def warning_cut(today: date, months: int) -> date:
    """The last day a warning clock may have started for ``months`` whole months to have run
    by ``today`` (qrservice.life.standing counts 10 March to 10 June as three)."""
    return same_day_months_later(today, -months)


def _life_since(cut: date | None, member_id: Any = None) -> Any:
    """Members with organisational life in a meeting starting after the day ``cut`` (as the
    member's page reads the stored start; None: ever): membership of the set of such members,
    or, given the column of one ``member_id``, an EXISTS for that member."""
    life = (
        select(Attendance.member_id)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .where(Meeting.status != "cancelled", Attendance.status.in_(LIFE))
    )
    if cut is not None:
        life = life.where(
            Meeting.starts_at >= datetime.combine(cut + timedelta(days=1), datetime.min.time())
        )
    if member_id is not None:
        return life.where(Attendance.member_id == member_id).exists()
    return Member.id.in_(life.distinct())


def _clock_started(today: date, months: int, org_start: date | None) -> Any:
    """SQL: the member came under watch (joined, and owes dues) early enough for ``months``
    whole months to have run by ``today``."""
    cut = warning_cut(today, months)
    started = Member.joined_on <= cut
    if org_start is None:
        return started
    return and_(started, dues_start_index(org_start) <= month_number(cut))


def _member_counts(
    s: Session, within: Unit, period: Period, today: date, *, warnings: bool
) -> list[Any]:
    """Per home unit: active members, dues owing/settled/in arrears and (for ``warnings``)
    members warned red and yellow today.

    Each member's facts are worked out once, in a materialised CTE, then counted: written
    inline, the engine would evaluate each correlated subquery once per count using it."""
    org_start = org_dues_start(s)
    this_month = month_start(today)
    last = min(add_months(period.end, -1), this_month)
    facts: list[Any] = [Member.unit_id]
    if org_start is not None and period.start <= last:
        facts += [
            owes_between(org_start, period.start, last).label("owes"),
            settled_through(org_start, period.start, last).label("settled"),
        ]
    if org_start is not None:
        facts.append(in_arrears(org_start, min(period.end, this_month)).label("arrears"))
    if warnings:
        facts += [
            _clock_started(today, months, org_start).label(f"watched_{months}")
            for months in (YELLOW_MONTHS, RED_MONTHS)
        ]
        # Life in the last three months: one pass over those meetings' attendance. Only the
        # few members without it are looked up, one by one, for the last six (below).
        facts += [
            Member.id.label("id"),
            _life_since(warning_cut(today, YELLOW_MONTHS)).label("recent"),
        ]
        if org_start is not None:
            # Counted only for the few members in arrears at all (a cheap EXISTS first).
            facts.append(
                case(
                    (in_arrears(org_start, this_month), arrears_months(org_start, this_month)),
                    else_=0,
                ).label("arrears_months")
            )
    member = (
        select(*facts)
        .join(Unit, Unit.id == Member.unit_id)
        .where(Member.active.is_(True), in_subtree(within))
        .cte("member_facts")
        .prefix_with("MATERIALIZED")
    )
    c = member.c
    columns: list[Any] = [c.unit_id, func.count().label("members")]
    if "owes" in c:
        columns += [
            func.count().filter(c.owes).label("owing"),
            func.count().filter(c.owes, c.settled).label("settled"),
        ]
    if "arrears" in c:
        columns.append(func.count().filter(c.arrears).label("arrears"))
    if warnings:
        life = {
            YELLOW_MONTHS: c.recent,
            RED_MONTHS: case(
                (c.recent, true()),
                else_=_life_since(warning_cut(today, RED_MONTHS), member_id=c.id),
            ),
        }

        def warned(months: int) -> Any:
            # Without life since the cut-off, the clock runs from the last life before it, or,
            # for a member with none ever, from when they came under watch (as the member's
            # page counts it).
            no_life = case(
                (life[months], false()),
                else_=or_(c[f"watched_{months}"], _life_since(None, member_id=c.id)),
            )
            if "arrears_months" in c:
                return or_(no_life, c.arrears_months >= months)
            return no_life

        red, yellow = warned(RED_MONTHS), warned(YELLOW_MONTHS)
        columns += [
            func.count().filter(red).label("red"),
            func.count().filter(yellow, ~red).label("yellow"),
        ]
    return list(s.execute(select(*columns).group_by(c.unit_id)))


def _attendance_rows(s: Session, within: Unit, start: datetime, end: datetime) -> list[Any]:
    """Per meeting unit and kind: closed meetings starting in [start, end) and their counts
    (counted per meeting first, from the attendance index alone)."""
    status = Attendance.status
    per_meeting = (
        select(
            Attendance.meeting_id,
            func.count().filter(status.in_(ATTENDED)).label("attended"),
            func.count().filter(status == "absent").label("absent"),
            func.count().filter(status == "excused").label("excused"),
        )
        .where(
            Attendance.meeting_id.in_(
                select(Meeting.id).where(
                    Meeting.status == "closed",
                    Meeting.starts_at >= start,
                    Meeting.starts_at < end,
                    Meeting.unit_id.in_(select(Unit.id).where(in_subtree(within))),
                )
            )
        )
        .group_by(Attendance.meeting_id)
        .subquery("per_meeting")
    )
    query = (
        select(
            Meeting.unit_id,
            Meeting.kind,
            func.count().label("meetings"),
            func.sum(per_meeting.c.attended).label("attended"),
            func.sum(per_meeting.c.absent).label("absent"),
            func.sum(per_meeting.c.excused).label("excused"),
        )
        .join(per_meeting, per_meeting.c.meeting_id == Meeting.id)
        .group_by(Meeting.unit_id, Meeting.kind)
    )
    return list(s.execute(query))


def _active_members_of(within: Unit) -> Any:
    """The ids of the active members of ``within``'s subtree (what the sums start from: for one
    branch, a few index seeks instead of a scan of the whole organisation's period)."""
    return (
        select(Member.id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(Member.active.is_(True), in_subtree(within))
    )


def _collected(s: Session, within: Unit, period: Period) -> list[Any]:
    query = (
        select(Member.unit_id, func.coalesce(func.sum(DuesPayment.amount_fen), 0))
        .join(DuesPayment, DuesPayment.member_id == Member.id)
        .where(
            Member.id.in_(_active_members_of(within)),
            DuesPayment.voided_at.is_(None),
            DuesPayment.paid_on >= period.start,
            DuesPayment.paid_on < period.end,
        )
        .group_by(Member.unit_id)
    )
    return list(s.execute(query))


def _points(s: Session, within: Unit, period: Period) -> list[Any]:
    query = (
        select(Member.unit_id, func.coalesce(func.sum(PointsEntry.points), 0))
        .join(PointsEntry, PointsEntry.member_id == Member.id)
        .where(
            Member.id.in_(_active_members_of(within)),
            PointsEntry.at >= period.starts_at,
            PointsEntry.at < period.ends_at,
        )
        .group_by(Member.unit_id)
    )
    return list(s.execute(query))


def branch_measures(
    s: Session,
    branches: Sequence[Unit],
    period: Period,
    today: date,
    within: Unit | None = None,
    *,
    warnings: bool = True,
    targets: bool = True,
) -> dict[int, BranchMeasures]:
    """branch id → its measures for ``period`` (warnings as of ``today``), in a fixed number
    of statements. ``within``: a unit whose subtree holds all the branches (default: the one
    branch given). ``warnings=False`` leaves warnings to the caller (the board counts them
    from the members' standings it lists anyway), ``targets=False`` the targets (checked
    once the caller's figures are final)."""
    from qrservice.boards.compliance import compliance_of
    from qrservice.boards.targets import target_checks

    if not branches:
        return {}
    if within is None:
        if len(branches) != 1:
            raise ValueError("branch_measures needs `within` for several branches")
        within = branches[0]
    rows = {b.id: BranchMeasures(b.id, b.code, b.name) for b in branches}
    branch_of = branch_of_units(s, within, branches)

    owing: dict[int, list[int]] = {b: [0, 0, 0] for b in rows}
    for r in _member_counts(s, within, period, today, warnings=warnings):
        branch = branch_of.get(r.unit_id)
        if branch is None:
            continue
        m = rows[branch]
        m.members += r.members
        values = r._mapping
        d = owing[branch]
        d[0] += values.get("owing", 0)
        d[1] += values.get("settled", 0)
        d[2] += values.get("arrears", 0)
        m.red += values.get("red", 0)
        m.yellow += values.get("yellow", 0)

    collected = dict.fromkeys(rows, 0)
    for unit_id, fen in _collected(s, within, period):
        if (branch := branch_of.get(unit_id)) is not None:
            collected[branch] += int(fen)
    for branch, (owes, settled, arrears) in owing.items():
        rows[branch].dues = DuesFigures(owes, settled, collected[branch], arrears)

    attendance = {b: Rate() for b in rows}
    for r in _attendance_rows(s, within, period.starts_at, period.ends_at):
        if (branch := branch_of.get(r.unit_id)) is not None:
            attendance[branch] = attendance[branch] + r
    for branch, rate in attendance.items():
        rows[branch].attendance = rate

    points = dict.fromkeys(rows, 0)
    for unit_id, total in _points(s, within, period):
        if (branch := branch_of.get(unit_id)) is not None:
            points[branch] += int(total)
    for branch, total in points.items():
        rows[branch].points = PointsFigures(total=total, members=rows[branch].members)

    for branch, compliance in compliance_of(s, branches, period, today).items():
        rows[branch].compliance = compliance
    if targets:
        target_checks(s, rows, period)
    return rows


def attendance_by_kind_and_month(
    s: Session, branch: Unit, start: datetime, end: datetime
) -> list[Any]:
    """The branch's closed meetings in [start, end), one row each with its start and counts
    (for a board's kinds and 12-month trend)."""
    status = Attendance.status
    query = (
        select(
            Meeting.id,
            Meeting.kind,
            Meeting.starts_at,
            func.count().filter(status.in_(ATTENDED)).label("attended"),
            func.count().filter(status == "absent").label("absent"),
            func.count().filter(status == "excused").label("excused"),
        )
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(
            Meeting.status == "closed",
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
            Meeting.unit_id.in_(select(Unit.id).where(in_subtree(branch))),
        )
        .group_by(Meeting.id, Meeting.kind, Meeting.starts_at)
    )
    return list(s.execute(query))
