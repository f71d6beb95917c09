"""The monthly three-level assessment: scores by local month, averages per active member,
follow-up below the threshold, ranks only when rankings are on, a constant statement count."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.assessment import assess
from qrservice.models import Member, Organisation, PointsEntry, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.org.units import create_unit
from tests.test_scan_costs import statements_of

ACTOR = Actor.system("test")
#: A month far from the demo's data: nothing else counts in it.
MONTH = date(2031, 10, 1)


def _unit(s, code: str) -> Unit:
    return s.scalar(select(Unit).where(Unit.code == code))


def _new_member(s, number: str, unit: Unit) -> Member:
    raw = {
        "number": number, "name": f"测试{number[-3:]}", "gender": "female",
        "birth_date": "1990-01-01", "joined_on": "2015-07-01", "status": "full",
        "unit": unit.code,
    }  # fmt: skip
    clean = clean_member(raw, {unit.code: unit})
    return create_member(s, ACTOR, clean, id_hash_key="k")


def _line(s, member: Member, at: datetime, points: int) -> None:
    s.add(PointsEntry(member_id=member.id, at=at, points=points, kind="award", reason="测试",
                      recorded_by="test"))  # fmt: skip
    s.flush()


def _members_of(s, code: str) -> list[Member]:
    unit = _unit(s, code)
    return list(
        s.scalars(
            select(Member)
            .where(Member.unit_id == unit.id, Member.active.is_(True))
            .order_by(Member.number)
        )
    )


def test_entry_at_2330_local_on_the_31st_counts_in_that_month_and_0030_on_the_1st_in_next(app):
    with app.app_context():
        s = db.session()
        member = _members_of(s, "B01-G1")[0]
        # 23:30 in Beijing on 31 October is 15:30 UTC; 00:30 on 1 November is 16:30 UTC.
        _line(s, member, datetime(2031, 10, 31, 15, 30), 5)
        _line(s, member, datetime(2031, 10, 31, 16, 30), 7)
        s.commit()
        october = assess(s, _unit(s, "B01-G1"), MONTH)
        november = assess(s, _unit(s, "B01-G1"), date(2031, 11, 1))
        score = {m.member_id: m.score for m in october.members}
        assert score[member.id] == 5
        assert {m.member_id: m.score for m in november.members}[member.id] == 7
        # The trend of November holds October's score as its previous month.
        group_trend = dict(november.overall.trend)
        n = november.overall.members
        assert group_trend[MONTH] == (Decimal(5) / n).quantize(Decimal("0.1"))


def test_group_and_branch_scores_are_the_average_per_active_member_to_one_decimal(app):
    with app.app_context():
        s = db.session()
        members = _members_of(s, "B01-G1")
        for m in members[:2]:
            _line(s, m, datetime(2031, 10, 10, 4, 0), 10)
        s.commit()
        result = assess(s, _unit(s, "B01"), MONTH)
        group = next(g for g in result.groups if g.unit.code == "B01-G1")
        assert group.members == len(members)
        assert group.total == 20
        assert group.score == (Decimal(20) / len(members)).quantize(Decimal("0.1"))
        branch = next(b for b in result.branches if b.unit.code == "B01")
        assert branch.total == 20 and branch.members >= len(members)


def test_members_and_branches_below_the_threshold_are_listed_for_follow_up(app):
    with app.app_context():
        s = db.session()
        org = s.scalar(select(Organisation))
        org.assessment_threshold = 3
        members = _members_of(s, "B01-G1")
        _line(s, members[0], datetime(2031, 10, 10, 4, 0), 3)
        _line(s, members[1], datetime(2031, 10, 10, 4, 0), 2)
        s.commit()
        result = assess(s, _unit(s, "C01"), MONTH)
        below = {m.member_id for m in result.follow_up_members}
        assert members[0].id not in below and members[1].id in below
        assert {b.unit.code for b in result.follow_up_branches} >= {"B01", "B02"}


def test_ranks_are_given_only_when_rankings_are_enabled(app):
    with app.app_context():
        s = db.session()
        members = _members_of(s, "B01-G1")
        _line(s, members[1], datetime(2031, 10, 10, 4, 0), 9)
        s.commit()
        on = assess(s, _unit(s, "B01"), MONTH)
        assert on.members[0].member_id == members[1].id and on.members[0].rank == 1
        s.scalar(select(Organisation)).rankings_enabled = False
        s.commit()
        off = assess(s, _unit(s, "B01"), MONTH)
        assert all(m.rank is None for m in off.members)
        assert all(b.rank is None for b in off.branches + off.groups)
        assert [m.number for m in off.members] == sorted(m.number for m in off.members)


def test_assessing_a_branch_of_2_members_costs_the_same_statements_as_one_of_20(app):
    with app.app_context():
        s = db.session()
        committee = _unit(s, "C01")
        small = create_unit(s, ACTOR, kind="branch", name="小支部", code="B77", parent=committee)
        big = create_unit(s, ACTOR, kind="branch", name="大支部", code="B78", parent=committee)
        for i in range(2):
            _line(s, _new_member(s, f"77{i:06d}", small), datetime(2031, 10, 3), 1)
        for i in range(20):
            _line(s, _new_member(s, f"78{i:06d}", big), datetime(2031, 10, 3), 1)
        s.commit()

        def count(unit: Unit) -> int:
            result, seen = statements_of(app, lambda: assess(s, unit, MONTH))
            return len(seen)

        assess(s, small, MONTH)  # the organisation is read once per session
        assert count(small) == count(big) > 0
        assert assess(s, big, MONTH).overall.score == Decimal("1.0")


def test_trend_sparkline_draws_each_scored_month_higher_for_a_higher_score(app):
    with app.app_context():
        s = db.session()
        member = _members_of(s, "B01-G1")[0]
        _line(s, member, datetime(2031, 9, 10, 4, 0), 2)
        _line(s, member, datetime(2031, 10, 10, 4, 0), 8)
        s.commit()
        group = next(g for g in assess(s, _unit(s, "B01"), MONTH).groups if g.unit.code == "B01-G1")
        points = [tuple(map(float, p.split(","))) for p in group.sparkline().split()]
        assert len(points) == 12  # every month of an active group has a score, 0 included
        september, october = points[-2], points[-1]
        assert october[0] == 120.0 and october[1] < september[1] < points[0][1]


def test_assessment_page_draws_the_trends(client, auth):
    auth.as_secretary(1)
    html = client.get("/points/assessment?unit=B01&month=2026-03").get_data(as_text=True)
    assert '<svg class="sparkline"' in html and "<polyline points=" in html
