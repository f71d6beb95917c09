"""Leave (请假): a member asks from their unlocked card; the branch's secretary approves or
refuses; approved leave is "excused" at the close and does not count against the warnings."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.meetings import close_checkin, open_checkin
from qrservice.life.requests import record_leave
from qrservice.life.standing import member_standing
from qrservice.models import Attendance, AuditEvent, LeaveRequest, Meeting, Member, User
from qrservice.org.issuance import active_card, set_new_pin
from qrservice.timeutil import utcnow
from tests.scanhelpers import member_in_branch, new_meeting


def unlock(app, client, number: str) -> str:
    """Unlock the member's card on this client (the member's phone); the card page's path."""
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        card = active_card(s, member.id)
        pin = set_new_pin(card, app.config["SECRET_KEY"])
        s.commit()
        token = card.token
    client.post(f"/c/{token}/unlock", data={"pin": pin})
    return f"/c/{token}"


def coming_meeting(app, branch: str = "B01", days: int = 2) -> int:
    at = utcnow() + timedelta(days=days)
    return new_meeting(app, branch, opened=False, starts_at=at, ends_at=at + timedelta(hours=1))


def leave_rows(app, meeting_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session().execute(
            select(Member.number, LeaveRequest.status)
            .join(Member, Member.id == LeaveRequest.member_id)
            .where(LeaveRequest.meeting_id == meeting_id)
        )
        return [tuple(r) for r in rows]


def attendance_of(app, meeting_id: int, number: str) -> tuple[str, str] | None:
    with app.app_context():
        row = (
            db.session()
            .execute(
                select(Attendance.status, Attendance.via)
                .join(Member, Member.id == Attendance.member_id)
                .where(Attendance.meeting_id == meeting_id, Member.number == number)
            )
            .first()
        )
        return tuple(row) if row else None


def request_id(app, meeting_id: int, number: str) -> int:
    with app.app_context():
        return db.session().scalar(
            select(LeaveRequest.id)
            .join(Member, Member.id == LeaveRequest.member_id)
            .where(LeaveRequest.meeting_id == meeting_id, Member.number == number)
        )


def last_event_id(app) -> int:
    """The id of the newest audit event so far (0 if none): events after it are the test's."""
    with app.app_context():
        return db.session().scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def close(app, meeting_id: int) -> None:
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        open_checkin(s, Actor.system("test"), meeting)
        close_checkin(s, Actor.system("test"), meeting)
        s.commit()


def test_member_asks_for_leave_from_the_card_and_the_secretary_approves_it(app, auth):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    member_client = app.test_client()
    card = unlock(app, member_client, number)
    since = last_event_id(app)  # the demo's own leave is logged before
    page = member_client.get(card).get_data(as_text=True)
    assert f"/leave/{meeting}" in page
    response = member_client.post(f"{card}/leave/{meeting}", data={"reason": "出差在外地"})
    assert response.status_code == 303
    assert leave_rows(app, meeting) == [(number, "pending")]
    assert f"/leave/{meeting}/withdraw" in member_client.get(card).get_data(as_text=True)

    auth.as_secretary(1)
    listing = auth.client.get("/requests/").get_data(as_text=True)
    assert "出差在外地" in listing
    rid = request_id(app, meeting, number)
    response = auth.client.post(f"/requests/leave/{rid}/approve", data={"comment": "同意"})
    assert response.status_code == 303
    assert leave_rows(app, meeting) == [(number, "approved")]
    assert attendance_of(app, meeting, number) == ("excused", "leave")
    with app.app_context():
        actors = (
            db.session()
            .execute(
                select(AuditEvent.action, AuditEvent.actor)
                .where(
                    AuditEvent.action.in_(("leave.request", "leave.approve")),
                    AuditEvent.id > since,
                )
                .order_by(AuditEvent.id)
            )
            .all()
        )
    assert [tuple(a) for a in actors] == [
        ("leave.request", f"member:{number}"),
        ("leave.approve", "user:secretary1"),
    ]


def test_approved_leave_stays_excused_when_check_in_closes(app, auth):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    auth.as_secretary(1)
    with app.app_context():
        member_id = db.session().scalar(select(Member.id).where(Member.number == number))
    path = f"/meetings/{meeting}/leave/{member_id}"
    response = auth.client.post(path, data={"reason": "电话请假"})
    assert response.status_code == 303
    assert leave_rows(app, meeting) == [(number, "approved")]
    close(app, meeting)
    assert attendance_of(app, meeting, number) == ("excused", "leave")
    with app.app_context():
        absent = db.session().scalar(
            select(func.count()).where(
                Attendance.meeting_id == meeting, Attendance.status == "absent"
            )
        )
    assert absent > 0  # the others without a row were marked absent


def test_leave_approved_after_the_meeting_started_is_allowed_while_open(app, auth):
    number = member_in_branch(app, "B01")
    meeting = new_meeting(app, "B01", opened=True)  # started 5 minutes ago, open
    member_client = app.test_client()
    card = unlock(app, member_client, number)
    assert member_client.post(f"{card}/leave/{meeting}", data={"reason": "生病"}).status_code == 303
    auth.as_secretary(1)
    rid = request_id(app, meeting, number)
    assert auth.client.post(f"/requests/leave/{rid}/approve").status_code == 303
    with app.app_context():
        s = db.session()
        close_checkin(s, Actor.system("test"), s.get(Meeting, meeting))
        s.commit()
    assert attendance_of(app, meeting, number) == ("excused", "leave")


def test_leave_cannot_be_approved_once_check_in_closed(app, auth):
    number = member_in_branch(app, "B01")
    meeting = new_meeting(app, "B01", opened=True)
    member_client = app.test_client()
    card = unlock(app, member_client, number)
    member_client.post(f"{card}/leave/{meeting}", data={"reason": "生病"})
    close(app, meeting)
    auth.as_secretary(1)
    rid = request_id(app, meeting, number)
    response = auth.client.post(f"/requests/leave/{rid}/approve")
    assert response.status_code == 422
    assert 'data-field="meeting"' in response.get_data(as_text=True)
    assert leave_rows(app, meeting) == [(number, "pending")]
    assert attendance_of(app, meeting, number) == ("absent", "closing")


def test_leave_for_a_past_meeting_is_refused(app):
    number = member_in_branch(app, "B01")
    at = utcnow() - timedelta(days=2)
    meeting = new_meeting(app, "B01", opened=False, starts_at=at, ends_at=at + timedelta(hours=1))
    client = app.test_client()
    card = unlock(app, client, number)
    response = client.post(f"{card}/leave/{meeting}", data={"reason": "忘了请假"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-field="meeting"' in page
    assert leave_rows(app, meeting) == []


def test_leave_without_a_reason_names_the_reason_and_writes_nothing(app):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    client = app.test_client()
    card = unlock(app, client, number)
    response = client.post(f"{card}/leave/{meeting}", data={"reason": "   "})
    assert response.status_code == 422
    assert 'data-field="reason"' in response.get_data(as_text=True)
    assert leave_rows(app, meeting) == []


def test_a_stranger_cannot_ask_for_leave_on_a_card_not_unlocked(app):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    unlock(app, app.test_client(), number)  # unlocked on the member's phone, not this one
    with app.app_context():
        s = db.session()
        token = active_card(s, s.scalar(select(Member.id).where(Member.number == number))).token
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    stranger = app.test_client()
    response = stranger.post(f"/c/{token}/leave/{meeting}", data={"reason": "冒名请假"})
    assert response.status_code == 403
    assert leave_rows(app, meeting) == []
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(AuditEvent)) == before


def test_the_member_may_withdraw_a_pending_request_and_ask_again(app):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    client = app.test_client()
    card = unlock(app, client, number)
    client.post(f"{card}/leave/{meeting}", data={"reason": "出差"})
    assert client.post(f"{card}/leave/{meeting}/withdraw").status_code == 303
    assert leave_rows(app, meeting) == [(number, "withdrawn")]
    client.post(f"{card}/leave/{meeting}", data={"reason": "还是出差"})
    assert leave_rows(app, meeting) == [(number, "pending")]


def test_refusal_needs_a_comment_and_the_member_sees_it(app, auth):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    client = app.test_client()
    card = unlock(app, client, number)
    client.post(f"{card}/leave/{meeting}", data={"reason": "有事"})
    rid = request_id(app, meeting, number)
    auth.as_secretary(1)
    response = auth.client.post(f"/requests/leave/{rid}/refuse", data={"comment": ""})
    assert response.status_code == 422
    assert 'data-field="comment"' in response.get_data(as_text=True)
    assert leave_rows(app, meeting) == [(number, "pending")]
    auth.client.post(f"/requests/leave/{rid}/refuse", data={"comment": "会议重要，请参加"})
    assert leave_rows(app, meeting) == [(number, "refused")]
    assert attendance_of(app, meeting, number) is None
    assert "会议重要，请参加" in client.get(card).get_data(as_text=True)


def test_another_branchs_secretary_cannot_decide_or_see_a_request(app, auth):
    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    client = app.test_client()
    card = unlock(app, client, number)
    client.post(f"{card}/leave/{meeting}", data={"reason": "有事"})
    rid = request_id(app, meeting, number)
    auth.as_secretary(2)
    assert "有事" not in auth.client.get("/requests/").get_data(as_text=True)
    assert auth.client.post(f"/requests/leave/{rid}/approve").status_code == 404
    refused = auth.client.post(f"/requests/leave/{rid}/refuse", data={"comment": "x"})
    assert refused.status_code == 404
    assert leave_rows(app, meeting) == [(number, "pending")]


def test_approved_leave_does_not_count_as_a_month_without_organisational_life(app):
    number = member_in_branch(app, "B01")
    # Four months from now, with nothing attended meanwhile, the member is warned...
    later = date.today() + timedelta(days=125)
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        before = member_standing(s, member, later)
    assert before.months_without_meeting >= 3
    assert "meetings" in [c.kind for c in before.causes]
    # ...unless they were on approved leave from a meeting of the branch then.
    at = utcnow() + timedelta(days=120)
    meeting = new_meeting(app, "B01", opened=False, starts_at=at, ends_at=at + timedelta(hours=1))
    with app.app_context():
        s = db.session()
        secretary = s.scalar(select(User).where(User.username == "secretary1"))
        member = s.scalar(select(Member).where(Member.number == number))
        record_leave(s, Actor.of(secretary), s.get(Meeting, meeting), member, "电话请假")
        s.commit()
    close(app, meeting)
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        after = member_standing(s, member, later)
    assert after.months_without_meeting == 0
    assert "meetings" not in [c.kind for c in after.causes]
    assert after.expected == before.expected  # leave counts neither as attended nor absent


def test_leave_reads_as_sentences_in_the_trail(app, auth):
    from qrservice.audit_sentences import audit_trail

    number = member_in_branch(app, "B01")
    meeting = coming_meeting(app)
    client = app.test_client()
    card = unlock(app, client, number)
    since = last_event_id(app)  # the demo's own leave is logged before
    client.post(f"{card}/leave/{meeting}", data={"reason": "出差"})
    auth.as_secretary(1)
    auth.client.post(f"/requests/leave/{request_id(app, meeting, number)}/refuse",
                     data={"comment": "请参加"})  # fmt: skip
    with app.test_request_context(headers={"Accept-Language": "en"}):
        s = db.session()
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(("leave.request", "leave.refuse")), AuditEvent.id > since)
            .order_by(AuditEvent.id)
        )
        sentences = [entry.sentence for entry in audit_trail(s, events)]
    assert len(sentences) == 2
    assert sentences[0].startswith(f"Member {number} asked for leave of ")
    assert sentences[0].endswith("(出差)")
    assert sentences[1].startswith("Secretary secretary1 refused the leave of ")
    assert sentences[1].endswith("(请参加)")
