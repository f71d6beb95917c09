"""Points follow attendance exactly: close, reopen, close again, undo, late offline scans, and
two settles of one meeting at once, on both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select, update

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.meetings import close_checkin
from qrservice.life.points import settle_attendance_points
from qrservice.models import Attendance, AuditEvent, Meeting, PointsEntry
from qrservice.timeutil import utcnow
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, member_id, member_in_branch, new_meeting, nonce

REGULAR = "20260001"  # branch B01
POINTS = 3


@pytest.fixture
def secretary(client, auth):  # type: ignore[no-untyped-def]
    auth.as_secretary(1)
    return client


def scan(client, meeting: int, number: str, app, **body):  # type: ignore[no-untyped-def]
    body = {"code": card_url_of(app, number), "nonce": nonce(), **body}
    return client.post(f"/api/v1/meetings/{meeting}/checkins", json=body).get_json()


def close(client, meeting: int):  # type: ignore[no-untyped-def]
    return client.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})


def reopen(client, meeting: int):  # type: ignore[no-untyped-def]
    return client.post(f"/meetings/{meeting}/reopen", data={"confirm": "yes"})


def lines(app, meeting: int, number: str) -> list[int]:
    """The member's attendance ledger lines for the meeting, oldest first."""
    with app.app_context():
        return list(
            db.session().scalars(
                select(PointsEntry.points)
                .where(
                    PointsEntry.meeting_id == meeting,
                    PointsEntry.member_id == member_id(app, number),
                    PointsEntry.kind == "attendance",
                )
                .order_by(PointsEntry.id)
            )
        )


def status_of(app, meeting: int, number: str) -> str | None:
    with app.app_context():
        return db.session().scalar(
            select(Attendance.status).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, number)
            )
        )


def closed_meeting(app, client, numbers: list[str], points: int = POINTS) -> int:  # type: ignore[no-untyped-def]
    """A B01 meeting where ``numbers`` checked in, then closed by the logged-in officer."""
    meeting = new_meeting(app, "B01", points=points)
    for number in numbers:
        assert scan(client, meeting, number, app)["status"] == "ok"
    assert close(client, meeting).status_code == 302
    return meeting


def b01(app, n: int) -> list[str]:
    return [member_in_branch(app, "B01", skip=i) for i in range(n)]


def test_close_reopen_close_awards_the_attendance_points_exactly_once(secretary, app):
    attendees = b01(app, 3)
    meeting = closed_meeting(app, secretary, attendees)
    assert [lines(app, meeting, n) for n in attendees] == [[POINTS]] * 3

    assert reopen(secretary, meeting).status_code == 302
    assert close(secretary, meeting).status_code == 302
    assert reopen(secretary, meeting).status_code == 302
    assert close(secretary, meeting).status_code == 302

    assert [lines(app, meeting, n) for n in attendees] == [[POINTS]] * 3
    with app.app_context():
        s = db.session()
        actions = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "meeting", AuditEvent.entity_id == meeting)
            .order_by(AuditEvent.id)
        ).all()
        assert actions[-4:] == ["meeting.reopen", "meeting.close"] * 2
        assert s.get(Meeting, meeting).status == "closed"


def test_a_second_close_request_of_a_closed_meeting_awards_nothing_more(secretary, app):
    attendees = b01(app, 2)
    meeting = closed_meeting(app, secretary, attendees)
    assert close(secretary, meeting).status_code == 302
    assert [lines(app, meeting, n) for n in attendees] == [[POINTS]] * 2


def test_undo_after_close_takes_the_points_back_with_a_reversing_line_and_deletes_nothing(
    secretary, app
):
    first, last = b01(app, 2)
    meeting = closed_meeting(app, secretary, [first, last])
    undone = secretary.post(f"/api/v1/meetings/{meeting}/undo", json={}).get_json()
    assert undone["status"] == "ok" and undone["member"]["number"] == last

    assert lines(app, meeting, last) == [POINTS, -POINTS]  # the award stays, reversed
    assert sum(lines(app, meeting, last)) == 0
    assert lines(app, meeting, first) == [POINTS]  # the other member is untouched
    assert status_of(app, meeting, last) == "undone"
    with app.app_context():
        reversal = db.session().scalar(
            select(PointsEntry).where(
                PointsEntry.meeting_id == meeting,
                PointsEntry.member_id == member_id(app, last),
                PointsEntry.points < 0,
            )
        )
        assert reversal.kind == "attendance"
        assert reversal.reason == "撤销：测试会议"  # the organisation's language (zh)
        assert reversal.recorded_by == "user:secretary1"
        assert reversal.at == db.session().get(Meeting, meeting).starts_at
    # closing again after a reopening does not give the points back
    reopen(secretary, meeting)
    close(secretary, meeting)
    assert sum(lines(app, meeting, last)) == 0 and len(lines(app, meeting, last)) == 2


def test_undo_during_a_reopening_takes_the_points_back_at_once(secretary, app):
    (member,) = b01(app, 1)
    meeting = closed_meeting(app, secretary, [member])
    reopen(secretary, meeting)
    other = member_in_branch(app, "B01", skip=5)
    assert scan(secretary, meeting, other, app)["status"] == "ok"
    secretary.post(f"/api/v1/meetings/{meeting}/undo", json={})  # takes back `other`
    secretary.post(f"/api/v1/meetings/{meeting}/undo", json={})  # takes back `member`
    assert lines(app, meeting, member) == [POINTS, -POINTS]
    assert lines(app, meeting, other) == []  # earned nothing yet, so nothing to take back
    close(secretary, meeting)
    assert sum(lines(app, meeting, member)) == 0 and lines(app, meeting, other) == []


def test_undo_after_check_in_was_opened_again_with_the_open_button_takes_the_points_back(
    secretary, app
):
    """ "Open check-in" on a closed meeting (not the confirmed reopening) still keeps points
    exact: the undo settles, and so does the next close."""
    meeting = closed_meeting(app, secretary, [REGULAR])
    assert secretary.post(f"/meetings/{meeting}/open").status_code == 302
    secretary.post(f"/api/v1/meetings/{meeting}/undo", json={})
    assert lines(app, meeting, REGULAR) == [POINTS, -POINTS]
    close(secretary, meeting)
    assert lines(app, meeting, REGULAR) == [POINTS, -POINTS]


def test_undo_while_check_in_is_open_for_the_first_time_writes_no_points(secretary, app):
    meeting = new_meeting(app, "B01", points=POINTS)
    scan(secretary, meeting, REGULAR, app)
    secretary.post(f"/api/v1/meetings/{meeting}/undo", json={})
    assert lines(app, meeting, REGULAR) == []
    close(secretary, meeting)
    assert lines(app, meeting, REGULAR) == []


def test_member_absent_at_close_who_scans_during_the_reopening_is_present_and_earns_at_the_next_close(  # noqa: E501
    secretary, app
):
    (early,) = b01(app, 1)
    meeting = closed_meeting(app, secretary, [early])
    assert status_of(app, meeting, REGULAR) == "absent"
    assert reopen(secretary, meeting).status_code == 302

    result = scan(secretary, meeting, REGULAR, app)
    assert result["status"] == "ok" and result["attendance"]["status"] == "present"
    assert status_of(app, meeting, REGULAR) == "present"
    assert lines(app, meeting, REGULAR) == []  # settled when check-in closes again
    close(secretary, meeting)
    assert lines(app, meeting, REGULAR) == [POINTS]
    assert lines(app, meeting, early) == [POINTS]


def test_a_member_on_leave_stays_excused_through_a_reopening_unless_scanned(secretary, app):
    meeting = new_meeting(app, "B01", points=POINTS)
    on_leave, scanned = b01(app, 2)
    with app.app_context():
        s = db.session()
        for number in (on_leave, scanned):
            s.add(
                Attendance(
                    meeting_id=meeting, member_id=member_id(app, number), status="excused",
                    via="leave", checked_in_at=utcnow(), recorded_by="test",
                )
            )  # fmt: skip
        s.commit()
    close(secretary, meeting)
    reopen(secretary, meeting)
    assert scan(secretary, meeting, scanned, app)["status"] == "ok"
    close(secretary, meeting)
    assert status_of(app, meeting, on_leave) == "excused"
    assert lines(app, meeting, on_leave) == []
    assert status_of(app, meeting, scanned) == "present"
    assert lines(app, meeting, scanned) == [POINTS]


def test_offline_scan_synced_after_closing_earns_the_points_once(secretary, app):
    meeting = new_meeting(app, "B01", points=POINTS)
    offline = {"code": card_url_of(app, REGULAR), "nonce": nonce(),
               "client_time": utcnow().isoformat() + "Z"}  # fmt: skip
    close(secretary, meeting)
    for _attempt in range(2):  # the queue synced twice: the second is a replay
        answer = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": [offline]})
        assert answer.get_json()["results"][0]["status"] == "ok"
    assert status_of(app, meeting, REGULAR) == "present"
    assert lines(app, meeting, REGULAR) == [POINTS]
    reopen(secretary, meeting)
    close(secretary, meeting)
    assert lines(app, meeting, REGULAR) == [POINTS]


def test_settle_follows_a_changed_value_of_the_meeting_and_adds_nothing_when_exact(secretary, app):
    attendees = b01(app, 2)
    meeting = closed_meeting(app, secretary, attendees)
    with app.app_context(), db.transaction(app) as s:
        found = s.get(Meeting, meeting)
        assert settle_attendance_points(s, found, None, "test") == 0
        found.points = POINTS + 2
        assert settle_attendance_points(s, found, None, "test") == 2
        assert settle_attendance_points(s, found, None, "test") == 0
    assert [lines(app, meeting, n) for n in attendees] == [[POINTS, 2]] * 2


def test_settling_takes_the_same_number_of_queries_for_few_members_and_many(app):
    """A grouped sum and one insert: the count does not grow with the number of members."""
    counts = []
    for unit in ("B01-G1", "B01"):
        meeting = new_meeting(app, unit, points=POINTS)
        with app.app_context(), db.transaction(app) as s:
            found = s.get(Meeting, meeting)
            close_checkin(s, Actor.system("test"), found)
            # Everyone attended after all (written behind settle's back): each needs a line.
            s.execute(
                update(Attendance).where(Attendance.meeting_id == meeting).values(status="present")
            )
            s.flush()
            statements = []
            engine = s.get_bind()

            def count(*args, statements=statements):  # type: ignore[no-untyped-def]
                statements.append(args[2])

            event.listen(engine, "before_cursor_execute", count)
            try:
                added = settle_attendance_points(s, found, None, "test")
            finally:
                event.remove(engine, "before_cursor_execute", count)
            expected = s.scalar(select(func.count()).where(Attendance.meeting_id == meeting))
        assert added == expected > 0
        counts.append((len(statements), added))
    (few_queries, few), (many_queries, many) = counts
    assert many > few
    assert few_queries == many_queries <= 4, counts


def test_two_settles_of_one_meeting_at_once_leave_each_member_the_right_sum(
    secretary, app, data_dir
):
    attendees = b01(app, 6)
    meeting = closed_meeting(app, secretary, attendees)
    taken_back = attendees[:4]
    with app.app_context(), db.transaction(app) as s:
        # Attendance changed without settling: both settles below find the same difference.
        ids = [member_id(app, n) for n in taken_back]
        s.execute(
            update(Attendance)
            .where(Attendance.meeting_id == meeting, Attendance.member_id.in_(ids))
            .values(status="absent")
        )
    apps = [make_app(data_dir) for _ in range(2)]  # made before the threads (see races)
    barrier = threading.Barrier(len(apps))
    added: list[int] = []
    errors: list[BaseException] = []

    def settle(one) -> None:  # type: ignore[no-untyped-def]
        try:
            with one.app_context():
                barrier.wait(timeout=60)
                with db.write_transaction() as s:
                    added.append(settle_attendance_points(s, s.get(Meeting, meeting), None, "test"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=settle, args=(one,)) for one in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(added) == [0, len(taken_back)]
    for number in taken_back:
        assert lines(app, meeting, number) == [POINTS, -POINTS]
    for number in attendees[4:]:
        assert lines(app, meeting, number) == [POINTS]
