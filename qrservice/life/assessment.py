"""The monthly three-level assessment (三级考核): member, group and branch scores.

A member's score for a month is the sum of their ledger lines counted in that month of the
organisation's local time; a group's or branch's score is the average per active member of
the unit (its subtree), to one decimal. Each unit's trend is its score over the 12 months
ending with the month. "Score, evaluate, improve": members and branches below the
organisation's ``assessment_threshold`` are listed for follow-up. Ranks are given only if the
organisation's ``rankings_enabled`` is on; otherwise lists keep code (or number) order.

The sums are the database's (GROUP BY unit and month, GROUP BY member): the assessment of a
unit costs the same few statements whatever its number of members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from qrservice.models import Member, PointsEntry, Unit
from qrservice.org.members import code_order, units_in_scope
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import add_months, from_local, month_start

#: How many months a trend shows, ending with the assessed month.
TREND_MONTHS = 12


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The stored (naive UTC) times where a local month starts and the next one starts."""
    first = month_start(month)
    return (
        from_local(datetime.combine(first, datetime.min.time())),
        from_local(datetime.combine(add_months(first, 1), datetime.min.time())),
    )


def one_decimal(total: int, members: int) -> Decimal | None:
    if members == 0:
        return None
    return (Decimal(total) / Decimal(members)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class MemberScore:
    member_id: int
    number: str
    name: str
    unit_id: int
    score: int
    rank: int | None = None


@dataclass
class UnitScore:
    unit: Unit
    members: int
    total: int
    score: Decimal | None
    #: (month, score) for the 12 months ending with the assessed month, oldest first.
    trend: list[tuple[date, Decimal | None]] = field(default_factory=list)
    rank: int | None = None

    def sparkline(self, width: int = 120, height: int = 24) -> str:
        """The trend as an SVG polyline's points ("x,y x,y …"), months without members left
        out; empty when no month has a score."""
        scored = [(k, float(v)) for k, (_m, v) in enumerate(self.trend) if v is not None]
        if not scored:
            return ""
        low = min(0.0, *(v for _k, v in scored))
        high = max(v for _k, v in scored)
        span = (high - low) or 1.0
        step = width / max(1, len(self.trend) - 1)
        return " ".join(
            f"{k * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for k, v in scored
        )


@dataclass
class Assessment:
    scope: Unit
    month: date
    threshold: int
    rankings: bool
    overall: UnitScore
    branches: list[UnitScore]
    groups: list[UnitScore]
    members: list[MemberScore]
    follow_up_branches: list[UnitScore]
    follow_up_members: list[MemberScore]
    months: list[date]


def _ranked(rows: list, key) -> None:  # type: ignore[no-untyped-def]
    """Competition ranks (1, 2, 2, 4) by ``key`` descending; rows without a score get none."""
    scored = sorted((r for r in rows if key(r) is not None), key=key, reverse=True)
    previous, rank = None, 0
    for position, row in enumerate(scored, start=1):
        if key(row) != previous:
            rank, previous = position, key(row)
        row.rank = rank


def assess(s: Session, scope: Unit, month: date) -> Assessment:
    """The assessment of ``scope`` (a committee, branch or group) for ``month``."""
    month = month_start(month)
    organisation = current_organisation(s)
    threshold = organisation.assessment_threshold if organisation is not None else 0
    rankings = bool(organisation.rankings_enabled) if organisation is not None else False
    units = units_in_scope(s, scope)
    in_scope = select(Unit.id).where(Unit.path.startswith(scope.path, autoescape=True))
    members = list(
        s.execute(
            select(Member.id, Member.number, Member.name, Member.unit_id)
            .where(Member.active.is_(True), Member.unit_id.in_(in_scope))
            .order_by(Member.number)
        )
    )

    months = [add_months(month, k - TREND_MONTHS + 1) for k in range(TREND_MONTHS)]
    starts = [month_bounds(m)[0] for m in months]
    window_end = month_bounds(month)[1]
    bucket = case(
        *((PointsEntry.at < starts[k + 1], k) for k in range(TREND_MONTHS - 1)),
        else_=TREND_MONTHS - 1,
    ).label("bucket")
    active_in_scope = (Member.active.is_(True), Member.unit_id.in_(in_scope))
    by_unit_month = s.execute(
        select(Member.unit_id, bucket, func.sum(PointsEntry.points))
        .join(Member, Member.id == PointsEntry.member_id)
        .where(*active_in_scope, PointsEntry.at >= starts[0], PointsEntry.at < window_end)
        .group_by(Member.unit_id, bucket)
    ).all()
    first, after = month_bounds(month)
    by_member = dict(
        s.execute(
            select(PointsEntry.member_id, func.sum(PointsEntry.points))
            .join(Member, Member.id == PointsEntry.member_id)
            .where(*active_in_scope, PointsEntry.at >= first, PointsEntry.at < after)
            .group_by(PointsEntry.member_id)
        ).all()
    )

    by_id = {u.id: u for u in units}

    def ancestors(unit_id: int) -> list[int]:
        unit = by_id.get(unit_id)
        if unit is None:
            return []
        return [int(i) for i in unit.path.strip("/").split("/") if i and int(i) in by_id]

    headcount: dict[int, int] = {}
    for row in members:
        for unit_id in ancestors(row.unit_id):
            headcount[unit_id] = headcount.get(unit_id, 0) + 1
    totals: dict[tuple[int, int], int] = {}
    for unit_id, k, total in by_unit_month:
        for ancestor in ancestors(unit_id):
            totals[(ancestor, int(k))] = totals.get((ancestor, int(k)), 0) + int(total or 0)

    def unit_score(unit: Unit) -> UnitScore:
        n = headcount.get(unit.id, 0)
        trend = [(m, one_decimal(totals.get((unit.id, k), 0), n)) for k, m in enumerate(months)]
        total = totals.get((unit.id, TREND_MONTHS - 1), 0)
        return UnitScore(unit=unit, members=n, total=total, score=one_decimal(total, n),
                         trend=trend)  # fmt: skip

    branches = [unit_score(u) for u in units if u.kind == "branch"]
    groups = [unit_score(u) for u in units if u.kind == "group"]
    member_scores = [
        MemberScore(
            member_id=r.id,
            number=r.number,
            name=r.name,
            unit_id=r.unit_id,
            score=int(by_member.get(r.id) or 0),
        )  # fmt: skip
        for r in members
    ]
    if rankings:
        _ranked(branches, lambda u: u.score)
        _ranked(member_scores, lambda m: m.score)
        for branch in branches:  # groups are ranked within their branch
            _ranked([g for g in groups if g.unit.parent_id == branch.unit.id], lambda u: u.score)
        branches.sort(key=lambda u: (u.rank is None, u.rank or 0, code_order(u.unit.code)))
        member_scores.sort(key=lambda m: (m.rank or 0, m.number))
    follow_branches = [b for b in branches if b.score is not None and b.score < threshold]
    follow_members = [m for m in member_scores if m.score < threshold]
    return Assessment(
        scope=scope, month=month, threshold=threshold, rankings=rankings,
        overall=unit_score(scope), branches=branches, groups=groups, members=member_scores,
        follow_up_branches=follow_branches, follow_up_members=follow_members, months=months,
    )  # fmt: skip
