"""Correcting attendance after a meeting: the page, the rules, the trace, the points, the scope,
reopening check-in, and the ``qrservice attendance`` commands."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit_sentences import describe_event
from qrservice.models import (
    Attendance,
    AttendanceCorrection,
    AuditEvent,
    Meeting,
    Member,
    PointsEntry,
)
from qrservice.timeutil import local_time
from tests.scanhelpers import member_id, member_in_branch, new_meeting
from tests.test_points import POINTS, REGULAR, b01, close, closed_meeting, lines, scan, status_of

EN = {"Accept-Language": "en"}


@pytest.fixture
def secretary(client, auth):  # type: ignore[no-untyped-def]
    auth.as_secretary(1)
    return client


def correct(client, meeting: int, number: str, app, status: str, reason: str = "scanner failed"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/meetings/{meeting}/attendance/{member_id(app, number)}",
        data={"status": status, "reason": reason},
        headers=EN,
    )


def corrections_of(app, meeting: int, number: str) -> list[tuple[str, str, str]]:
    """This member's corrections at this meeting, oldest first: (from, to, reason)."""
    with app.app_context():
        rows = db.session().execute(
            select(
                AttendanceCorrection.from_status,
                AttendanceCorrection.to_status,
                AttendanceCorrection.reason,
            )
            .join(Attendance, Attendance.id == AttendanceCorrection.attendance_id)
            .where(Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, number))
            .order_by(AttendanceCorrection.id)
        )
        return [tuple(row) for row in rows]


def last_event_id(app) -> int:
    """The newest audit event's id: the demo's own trail comes before it."""
    with app.app_context():
        return db.session().scalar(select(func.max(AuditEvent.id))) or 0


def written(app) -> tuple[int, int, int]:
    """Corrections, points lines and audit events: what a refused correction must not add."""
    with app.app_context():
        s = db.session()
        return (
            s.scalar(select(func.count()).select_from(AttendanceCorrection)),
            s.scalar(select(func.count()).select_from(PointsEntry)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_absent_corrected_to_present_gives_that_member_the_points_and_keeps_the_trace(
    secretary, app
):
    attendee = member_in_branch(app, "B01", skip=1)
    meeting = closed_meeting(app, secretary, [attendee])
    assert status_of(app, meeting, REGULAR) == "absent"

    response = correct(secretary, meeting, REGULAR, app, "present", "  scanner  broke ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#m{member_id(app, REGULAR)}")

    assert status_of(app, meeting, REGULAR) == "present"
    assert lines(app, meeting, REGULAR) == [POINTS]
    assert lines(app, meeting, attendee) == [POINTS]  # the other member is untouched
    with app.app_context():
        s = db.session()
        row = s.scalar(
            select(Attendance).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, REGULAR)
            )
        )
        assert row.via == "closing"  # how it was first recorded stays
        (c,) = s.scalars(
            select(AttendanceCorrection).where(AttendanceCorrection.attendance_id == row.id)
        ).all()
        assert (c.attendance_id, c.from_status, c.to_status) == (row.id, "absent", "present")
        assert c.reason == "scanner broke" and c.corrected_by == "user:secretary1"
        shown_at = local_time(c.corrected_at).strftime("%Y-%m-%d %H:%M")
        event = s.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "attendance.correct")
            .order_by(AuditEvent.id.desc())
        )
        assert event.entity_type == "member" and event.entity_id == member_id(app, REGULAR)
        assert '"status": "absent"' in event.before and '"status": "present"' in event.after
        assert '"why": "scanner broke"' in event.after
    page = secretary.get(f"/meetings/{meeting}/attendance", headers=EN).get_data(as_text=True)
    assert "absent → present" in page and "scanner broke" in page
    assert shown_at in page
    assert "recorded at closing" in page


def test_the_correction_reads_as_a_sentence_in_the_trail(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    since = last_event_id(app)
    correct(secretary, meeting, REGULAR, app, "late", "came after the roll call")
    with app.test_request_context(headers=EN), app.app_context():
        (event,) = (
            db.session()
            .scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "attendance.correct", AuditEvent.id > since
                )
            )
            .all()
        )
        assert event.entity_id == member_id(app, REGULAR)
        sentence = describe_event(event)
    assert "corrected the attendance" in sentence
    assert "absent → late" in sentence and "came after the roll call" in sentence


def test_present_corrected_to_absent_reverses_the_points(secretary, app):
    meeting = closed_meeting(app, secretary, [REGULAR])
    assert correct(secretary, meeting, REGULAR, app, "absent").status_code == 302
    assert lines(app, meeting, REGULAR) == [POINTS, -POINTS]
    assert status_of(app, meeting, REGULAR) == "absent"


def test_present_corrected_to_late_keeps_the_points(secretary, app):
    meeting = closed_meeting(app, secretary, [REGULAR])
    assert correct(secretary, meeting, REGULAR, app, "late").status_code == 302
    assert status_of(app, meeting, REGULAR) == "late"
    assert lines(app, meeting, REGULAR) == [POINTS]


def test_present_corrected_to_on_leave_and_back_settles_each_time(secretary, app):
    meeting = closed_meeting(app, secretary, [REGULAR])
    correct(secretary, meeting, REGULAR, app, "excused", "leave was approved beforehand")
    correct(secretary, meeting, REGULAR, app, "present", "the leave was withdrawn")
    assert lines(app, meeting, REGULAR) == [POINTS, -POINTS, POINTS]
    assert corrections_of(app, meeting, REGULAR) == [
        ("present", "excused", "leave was approved beforehand"),
        ("excused", "present", "the leave was withdrawn"),
    ]


@pytest.mark.parametrize("reason", ["", "   ", "\t\n", "x" * 201])
def test_a_correction_without_a_reason_is_refused_naming_the_reason_and_writes_nothing(
    secretary, app, reason
):
    meeting = closed_meeting(app, secretary, [])
    before = written(app)
    response = correct(secretary, meeting, REGULAR, app, "present", reason)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="reason-{member_id(app, REGULAR)}-error"' in page
    assert "A reason of 1 to 200 characters is required." in page
    assert written(app) == before
    assert status_of(app, meeting, REGULAR) == "absent"


def test_a_reason_of_exactly_200_characters_is_kept(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    assert correct(secretary, meeting, REGULAR, app, "present", "理" * 200).status_code == 302
    assert corrections_of(app, meeting, REGULAR) == [("absent", "present", "理" * 200)]


@pytest.mark.parametrize("status", ["", "made_up", "visitor", "undone", "here"])
def test_a_correction_to_another_status_is_refused_naming_the_status(secretary, app, status):
    meeting = closed_meeting(app, secretary, [])
    before = written(app)
    response = correct(secretary, meeting, REGULAR, app, status)
    assert response.status_code == 422
    assert f'id="status-{member_id(app, REGULAR)}-error"' in response.get_data(as_text=True)
    assert written(app) == before


def test_a_correction_to_the_same_status_is_refused_as_already_so(secretary, app):
    meeting = closed_meeting(app, secretary, [REGULAR])
    before = written(app)
    response = correct(secretary, meeting, REGULAR, app, "present")
    assert response.status_code == 422
    assert "already" in response.get_data(as_text=True)
    assert written(app) == before


def test_a_correction_while_check_in_is_open_is_refused_and_writes_nothing(secretary, app):
    meeting = new_meeting(app, "B01", points=POINTS)
    scan(secretary, meeting, REGULAR, app)
    before = written(app)
    response = correct(secretary, meeting, REGULAR, app, "absent")
    assert response.status_code == 422
    assert "once check-in is closed" in response.get_data(as_text=True)
    assert written(app) == before
    assert status_of(app, meeting, REGULAR) == "present"
    page = secretary.get(f"/meetings/{meeting}/attendance", headers=EN).get_data(as_text=True)
    assert "Attendance can be corrected once check-in is closed." in page
    assert 'name="reason"' not in page


def test_a_correction_during_a_reopening_is_refused(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    secretary.post(f"/meetings/{meeting}/reopen", data={"confirm": "yes"})
    assert correct(secretary, meeting, REGULAR, app, "present").status_code == 422


def test_another_branch_secretary_gets_404_and_changes_nothing(client, auth, app):
    auth.as_secretary(1)
    meeting = closed_meeting(app, client, [])
    auth.logout()
    auth.as_secretary(2)
    before = written(app)
    assert client.get(f"/meetings/{meeting}/attendance").status_code == 404
    response = correct(client, meeting, REGULAR, app, "present")
    assert response.status_code == 404
    assert client.post(f"/meetings/{meeting}/reopen", data={"confirm": "yes"}).status_code == 404
    assert written(app) == before
    assert status_of(app, meeting, REGULAR) == "absent"


def test_a_member_the_meeting_does_not_expect_is_404_without_being_named(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    stranger = member_in_branch(app, "B02")
    before = written(app)
    response = correct(secretary, meeting, stranger, app, "present")
    assert response.status_code == 404
    with app.app_context():
        name = db.session().get(Member, member_id(app, stranger)).name
    assert name not in response.get_data(as_text=True)
    assert written(app) == before
    assert (
        secretary.post(
            f"/meetings/{meeting}/attendance/2147483647", data={"status": "present", "reason": "x"}
        ).status_code
        == 404
    )


def test_the_organiser_above_corrects_too(client, auth, app):
    auth.as_secretary(1)
    meeting = closed_meeting(app, client, [])
    auth.logout()
    auth.login()
    assert correct(client, meeting, REGULAR, app, "present").status_code == 302
    assert lines(app, meeting, REGULAR) == [POINTS]


def test_a_visitor_is_listed_and_can_be_corrected(secretary, app):
    meeting = new_meeting(app, "B01", points=POINTS)
    visitor = member_in_branch(app, "B02")
    answer = scan(secretary, meeting, visitor, app, confirm_visitor=True)
    assert answer["attendance"]["status"] == "visitor"
    close(secretary, meeting)
    page = secretary.get(f"/meetings/{meeting}/attendance", headers=EN).get_data(as_text=True)
    assert visitor in page
    assert correct(secretary, meeting, visitor, app, "present", "guest speaker").status_code == 302
    assert lines(app, meeting, visitor) == [POINTS]


def test_the_page_filters_by_name_or_number(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    other = member_in_branch(app, "B01", skip=2)
    page = secretary.get(f"/meetings/{meeting}/attendance?q={REGULAR}").get_data(as_text=True)
    assert REGULAR in page and other not in page
    everyone = secretary.get(f"/meetings/{meeting}/attendance").get_data(as_text=True)
    assert REGULAR in everyone and other in everyone


def test_the_meeting_page_links_to_corrections_once_closed(secretary, app):
    meeting = new_meeting(app, "B01")
    link = f"/meetings/{meeting}/attendance"
    assert link not in secretary.get(f"/meetings/{meeting}").get_data(as_text=True)
    close(secretary, meeting)
    assert link in secretary.get(f"/meetings/{meeting}").get_data(as_text=True)


def test_reopening_asks_first_then_opens_and_is_audited(secretary, app):
    meeting = closed_meeting(app, secretary, [])
    asked = secretary.post(f"/meetings/{meeting}/reopen", headers=EN)
    assert asked.status_code == 200 and "Reopen check-in" in asked.get_data(as_text=True)
    with app.app_context():
        assert db.session().get(Meeting, meeting).status == "closed"
    assert secretary.post(f"/meetings/{meeting}/reopen", data={"confirm": "yes"}).status_code == 302
    with app.app_context():
        s = db.session()
        found = s.get(Meeting, meeting)
        assert found.status == "open" and found.closed_at is not None
        assert s.scalar(select(func.count()).where(AuditEvent.action == "meeting.reopen")) == 1


def test_reopening_a_meeting_that_is_not_closed_is_refused(secretary, app):
    meeting = new_meeting(app, "B01")
    before = written(app)
    response = secretary.post(f"/meetings/{meeting}/reopen", data={"confirm": "yes"}, headers=EN)
    assert response.status_code == 409
    assert "Only a meeting whose check-in is closed can be reopened." in response.get_data(
        as_text=True
    )
    assert written(app) == before


# The command line.


def test_cli_corrects_lists_and_reopens(secretary, app, runner):
    from qrservice.cli import main

    attendees = b01(app, 2)
    meeting = closed_meeting(app, secretary, attendees)
    done = runner.invoke(
        main,
        ["attendance", "correct", str(meeting), "--member", REGULAR, "--status", "present",
         "--reason", "signed the paper list"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{REGULAR}: absent -> present; {POINTS} attendance points" in done.output
    assert lines(app, meeting, REGULAR) == [POINTS]

    listed = runner.invoke(main, ["attendance", "list", str(meeting)])
    assert listed.exit_code == 0, listed.output
    assert "corrected absent -> present by cli" in listed.output
    assert "signed the paper list" in listed.output
    assert attendees[0] in listed.output

    reopened = runner.invoke(main, ["attendance", "reopen", str(meeting), "--yes"])
    assert reopened.exit_code == 0, reopened.output
    with app.app_context():
        assert db.session().get(Meeting, meeting).status == "open"
    again = runner.invoke(main, ["attendance", "reopen", str(meeting), "--yes"])
    assert again.exit_code != 0 and "status:" in again.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--status", "present", "--reason", "   "], "reason:"),
        (["--status", "present"], "Missing option '--reason'"),
        (["--status", "made_up", "--reason", "x"], "Invalid value for '--status'"),
        (["--status", "absent", "--reason", "x"], "already"),
    ],
)
def test_cli_refuses_a_bad_correction_and_writes_nothing(secretary, app, runner, args, says):
    from qrservice.cli import main

    meeting = closed_meeting(app, secretary, [])
    before = written(app)
    done = runner.invoke(main, ["attendance", "correct", str(meeting), "--member", REGULAR, *args])
    assert done.exit_code != 0
    assert says in done.output
    assert written(app) == before


def test_cli_names_an_unknown_meeting_or_member(secretary, app, runner):
    from qrservice.cli import main

    meeting = closed_meeting(app, secretary, [])
    for argv, says in [
        (["attendance", "list", "999999"], "no meeting with id 999999"),
        (["attendance", "list", "99999999999"], "no meeting with id 99999999999"),
        (["attendance", "correct", str(meeting), "--member", "nobody", "--status", "present",
          "--reason", "x"], "no member with number 'nobody'"),
    ]:  # fmt: skip
        done = runner.invoke(main, argv)
        assert done.exit_code != 0 and says in done.output, done.output


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/meetings/{big}/attendance"),
        ("POST", "/meetings/{big}/attendance/1"),
        ("POST", "/meetings/{meeting}/attendance/{big}"),
        ("POST", "/meetings/{big}/reopen"),
    ],
)
def test_ids_past_what_the_database_holds_are_404(secretary, app, method, path):
    meeting = closed_meeting(app, secretary, [])
    url = path.format(big=2**63, meeting=meeting)
    data = {"status": "present", "reason": "x", "confirm": "yes"}
    response = secretary.get(url) if method == "GET" else secretary.post(url, data=data)
    assert response.status_code == 404
