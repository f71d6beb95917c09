"""Check-ins racing each other, and nonces used twice, on both databases.

Real threads, each with its own app and engine (as gunicorn's workers have), meet at a
barrier and then post at once: on PostgreSQL the losers of a simultaneous insert hit the
unique constraints, on SQLite they queue for the write lock. Either way every answer must be
one a person understands (``ok``, ``already_checked_in``, the first answer replayed), never an
error, and there must be exactly one row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.demo import SECRETARY_PASSWORD
from qrservice.models import Attendance
from qrservice.timeutil import utcnow
from tests.conftest import make_app
from tests.scanhelpers import (
    card_url_of,
    member_id,
    member_in_branch,
    new_meeting,
    nonce,
    open_meeting_id,
)

REGULAR = "20260001"  # branch B01, not checked in to the demo's open meeting
SCANNERS = 8


def at_once(data_dir, request: Callable[[Any], Any], n: int = SCANNERS) -> list[Any]:
    """Run ``request(client)`` in n threads, each logged in as secretary1 on its own app, all
    released together; the answers, or the first exception a thread raised."""
    # The apps are made here, one after another: Python 3.11 before 3.11.9 may fail to compile
    # (as werkzeug does for each route) in several threads at once ("AST constructor
    # recursion depth mismatch").
    clients = []
    for _ in range(n):
        client = make_app(data_dir).test_client()
        client.post("/login", data={"username": "secretary1", "password": SECRETARY_PASSWORD})
        clients.append(client)
    barrier = threading.Barrier(n)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def scanner(client) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(timeout=60)
            answers.append(request(client))
        except BaseException as exc:  # noqa: BLE001 - reported below
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=scanner, args=(client,)) for client in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    assert len(answers) == n
    return answers


@pytest.fixture
def secretary(client, auth):  # type: ignore[no-untyped-def]
    auth.as_secretary(1)
    return client


def attendance_rows(app, meeting: int, member: int) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.meeting_id == meeting, Attendance.member_id == member)
        )


def checkin(client, meeting: int, **body: Any):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/meetings/{meeting}/checkins", json=body)


def test_simultaneous_scans_of_one_member_answer_ok_once_then_already_checked_in(app, data_dir):
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)

    def scan(client):  # type: ignore[no-untyped-def]
        response = checkin(client, meeting, code=code, nonce=nonce())
        return response.status_code, response.get_json()

    answers = at_once(data_dir, scan)
    assert {status for status, _ in answers} == {200}, answers
    outcomes = sorted((a["status"], a["reason"]) for _, a in answers)
    expected = [("ok", None)] + [("refused", "already_checked_in")] * (SCANNERS - 1)
    assert outcomes == expected, answers
    assert attendance_rows(app, meeting, member_id(app, REGULAR)) == 1


def test_simultaneous_manual_check_ins_of_one_member_give_one_row(app, data_dir):
    meeting = open_meeting_id(app)
    member = member_id(app, REGULAR)

    def manual(client):  # type: ignore[no-untyped-def]
        response = checkin(client, meeting, member_id=member, via="manual")
        return response.status_code, response.get_json()

    answers = at_once(data_dir, manual)
    assert {status for status, _ in answers} == {200}
    assert sorted(a["reason"] or "ok" for _, a in answers) == ["already_checked_in"] * (
        SCANNERS - 1
    ) + ["ok"]
    assert attendance_rows(app, meeting, member) == 1


def test_concurrent_syncs_of_one_queue_answer_the_first_answer_again(app, data_dir):
    meeting = open_meeting_id(app)
    numbers = [REGULAR, member_in_branch(app, "B01"), member_in_branch(app, "B01", skip=1)]
    scans = [
        {"code": card_url_of(app, n), "nonce": nonce(), "client_time": utcnow().isoformat() + "Z"}
        for n in numbers
    ]

    def sync(client):  # type: ignore[no-untyped-def]
        response = client.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans})
        return response.status_code, response.get_json()

    answers = at_once(data_dir, sync, n=4)
    assert {status for status, _ in answers} == {200}
    for i, scan in enumerate(scans):
        results = [body["results"][i] for _, body in answers]
        assert {r["nonce"] for r in results} == {scan["nonce"]}
        assert {r["status"] for r in results} == {"ok"}, results
        assert sorted(r["replayed"] for r in results) == [False, True, True, True]
        assert len({r["attendance"]["checked_in_at"] for r in results}) == 1
    for n in numbers:
        assert attendance_rows(app, meeting, member_id(app, n)) == 1


def test_a_nonce_used_at_another_meeting_is_refused_without_a_row(secretary, app):
    first_meeting = open_meeting_id(app)
    other_meeting = new_meeting(app, "B01")
    used = nonce()
    code = card_url_of(app, REGULAR)
    assert checkin(secretary, first_meeting, code=code, nonce=used).get_json()["status"] == "ok"

    response = checkin(secretary, other_meeting, code=code, nonce=used)
    assert response.status_code == 200
    answer = response.get_json()
    assert (answer["status"], answer["reason"]) == ("refused", "nonce_reused")
    assert answer["message"]
    assert attendance_rows(app, other_meeting, member_id(app, REGULAR)) == 0
    # the scan that owns the nonce still replays
    again = checkin(secretary, first_meeting, code=code, nonce=used).get_json()
    assert again["status"] == "ok" and again["replayed"] is True


def test_a_nonce_used_for_another_member_is_refused_on_a_taken_back_row_too(secretary, app):
    meeting = new_meeting(app, "B01")
    other = member_in_branch(app, "B01")
    used = nonce()
    assert (
        checkin(secretary, meeting, code=card_url_of(app, other), nonce=used).get_json()["status"]
        == "ok"
    )
    # REGULAR's row exists and was taken back, so the next scan would update it
    assert checkin(secretary, meeting, code=card_url_of(app, REGULAR)).get_json()["status"] == "ok"
    assert secretary.post(f"/api/v1/meetings/{meeting}/undo", json={}).get_json()["status"] == "ok"

    response = checkin(secretary, meeting, code=card_url_of(app, REGULAR), nonce=used)
    assert response.status_code == 200
    assert response.get_json()["reason"] == "nonce_reused"
    with app.app_context():
        status = db.session().scalar(
            select(Attendance.status).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, REGULAR)
            )
        )
    assert status == "undone"


def test_in_a_sync_only_the_scan_with_a_used_nonce_is_refused(secretary, app):
    meeting = open_meeting_id(app)
    used = nonce()
    first = checkin(secretary, meeting, code=card_url_of(app, REGULAR), nonce=used).get_json()
    assert first["status"] == "ok"
    other = member_in_branch(app, "B01")
    scans = [
        {"code": card_url_of(app, other), "nonce": used},
        {"code": card_url_of(app, member_in_branch(app, "B01", skip=1)), "nonce": nonce()},
    ]
    response = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert (results[0]["status"], results[0]["reason"]) == ("refused", "nonce_reused")
    assert results[1]["status"] == "ok"
    assert attendance_rows(app, meeting, member_id(app, other)) == 0


def test_closing_while_members_check_in_leaves_one_row_each_and_points_for_each_attendance(
    app, data_dir
):
    from qrservice.models import PointsEntry

    meeting = new_meeting(app, "B01")
    numbers = [member_in_branch(app, "B01", skip=i) for i in range(SCANNERS - 1)]
    roles = ["close"] + [card_url_of(app, n) for n in numbers]
    lock = threading.Lock()

    def request(client):  # type: ignore[no-untyped-def]
        with lock:
            role = roles.pop()
        if role == "close":
            return client.post(f"/meetings/{meeting}/close", data={"confirm": "yes"}).status_code
        return client.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": role}).get_json()

    answers = at_once(data_dir, request)
    assert 302 in answers, answers  # the close went through
    scans = [a for a in answers if isinstance(a, dict)]
    assert all(
        a["status"] == "ok" or a["reason"] == "meeting_not_open" for a in scans
    ), scans  # fmt: skip
    with app.app_context():
        s = db.session()
        for number in numbers:
            who = member_id(app, number)
            statuses = s.scalars(
                select(Attendance.status).where(
                    Attendance.meeting_id == meeting, Attendance.member_id == who
                )
            ).all()
            points = s.scalar(
                select(func.count()).where(
                    PointsEntry.meeting_id == meeting, PointsEntry.member_id == who
                )
            )
            assert len(statuses) == 1, (number, statuses)
            assert points == (1 if statuses[0] in ("present", "late") else 0), (number, statuses)
        oks = sum(a["status"] == "ok" for a in scans)
        present = s.scalar(
            select(func.count()).where(
                Attendance.meeting_id == meeting, Attendance.status.in_(("present", "late"))
            )
        )
        assert present == oks
