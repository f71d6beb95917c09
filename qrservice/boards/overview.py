"""The organiser's overview: every open branch under them with the board's measures, and the
quarterly record of each unit's activity that the committee publishes."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qrservice.boards.figures import ActivityRecord, BranchMeasures, Overview
from qrservice.boards.measures import branch_measures
from qrservice.boards.periods import Period
from qrservice.models import AuditEvent, Meeting, MeetingPhoto, Unit, User
from qrservice.org.members import tree_order
from qrservice.org.units import in_subtree

#: Columns the overview sorts by, each with the value it sorts on (None last).
SORTS = ("code", "members", "compliance", "attendance", "dues", "points", "warnings")


def branches_under(s: Session, scope: Unit) -> list[Unit]:
    """The open branches of ``scope``'s subtree (``scope`` itself if it is one), by code."""
    if scope.kind == "branch":
        return [scope]
    query = (
        select(Unit)
        .where(in_subtree(scope), Unit.kind == "branch", Unit.closed_at.is_(None))
        .order_by(Unit.code)
    )
    return list(s.scalars(query))


def overview(s: Session, scope: Unit, period: Period, today: date) -> Overview:
    branches = branches_under(s, scope)
    rows = branch_measures(s, branches, period, today, within=scope)
    return Overview(scope, period, today, [rows[b.id] for b in branches])


def sort_value(row: BranchMeasures, sort: str) -> Any:
    """What the overview sorts ``row`` on for ``sort`` (one of SORTS); None: no value."""
    if sort == "code":
        return row.code
    if sort == "members":
        return row.members
    return row.value(sort)


def sorted_rows(rows: list[BranchMeasures], sort: str, descending: bool) -> list[BranchMeasures]:
    """The rows by ``sort`` either way, those without a value last (by code)."""
    valued = [r for r in rows if sort_value(r, sort) is not None]
    rest = [r for r in rows if sort_value(r, sort) is None]
    return sorted(valued, key=lambda r: sort_value(r, sort), reverse=descending) + rest


def activity_record(s: Session, scope: Unit, quarter: Period) -> list[ActivityRecord]:
    """Each open unit of ``scope``'s subtree, in tree order, with what it filed in ``quarter``:
    meetings held (opened, not cancelled), traces (minutes filed, photos added) and updates
    (actions its officers recorded in the trail). Three grouped statements."""
    start, end = quarter.starts_at, quarter.ends_at
    units = tree_order(
        list(s.scalars(select(Unit).where(in_subtree(scope), Unit.closed_at.is_(None))))
    )
    in_scope = select(Unit.id).where(in_subtree(scope))
    held = dict(
        s.execute(
            select(Meeting.unit_id, func.count())
            .where(
                Meeting.unit_id.in_(in_scope),
                Meeting.status.in_(("open", "closed")),
                Meeting.starts_at >= start,
                Meeting.starts_at < end,
            )
            .group_by(Meeting.unit_id)
        ).all()
    )
    minutes = dict(
        s.execute(
            select(Meeting.unit_id, func.count())
            .where(
                Meeting.unit_id.in_(in_scope),
                Meeting.minutes_at >= start,
                Meeting.minutes_at < end,
            )
            .group_by(Meeting.unit_id)
        ).all()
    )
    photos = dict(
        s.execute(
            select(Meeting.unit_id, func.count())
            .join(MeetingPhoto, MeetingPhoto.meeting_id == Meeting.id)
            .where(
                Meeting.unit_id.in_(in_scope),
                MeetingPhoto.uploaded_at >= start,
                MeetingPhoto.uploaded_at < end,
            )
            .group_by(Meeting.unit_id)
        ).all()
    )
    updates = dict(
        s.execute(
            select(User.unit_id, func.count())
            .join(AuditEvent, AuditEvent.actor_id == User.id)
            .where(User.unit_id.in_(in_scope), AuditEvent.at >= start, AuditEvent.at < end)
            .group_by(User.unit_id)
        ).all()
    )
    return [
        ActivityRecord(
            u.id,
            u.code,
            u.name,
            u.kind,
            meetings=held.get(u.id, 0),
            traces=minutes.get(u.id, 0) + photos.get(u.id, 0),
            updates=updates.get(u.id, 0),
        )
        for u in units
    ]
