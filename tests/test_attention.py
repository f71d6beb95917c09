"""Who needs attention: a member's standing on the officer's member page (the warning with its
causes and dates), the lists per branch and for the organiser, their export, their cost."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.attention import AttentionFilter, attention_list
from qrservice.life.dues import record_payment, set_dues_rate
from qrservice.life.standing import member_standing, standings
from qrservice.models import Attendance, AuditEvent, Meeting, Member, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.timeutil import add_months, local_time, month_start, utcnow
from tests.test_scan_costs import statements_of

EN = {"Accept-Language": "en"}
ACTOR = Actor.system("test")


def today() -> date:
    return local_time(utcnow()).date()


def add_member(app, number: str, unit_code: str, *, floating: bool = False,
               dues_months_ago: int = 7) -> int:  # fmt: skip
    """A member who joined long ago, owed dues from ``dues_months_ago`` months back at 10
    yuan a month, and has paid and attended nothing."""
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == unit_code))
        first = add_months(month_start(today()), -dues_months_ago)
        raw = {
            "number": number, "name": "关注测试", "gender": "female", "joined_on": "2010-05-04",
            "status": "full", "unit": unit_code, "floating": "yes" if floating else "no",
            "floating_location": "深圳" if floating else "", "dues_from": f"{first:%Y-%m}",
        }  # fmt: skip
        member = create_member(s, ACTOR, clean_member(raw, {unit_code: unit}), "k" * 32)
        set_dues_rate(s, ACTOR, member, first, 1000)
        s.commit()
        return member.id


def attend(app, member_id: int, unit_code: str, days_ago: int, cancelled: bool = False) -> None:
    """A closed meeting ``days_ago`` days back that the member attended (or a cancelled
    meeting with the member's check-in)."""
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == unit_code))
        starts = utcnow() - timedelta(days=days_ago)
        meeting = Meeting(
            unit_id=unit.id, kind="group", title="学习会", starts_at=starts,
            ends_at=starts + timedelta(hours=1), status="cancelled" if cancelled else "closed",
            created_by="test", created_at=starts, closed_at=None if cancelled else starts,
        )  # fmt: skip
        s.add(meeting)
        s.flush()
        s.add(Attendance(meeting_id=meeting.id, member_id=member_id, status="present",
                         via="manual", checked_in_at=starts, recorded_by="test"))  # fmt: skip
        s.commit()


def test_member_page_shows_the_red_warning_with_both_causes_and_their_dates(client, auth, app):
    member_id = add_member(app, "A0001", "B01-G1")
    first = add_months(month_start(today()), -7)
    auth.login()
    page = client.get(f"/members/{member_id}", headers=EN).get_data(as_text=True)
    assert "Red warning" in page
    assert f"Dues unpaid since {first:%Y-%m} (7 months)" in page
    assert f"No organisational life since {first.isoformat()}" in page
    assert "owed 70.00 yuan" in page


def test_warning_clears_when_the_arrears_are_paid_and_the_member_attends(app):
    member_id = add_member(app, "A0002", "B01-G1", dues_months_ago=4)
    attend(app, member_id, "B01-G1", days_ago=10)
    with app.app_context():
        s = db.session()
        member = s.get(Member, member_id)
        before = member_standing(s, member, today())
        assert before.warning == "yellow"
        assert [c.kind for c in before.causes] == ["dues"]
        record_payment(
            s, ACTOR, member, first_month=add_months(month_start(today()), -4), months=4,
            amount_fen=4000, method="cash", receipt_no="ATT-1", paid_on=today(),
        )  # fmt: skip
        after = member_standing(s, member, today())
        assert after.warning is None and after.causes == ()
        assert after.last_attended == (utcnow() - timedelta(days=10)).date()


def test_a_cancelled_meeting_counts_for_nothing_in_the_standing(app):
    member_id = add_member(app, "A0003", "B01-G1", dues_months_ago=0)
    attend(app, member_id, "B01-G1", days_ago=3, cancelled=True)
    with app.app_context():
        s = db.session()
        standing = member_standing(s, s.get(Member, member_id), today())
        assert standing.attended == 0 and standing.last_attended is None


def test_secretary_sees_their_branch_list_and_not_another_branchs_member(client, auth, app):
    member_id = add_member(app, "A0004", "B01-G2")
    auth.as_secretary(1)
    page = client.get("/attention/", headers=EN).get_data(as_text=True)
    assert f"/members/{member_id}" in page and "Red warning" in page
    auth.logout()
    auth.as_secretary(2)
    page = client.get("/attention/", headers=EN).get_data(as_text=True)
    assert f"/members/{member_id}" not in page and "关注测试" not in page
    with app.app_context():
        b01 = db.session().scalar(select(Unit.id).where(Unit.code == "B01"))
    assert client.get(f"/attention/?unit={b01}").status_code == 404


def test_floating_members_not_seen_for_the_chosen_months(app):
    member_id = add_member(app, "A0005", "B01-G1", floating=True, dues_months_ago=0)
    attend(app, member_id, "B01-G1", days_ago=125)  # about four months ago
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        three = attention_list(s, b01, AttentionFilter("floating", 3), today())
        six = attention_list(s, b01, AttentionFilter("floating", 6), today())
        assert member_id in {r.member.id for r in three.rows}
        assert member_id not in {r.member.id for r in six.rows}
        assert all(r.member.floating for r in three.rows)


def test_arrears_filter_lists_exactly_the_members_owing_dues(app):
    add_member(app, "A0006", "B02-G1", dues_months_ago=1)
    with app.app_context():
        s = db.session()
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        listing = attention_list(s, b02, AttentionFilter("arrears"), today())
        members = list(s.scalars(select(Member).join(Member.unit).where(
            Member.active.is_(True), Unit.path.startswith(b02.path))))  # fmt: skip
        owing = {m.number for m, st in ((m, standings(s, members, today())[m.id]) for m in members)
                 if st.dues.arrears_months > 0}  # fmt: skip
        assert {r.member.number for r in listing.rows} == owing
        assert "A0006" in owing
        assert listing.counts["arrears"] == len(owing)


def test_export_lists_the_same_rows_and_is_in_the_trail(client, auth, app):
    add_member(app, "A0007", "B01-G1")
    auth.as_secretary(1)
    page = client.get("/attention/?show=warnings", headers=EN).get_data(as_text=True)
    response = client.get("/attention/export.csv?show=warnings", headers=EN)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["Number", "Name", "Unit"]
    numbers = [row[0] for row in rows[1:]]
    assert "A0007" in numbers
    assert all(f"<small>{n}</small>" in page for n in numbers)
    with app.app_context():
        event = db.session().scalar(
            select(AuditEvent).where(AuditEvent.action == "attention.export")
        )
        assert event is not None and event.actor.startswith("user:secretary1")


def test_standings_take_the_same_statements_for_two_members_as_for_twenty(app):
    with app.app_context():
        s = db.session()
        members = list(s.scalars(select(Member).order_by(Member.number).limit(20)))

        def count(n: int) -> int:
            _, seen = statements_of(app, lambda: standings(s, members[:n], today()))
            return len(seen)

        standings(s, members[:1], today())  # the organisation is read once per session
        assert count(2) == count(20) > 0


def test_first_owed_month_joined_mid_month_is_not_a_cause_before_three_months(app):
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == "B03-G1"))
        joined = today().replace(day=15) if today().day >= 15 else today()
        raw = {
            "number": "A0008", "name": "新党员", "gender": "male",
            "joined_on": joined.isoformat(), "status": "probationary", "unit": "B03-G1",
        }  # fmt: skip
        member = create_member(s, ACTOR, clean_member(raw, {"B03-G1": unit}), "k" * 32)
        standing = member_standing(s, member, today())
    assert standing.warning is None
    assert standing.dues.arrears_months == 0
    assert standing.months_without_meeting == 0
