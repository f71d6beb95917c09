"""Administering meetings: change one before it opens (only title and place after), cancel one
with a reason (it then expects no one, refuses check-in and counts for nothing), delete one
that never opened; whom a branch committee meeting expects; the list by month with filters, the
month calendar, the landing page's and the card page's coming meetings; the CLI."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.meetings import counts, missing_members
from qrservice.life.points import attendance_points
from qrservice.models import Attendance, AuditEvent, Meeting, Member, Unit, UnitRole
from qrservice.timeutil import from_local, local_time, utcnow
from tests.scanhelpers import card_url_of, member_id, member_in_branch, new_meeting, nonce
from tests.test_card_page import give_pin, path_of
from tests.test_unit_roles import vacate

EN = {"Accept-Language": "en"}
REGULAR = "20260001"  # a member of B01
#: A year whose dates are ahead of the demo's meetings and within what meetings may use.
YEAR = date.today().year + 1


def at_local(*args: int) -> datetime:
    """A stored (UTC) time from a Beijing wall-clock time."""
    return from_local(datetime(*args))


def unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def meeting_of(app, meeting_id: int) -> Meeting | None:
    with app.app_context():
        meeting = db.session().get(Meeting, meeting_id)
        if meeting is not None:
            db.session().expunge(meeting)
        return meeting


def planned(app, unit: str = "B01", **overrides) -> int:
    """A scheduled meeting on 10 March next year, 14:00-15:30 Beijing time."""
    fields = {
        "starts_at": at_local(YEAR, 3, 10, 14, 0), "ends_at": at_local(YEAR, 3, 10, 15, 30),
        "title": "三月学习会", "place": "活动室",
    }  # fmt: skip
    fields.update(overrides)
    return new_meeting(app, unit, opened=False, **fields)


def events(app, action: str, meeting_id: int) -> list[tuple[dict, dict]]:
    """The recorded (before, after) of each event of ``action`` about the meeting."""
    with app.app_context():
        rows = db.session().execute(
            select(AuditEvent.before, AuditEvent.after).where(
                AuditEvent.action == action,
                AuditEvent.entity_type == "meeting",
                AuditEvent.entity_id == meeting_id,
            )
        )
        return [(json.loads(b or "{}"), json.loads(a or "{}")) for b, a in rows]


def history(client, meeting_id: int) -> str:
    page = client.get(f"/meetings/{meeting_id}", headers=EN).get_data(as_text=True)
    return page.split('<ul class="history">', 1)[1].split("</ul>", 1)[0]


def scan(client, meeting_id: int, number: str, headers: dict[str, str] | None = None):
    body = {"code": card_url_of(client.application, number), "nonce": nonce()}
    return client.post(
        f"/api/v1/meetings/{meeting_id}/checkins", json=body, headers=headers
    ).get_json()


# Changing a meeting.


def test_secretary_changes_every_field_of_a_meeting_before_it_opens(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(1)
    form = client.get(f"/meetings/{meeting}/edit", headers=EN).get_data(as_text=True)
    assert f'value="{YEAR}-03-10T14:00"' in form and "三月学习会" in form
    response = client.post(f"/meetings/{meeting}/edit", data={
        "unit_id": unit_id(app, "B01-G1"), "kind": "lecture", "title": "三月党课",
        "starts_at": f"{YEAR}-03-11T09:00", "ends_at": f"{YEAR}-03-11T11:00",
        "place": "礼堂", "remote_allowed": "yes", "points": "3", "late_after_min": "5",
        "opens_before_min": "15", "closes_after_min": "10",
    })  # fmt: skip
    assert response.status_code == 302
    changed = meeting_of(app, meeting)
    assert (changed.title, changed.kind, changed.place, changed.points) == (
        "三月党课", "lecture", "礼堂", 3,
    )  # fmt: skip
    assert changed.unit_id == unit_id(app, "B01-G1")
    assert changed.starts_at == datetime(YEAR, 3, 11, 1, 0)  # 09:00 Beijing is 01:00 UTC
    assert changed.remote_allowed and changed.screen_code_ttl == 180
    assert (changed.late_after_min, changed.opens_before_min, changed.closes_after_min) == (
        5, 15, 10,
    )  # fmt: skip
    ((before, after),) = events(app, "meeting.update", meeting)
    assert before["title"] == "三月学习会" and before["unit"] == "B01"
    assert after["unit"] == "B01-G1" and after["place"] == "礼堂" and after["kind"] == "lecture"
    sentence = history(client, meeting)
    assert "changed the meeting “三月党课”" in sentence
    assert "Title 三月学习会 → 三月党课" in sentence and "Party lecture" in sentence


def test_saving_the_form_unchanged_records_nothing(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(1)
    client.post(f"/meetings/{meeting}/edit", data={"title": "三月学习会"})
    assert events(app, "meeting.update", meeting) == []


def test_a_meeting_edited_to_end_before_it_starts_is_refused_on_ends_at(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(1)
    response = client.post(
        f"/meetings/{meeting}/edit",
        data={"title": "改了的标题", "ends_at": f"{YEAR}-03-10T13:00"},
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="ends_at-error"' in page and "The end must be after the start." in page
    unchanged = meeting_of(app, meeting)
    assert unchanged.title == "三月学习会"
    assert unchanged.ends_at == at_local(YEAR, 3, 10, 15, 30)
    assert events(app, "meeting.update", meeting) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", ""), ("points", "-1"), ("points", "lots"), ("starts_at", "tomorrow"),
     ("kind", "party"), ("late_after_min", "5000")],
)  # fmt: skip
def test_bad_fields_of_an_edit_are_named_and_nothing_changes(client, auth, app, field, value):
    meeting = planned(app)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting}/edit", data={field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert meeting_of(app, meeting).title == "三月学习会"


def test_a_meeting_cannot_be_moved_outside_the_secretarys_branch(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting}/edit", data={"unit_id": unit_id(app, "B02")})
    assert response.status_code == 422
    assert 'id="unit-error"' in response.get_data(as_text=True)
    assert meeting_of(app, meeting).unit_id == unit_id(app, "B01")


def test_once_opened_only_the_title_and_place_change(client, auth, app):
    meeting = new_meeting(app, "B01", opened=True, title="今天的会")
    auth.as_secretary(1)
    form = client.get(f"/meetings/{meeting}/edit", headers=EN).get_data(as_text=True)
    assert "only the title and the place can change" in form
    assert 'name="starts_at"' not in form and 'name="unit_id"' not in form
    response = client.post(f"/meetings/{meeting}/edit", data={"title": "今天的会（改）",
                                                              "place": "三楼"})  # fmt: skip
    assert response.status_code == 302
    assert (meeting_of(app, meeting).title, meeting_of(app, meeting).place) == (
        "今天的会（改）", "三楼",
    )  # fmt: skip
    before = meeting_of(app, meeting)
    refusals = [("ends_at", f"{YEAR}-03-10T13:00"), ("points", "9"),
                ("unit_id", str(unit_id(app, "B01-G1"))), ("kind", "lecture")]  # fmt: skip
    for field, value in refusals:
        refused = client.post(
            f"/meetings/{meeting}/edit", data={"title": "又改", field: value}, headers=EN
        )
        assert refused.status_code == 422, field
        page = refused.get_data(as_text=True)
        error = "unit" if field == "unit_id" else field
        assert f'id="{error}-error"' in page and "only the title and the place" in page
    after = meeting_of(app, meeting)
    assert (after.title, after.ends_at, after.points, after.unit_id, after.kind) == (
        before.title, before.ends_at, before.points, before.unit_id, before.kind,
    )  # fmt: skip


def test_secretary_of_another_branch_cannot_reach_a_meetings_changes(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(2)
    for path in ("edit", "cancel", "delete"):
        assert client.get(f"/meetings/{meeting}/{path}").status_code == 404, path
    assert client.post(f"/meetings/{meeting}/edit", data={"title": "x"}).status_code == 404
    cancel = {"reason": "x", "confirm": "yes"}
    assert client.post(f"/meetings/{meeting}/cancel", data=cancel).status_code == 404
    assert client.post(f"/meetings/{meeting}/delete", data={"confirm": "yes"}).status_code == 404
    kept = meeting_of(app, meeting)
    assert kept is not None and kept.status == "scheduled" and kept.title == "三月学习会"


# Cancelling.


def test_cancelling_needs_a_reason_and_changes_nothing_without_one(client, auth, app):
    meeting = planned(app)
    auth.as_secretary(1)
    for reason in ("", "   ", "x" * 201):
        response = client.post(
            f"/meetings/{meeting}/cancel", data={"reason": reason, "confirm": "yes"}
        )
        assert response.status_code == 422
        assert 'id="reason-error"' in response.get_data(as_text=True)
    assert meeting_of(app, meeting).status == "scheduled"
    assert events(app, "meeting.cancel", meeting) == []


def test_the_cancel_page_asks_first_and_a_post_without_confirmation_changes_nothing(
    client, auth, app
):
    meeting = planned(app)
    auth.as_secretary(1)
    page = client.get(f"/meetings/{meeting}/cancel", headers=EN).get_data(as_text=True)
    assert "expects no one" in page and 'name="confirm" value="yes"' in page
    response = client.post(f"/meetings/{meeting}/cancel", data={"reason": "下雨"})
    assert response.status_code == 200
    assert meeting_of(app, meeting).status == "scheduled"


def test_a_cancelled_open_meeting_keeps_its_check_ins_expects_no_one_and_refuses_scans(
    client, auth, app
):
    meeting = new_meeting(app, "B01", opened=True, title="临时取消的会")
    auth.as_secretary(1)
    assert scan(client, meeting, REGULAR)["status"] == "ok"
    response = client.post(
        f"/meetings/{meeting}/cancel", data={"reason": "  停电，改期  ", "confirm": "yes"}
    )
    assert response.status_code == 302
    cancelled = meeting_of(app, meeting)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "停电，改期"
    assert cancelled.cancelled_by == "user:secretary1" and cancelled.cancelled_at is not None
    with app.app_context():
        s = db.session()
        m = s.get(Meeting, meeting)
        tally = counts(s, m)
        assert (tally.expected, tally.missing, tally.present) == (0, 0, 1)
        assert missing_members(s, m) == []
        kept = s.scalar(select(func.count()).where(Attendance.meeting_id == meeting))
        assert kept == 1  # the check-in stays in the record
    other = member_in_branch(app, "B01", skip=3)
    refused = scan(client, meeting, other, headers=EN)
    assert refused["status"] == "refused" and refused["reason"] == "cancelled"
    assert "cancelled" in refused["message"]
    status = client.get(f"/api/v1/meetings/{meeting}/status").get_json()
    assert status["counts"]["expected"] == 0 and status["missing"] == []
    # It no longer offers check-in, and the trail carries the reason.
    page = client.get(f"/meetings/{meeting}", headers=EN).get_data(as_text=True)
    assert "停电，改期" in page and "Open check-in" not in page and "Open the scanner" not in page
    assert "cancelled the meeting “临时取消的会” (reason: 停电，改期)" in history(client, meeting)
    assert client.post(f"/meetings/{meeting}/open").status_code == 302
    assert meeting_of(app, meeting).status == "cancelled"
    # The member's card no longer shows it, not even in the history of meetings attended.
    member = app.test_client()
    member.post(path_of(app, REGULAR) + "/unlock", data={"pin": give_pin(app, REGULAR)})
    card = member.get(path_of(app, REGULAR), headers=EN).get_data(as_text=True)
    assert "Meetings</h2>" in card and "临时取消的会" not in card


def test_cancelling_takes_back_the_points_a_meeting_had_given(client, auth, app):
    meeting = new_meeting(app, "B01", opened=True, title="重开后取消的会", points=2)
    auth.as_secretary(1)
    scan(client, meeting, REGULAR)
    client.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
    with app.app_context():
        s = db.session()
        m = s.get(Meeting, meeting)
        assert attendance_points(s, m, member_id(app, REGULAR)) == 2
        m.status = "open"  # check-in reopened to correct something: the points stay meanwhile
        s.commit()
    client.post(f"/meetings/{meeting}/cancel", data={"reason": "重复录入", "confirm": "yes"})
    with app.app_context():
        s = db.session()
        m = s.get(Meeting, meeting)
        assert m.status == "cancelled"
        assert attendance_points(s, m, member_id(app, REGULAR)) == 0


def test_a_closed_meeting_cannot_be_cancelled(client, auth, app):
    meeting = new_meeting(app, "B01", opened=True)
    auth.as_secretary(1)
    client.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
    response = client.post(
        f"/meetings/{meeting}/cancel", data={"reason": "记错了", "confirm": "yes"}, headers=EN
    )
    assert response.status_code == 422
    assert "correct its attendance instead" in response.get_data(as_text=True)
    assert meeting_of(app, meeting).status == "closed"


def test_a_cancelled_meeting_is_not_offered_to_scanner_devices(client, auth, app):
    meeting = new_meeting(app, "B01", opened=True, title="设备不应列出的会")
    with app.app_context():
        from qrservice.life.meetings import cancel_meeting
        from qrservice.org.devices import create_device

        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        _device, code = create_device(s, Actor.system("test"), unit=b01, name="门口")
        cancel_meeting(s, Actor.system("test"), s.get(Meeting, meeting), "改期")
        s.commit()
    token = client.post("/api/v1/devices/pair", json={"code": code}).get_json()["token"]
    device = client.get("/api/v1/device", headers={"Authorization": f"Bearer {token}"})
    assert "设备不应列出的会" not in device.get_data(as_text=True)


# Deleting.


def test_a_meeting_that_never_opened_is_deleted_after_confirmation(client, auth, app):
    meeting = planned(app, title="要删除的会")
    auth.as_secretary(1)
    page = client.get(f"/meetings/{meeting}/delete", headers=EN).get_data(as_text=True)
    assert 'name="confirm" value="yes"' in page
    client.post(f"/meetings/{meeting}/delete")  # no confirmation: nothing happens
    assert meeting_of(app, meeting) is not None
    response = client.post(f"/meetings/{meeting}/delete", data={"confirm": "yes"})
    assert response.status_code == 302
    assert meeting_of(app, meeting) is None
    ((before, _after),) = events(app, "meeting.delete", meeting)
    assert before["title"] == "要删除的会"
    with app.test_request_context(headers=EN):
        from qrservice.audit_sentences import audit_trail

        s = db.session()
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "meeting.delete"))
        (entry,) = audit_trail(s, [event])
        assert "deleted the meeting “要删除的会” of B01" in entry.sentence


def test_deleting_is_refused_once_check_in_has_opened(client, auth, app):
    meeting = new_meeting(app, "B01", opened=True, title="已开始的会")
    auth.as_secretary(1)
    page = client.get(f"/meetings/{meeting}/delete", headers=EN).get_data(as_text=True)
    assert "cancel it instead" in page and 'name="confirm"' not in page
    response = client.post(f"/meetings/{meeting}/delete", data={"confirm": "yes"}, headers=EN)
    assert response.status_code == 409
    assert "cancel it instead" in response.get_data(as_text=True)
    assert meeting_of(app, meeting) is not None
    assert events(app, "meeting.delete", meeting) == []


# Whom a branch committee meeting expects.


def office_holders(app, numbers_roles: list[tuple[str, str]], unit: str = "B01") -> None:
    with app.app_context():
        s = db.session()
        branch = s.scalar(select(Unit).where(Unit.code == unit))
        for number, role in numbers_roles:
            s.add(
                UnitRole(
                    unit_id=branch.id,
                    member_id=member_id(app, number),
                    role=role,
                    created_by="test",
                    created_at=utcnow(),
                )  # fmt: skip
            )
        s.commit()


def test_a_branch_committee_meeting_expects_the_branchs_office_holders_only(client, auth, app):
    vacate(app, "B01")  # the demo's committee: this test names B01's office holders itself
    secretary, organisation = (member_in_branch(app, "B01", skip=k) for k in (0, 1))
    leader, ordinary = (member_in_branch(app, "B01", skip=k) for k in (2, 3))
    office_holders(app, [(secretary, "secretary"), (organisation, "organisation")])
    with app.app_context():
        s = db.session()
        group = s.scalar(select(Unit).where(Unit.code == "B01-G1"))
        s.add(UnitRole(unit_id=group.id, member_id=member_id(app, leader), role="group_leader",
                       created_by="test", created_at=utcnow()))  # fmt: skip
        s.commit()
    meeting = new_meeting(app, "B01", opened=True, kind="branch_committee", title="支委会")
    with app.app_context():
        s = db.session()
        m = s.get(Meeting, meeting)
        assert counts(s, m).expected == 2
        assert {x.number for x in missing_members(s, m)} == {secretary, organisation}
    auth.as_secretary(1)
    assert scan(client, meeting, secretary)["attendance"]["status"] == "present"
    assert scan(client, meeting, ordinary)["reason"] == "not_expected"
    expected = client.get(f"/api/v1/meetings/{meeting}/expected").get_json()
    listed = expected.get("members", expected) if isinstance(expected, dict) else expected
    assert {m["number"] for m in listed} == {secretary, organisation}
    client.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
    with app.app_context():
        rows = dict(
            db.session()
            .execute(
                select(Member.number, Attendance.status)
                .join(Member, Member.id == Attendance.member_id)
                .where(Attendance.meeting_id == meeting)
            )
            .all()
        )
    assert rows == {secretary: "present", organisation: "absent"}


def test_a_branch_committee_meeting_belongs_to_a_branch(client, auth, app):
    auth.as_secretary(1)
    response = client.post("/meetings/new", data={
        "unit_id": unit_id(app, "B01-G1"), "kind": "branch_committee", "title": "小组支委会",
        "starts_at": f"{YEAR}-03-10T14:00", "ends_at": f"{YEAR}-03-10T15:00",
    })  # fmt: skip
    assert response.status_code == 422
    assert 'id="unit-error"' in response.get_data(as_text=True)


# Lists, calendar, coming meetings.


def test_the_calendar_shows_a_meeting_on_its_local_day(client, auth, app):
    # 00:30 on 10 March in Beijing is 16:30 on 9 March in UTC.
    meeting = planned(app, title="凌晨的会", starts_at=at_local(YEAR, 3, 10, 0, 30),
                      ends_at=at_local(YEAR, 3, 10, 1, 30))  # fmt: skip
    assert meeting_of(app, meeting).starts_at.day == 9
    auth.as_secretary(1)
    page = client.get(f"/meetings/calendar?month={YEAR}-03", headers=EN).get_data(as_text=True)

    def cell(day: str) -> str:
        return page.split(f'data-day="{day}"', 1)[1].split("</td>", 1)[0]

    assert "凌晨的会" in cell(f"{YEAR}-03-10") and "00:30" in cell(f"{YEAR}-03-10")
    assert "凌晨的会" not in cell(f"{YEAR}-03-09")
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert head.index("Mon") < head.index("Sun")
    assert f"month={YEAR}-02" in page and f"month={YEAR}-04" in page
    assert "<script" not in page


def test_a_calendar_of_a_bad_month_names_the_field(client, auth):
    auth.as_secretary(1)
    response = client.get("/meetings/calendar?month=2027-13")
    assert response.status_code == 400
    assert 'id="month-error"' in response.get_data(as_text=True)


def test_the_list_filters_by_month_unit_kind_and_state(client, auth, app):
    lecture = planned(app, title="三月党课", kind="lecture", unit="B01-G1")
    planned(app, title="三月小组会", kind="group", unit="B01-G2")
    cancelled = planned(app, title="取消的会")
    with app.app_context():
        from qrservice.life.meetings import cancel_meeting

        s = db.session()
        cancel_meeting(s, Actor.system("test"), s.get(Meeting, cancelled), "改期")
        s.commit()
    planned(app, "B02", title="二支部的会")
    auth.as_secretary(1)

    def listed(query: str) -> str:
        response = client.get(f"/meetings/?{query}", headers=EN)
        assert response.status_code == 200
        return response.get_data(as_text=True).split('id="list"', 1)[1]

    march = listed(f"month={YEAR}-03")
    assert all(t in march for t in ("三月党课", "三月小组会", "取消的会"))
    assert "二支部的会" not in march  # another branch's
    by_unit = listed(f"month={YEAR}-03&unit={unit_id(app, 'B01-G1')}")
    assert "三月党课" in by_unit and "三月小组会" not in by_unit
    assert "三月小组会" not in listed(f"month={YEAR}-03&kind=lecture")
    only_cancelled = listed(f"month={YEAR}-03&state=cancelled")
    assert "取消的会" in only_cancelled and "三月党课" not in only_cancelled
    assert "三月党课" not in listed(f"month={YEAR}-04")
    days = listed(f"from={YEAR}-03-10&to={YEAR}-03-10")
    assert "三月党课" in days
    assert "三月党课" not in listed(f"from={YEAR}-03-11&to={YEAR}-03-31")
    assert f'href="/meetings/{lecture}"' in march


@pytest.mark.parametrize(
    ("query", "field"),
    [("month=03-2027", "month"), ("kind=party", "kind"), ("state=done", "state"),
     ("from=2027-02-30", "from"), ("from=2027-03-10&to=2027-03-01", "to")],
)  # fmt: skip
def test_bad_list_filters_are_named(client, auth, query, field):
    auth.as_secretary(1)
    response = client.get(f"/meetings/?{query}")
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)


def test_a_unit_outside_the_scope_is_not_a_filter(client, auth, app):
    auth.as_secretary(1)
    response = client.get(f"/meetings/?unit={unit_id(app, 'B02')}")
    assert response.status_code == 400
    assert 'id="unit-error"' in response.get_data(as_text=True)


def listed_count(page: str) -> int:
    """The number of meetings a list page says it found."""
    found = re.search(r'<p class="count" role="status">(\d+) meetings?</p>', page)
    assert found, page
    return int(found.group(1))


def test_the_list_pages_a_long_month(client, auth, app):
    auth.as_secretary(1)
    before = listed_count(
        client.get(f"/meetings/?month={YEAR}-02", headers=EN).get_data(as_text=True)
    )
    assert before + 56 <= 100  # the demo's meetings that month leave it two pages long
    for day in range(1, 29):
        for hour in (8, 10):
            planned(app, title=f"会{day:02d}-{hour:02d}", starts_at=at_local(YEAR, 2, day, hour),
                    ends_at=at_local(YEAR, 2, day, hour + 1))  # fmt: skip
    first = client.get(f"/meetings/?month={YEAR}-02", headers=EN).get_data(as_text=True)
    assert listed_count(first) == before + 56 and "Page 1 of 2" in first
    assert "会01-08" in first and "会28-10" not in first
    second = client.get(f"/meetings/?month={YEAR}-02&page=2").get_data(as_text=True)
    assert "会28-10" in second


def test_the_secretarys_landing_page_shows_the_branchs_next_meetings_to_open(client, auth, app):
    soon = utcnow() + timedelta(days=2)
    coming = new_meeting(app, "B01", opened=False, title="后天的会", starts_at=soon,
                         ends_at=soon + timedelta(hours=1))  # fmt: skip
    later = utcnow() + timedelta(days=40)
    new_meeting(app, "B01", opened=False, title="四十天后的会", starts_at=later,
                ends_at=later + timedelta(hours=1))  # fmt: skip
    new_meeting(app, "B02", opened=False, title="二支部后天的会", starts_at=soon,
                ends_at=soon + timedelta(hours=1))  # fmt: skip
    auth.as_secretary(1)
    page = client.get("/meetings/", headers=EN).get_data(as_text=True)
    section = page.split('id="coming"', 1)[1].split('id="list"', 1)[0]
    assert "后天的会" in section and f'action="/meetings/{coming}/open"' in section
    assert "四十天后的会" not in section and "二支部后天的会" not in section


def test_the_unlocked_card_shows_the_members_coming_meetings(client, app):
    number = REGULAR
    vacate(app, "B01")  # REGULAR holds an office in the demo: they start holding none
    soon, later = utcnow() + timedelta(days=3), utcnow() + timedelta(days=40)
    hour = timedelta(hours=1)
    new_meeting(app, "B01", opened=False, title="三天后的会", starts_at=soon, ends_at=soon + hour)
    new_meeting(app, "B01", opened=False, title="四十天后的会", starts_at=later,
                ends_at=later + hour)  # fmt: skip
    new_meeting(app, "B02", opened=False, title="别的支部的会", starts_at=soon,
                ends_at=soon + hour)  # fmt: skip
    new_meeting(app, "B01", opened=False, kind="branch_committee", title="支委会",
                starts_at=soon, ends_at=soon + hour)  # fmt: skip
    gone = new_meeting(app, "B01", opened=False, title="取消了的会", starts_at=soon,
                       ends_at=soon + hour)  # fmt: skip
    with app.app_context():
        from qrservice.life.meetings import cancel_meeting

        s = db.session()
        cancel_meeting(s, Actor.system("test"), s.get(Meeting, gone), "改期")
        s.commit()
    url = path_of(app, number)
    stranger = client.get(url, headers=EN).get_data(as_text=True)
    assert "三天后的会" not in stranger
    client.post(url + "/unlock", data={"pin": give_pin(app, number)})
    page = client.get(url, headers=EN).get_data(as_text=True)
    coming = page.split('id="upcoming"', 1)[1].split("</ul>", 1)[0]
    assert "三天后的会" in coming
    when = local_time(soon).strftime("%Y-%m-%d %H:%M")
    assert when in coming
    for absent in ("四十天后的会", "别的支部的会", "支委会", "取消了的会"):
        assert absent not in coming, absent
    # The branch's office holders see their committee's meeting.
    office_holders(app, [(number, "publicity")])
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "支委会" in page.split('id="upcoming"', 1)[1].split("</ul>", 1)[0]


@pytest.mark.sqlite_only("SQLite's query plan")
def test_a_members_coming_meetings_are_found_by_unit(app):
    from qrservice.life.meetings import _CARD_MEETINGS
    from tests.test_scan_costs import query_plan

    now = utcnow()
    plan = query_plan(app, _CARD_MEETINGS, units=[2, 5, 6], member_id=1, now=now,
                      until=now + timedelta(days=30))  # fmt: skip
    assert "ix_meeting_unit_id_status" in plan, plan


# The command line.


def test_cli_lists_changes_cancels_and_deletes_meetings(runner, app):
    created = runner.invoke(main, [
        "meetings", "create", "--unit", "B01", "--kind", "lecture", "--title", "命令行党课",
        "--starts", f"{YEAR}-05-08 14:00", "--minutes", "90", "--place", "会议室",
    ])  # fmt: skip
    assert created.exit_code == 0, created.output
    meeting = int(created.output.split()[1])
    listed = runner.invoke(main, ["meetings", "list", "--unit", "B01", "--month", f"{YEAR}-05"])
    assert listed.exit_code == 0 and "命令行党课" in listed.output
    assert f"{YEAR}-05-08 14:00-15:30" in listed.output

    bad = runner.invoke(main, ["meetings", "edit", str(meeting), "--ends", f"{YEAR}-05-08 13:00"])
    assert bad.exit_code != 0 and "--ends: " in bad.output
    assert meeting_of(app, meeting).ends_at == at_local(YEAR, 5, 8, 15, 30)
    edited = runner.invoke(main, ["meetings", "edit", str(meeting), "--title", "命令行党课（改）"])
    assert edited.exit_code == 0 and "Changed title" in edited.output
    assert meeting_of(app, meeting).title == "命令行党课（改）"

    kept = runner.invoke(main, ["meetings", "delete", str(meeting)], input="n\n")
    assert kept.exit_code != 0 and meeting_of(app, meeting) is not None
    no_reason = runner.invoke(main, ["meetings", "cancel", str(meeting), "--reason", " "])
    assert no_reason.exit_code != 0 and "--reason: " in no_reason.output
    cancelled = runner.invoke(main, ["meetings", "cancel", str(meeting), "--reason", "改期"])
    assert cancelled.exit_code == 0, cancelled.output
    assert meeting_of(app, meeting).status == "cancelled"
    assert meeting_of(app, meeting).cancelled_by == "cli"
    state = runner.invoke(main, ["meetings", "list", "--month", f"{YEAR}-05", "--state",
                                 "cancelled"])  # fmt: skip
    assert "命令行党课（改）" in state.output

    other = planned(app, title="命令行删除的会")
    deleted = runner.invoke(main, ["meetings", "delete", str(other), "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert meeting_of(app, other) is None


def test_cli_refuses_to_delete_an_opened_meeting_or_change_its_time(runner, app):
    meeting = new_meeting(app, "B01", opened=True)
    refused = runner.invoke(main, ["meetings", "delete", str(meeting), "--yes"])
    assert refused.exit_code != 0 and "cancel it instead" in refused.output
    moved = runner.invoke(main, ["meetings", "edit", str(meeting), "--points", "7"])
    assert moved.exit_code != 0 and re.search(r"--points: .*title and the place", moved.output)
    missing = runner.invoke(main, ["meetings", "cancel", "99999999", "--reason", "x"])
    assert missing.exit_code != 0 and "no meeting with id" in missing.output
