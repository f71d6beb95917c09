"""The one check-in operation through its API: every reason, every door, replays, races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from qrservice import db
from qrservice.models import Attendance, Meeting
from qrservice.timeutil import utcnow
from scan.checkin import REASONS
from tests.scanhelpers import (
    card_url_of,
    member_id,
    member_in_branch,
    new_meeting,
    nonce,
    open_meeting_id,
    reissue,
    revoke,
)

REGULAR = "20260001"  # branch B01, not checked in to the demo's open meeting


def post(client, meeting, **body):
    body.setdefault("nonce", nonce())
    response = client.post(f"/api/v1/meetings/{meeting}/checkins", json=body)
    return response


def rows(app, meeting, member=None):
    with app.app_context():
        query = select(func.count()).select_from(Attendance).where(Attendance.meeting_id == meeting)
        if member is not None:
            query = query.where(Attendance.member_id == member)
        return db.session().scalar(query)


@pytest.fixture
def secretary(client, auth):
    auth.as_secretary(1)
    return client


def test_scan_checks_a_member_in_once(secretary, app):
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    first = post(secretary, meeting, code=code).get_json()
    assert first["status"] == "ok" and first["reason"] is None
    assert first["member"]["number"] == REGULAR
    assert first["attendance"]["status"] == "present"
    second = post(secretary, meeting, code=code).get_json()
    assert second["status"] == "refused" and second["reason"] == "already_checked_in"
    assert rows(app, meeting, member_id(app, REGULAR)) == 1


def test_repeated_nonce_gets_the_first_answer_without_a_second_row(secretary, app):
    meeting = open_meeting_id(app)
    body = {"code": card_url_of(app, REGULAR), "nonce": nonce()}
    first = post(secretary, meeting, **body).get_json()
    again = post(secretary, meeting, **body).get_json()
    assert first["status"] == again["status"] == "ok"
    assert again["replayed"] is True and first["replayed"] is False
    assert rows(app, meeting, member_id(app, REGULAR)) == 1


def test_bare_token_typed_by_a_usb_scanner_works(secretary, app):
    token = card_url_of(app, REGULAR).rsplit("/", 1)[1]
    result = post(secretary, open_meeting_id(app), code=token + "\n").get_json()
    assert result["status"] == "ok"


@pytest.mark.parametrize(
    "code",
    ["hello", "https://cards.example.org/c/1.c.k1.1.1.AAAAAAAAAAAAAAAAAAAAAA", "1.m.k1.1.1.x"],
)
def test_codes_that_are_not_ours_are_refused_as_invalid(secretary, app, code):
    result = post(secretary, open_meeting_id(app), code=code).get_json()
    assert (result["status"], result["reason"]) == ("refused", "invalid")


def test_reissued_card_old_code_is_refused_as_superseded(secretary, app):
    old = card_url_of(app, REGULAR)
    reissue(app, REGULAR)
    result = post(secretary, open_meeting_id(app), code=old).get_json()
    assert result["reason"] == "superseded"
    assert "organiser" in result["message"] or "组织" in result["message"]
    assert (
        post(secretary, open_meeting_id(app), code=card_url_of(app, REGULAR)).get_json()["status"]
        == "ok"
    )


def test_revoked_card_is_refused(secretary, app):
    code = card_url_of(app, REGULAR)
    revoke(app, REGULAR)
    assert post(secretary, open_meeting_id(app), code=code).get_json()["reason"] == "revoked"


def test_member_who_left_is_refused(secretary, client, app, auth):
    code = card_url_of(app, REGULAR)
    auth.logout()
    auth.login()
    client.post(
        f"/members/{member_id(app, REGULAR)}/active", data={"active": "no", "confirm": "yes"}
    )
    auth.logout()
    auth.as_secretary(1)
    assert post(client, open_meeting_id(app), code=code).get_json()["reason"] == "member_left"


def test_member_of_another_branch_is_a_visitor_only_when_confirmed(secretary, app):
    meeting = open_meeting_id(app)
    other = member_in_branch(app, "B03")
    code = card_url_of(app, other)
    refused = post(secretary, meeting, code=code).get_json()
    # Outside the secretary's branch: the refusal names nobody; the recorded visitor is named.
    assert refused["reason"] == "not_expected" and refused["member"] is None
    assert rows(app, meeting, member_id(app, other)) == 0
    ok = post(secretary, meeting, code=code, confirm_visitor=True).get_json()
    assert ok["status"] == "ok" and ok["attendance"]["status"] == "visitor"
    assert ok["member"]["number"] == other


def test_meeting_not_open_is_refused(secretary, app):
    meeting = new_meeting(app, "B01", opened=False)
    result = post(secretary, meeting, code=card_url_of(app, REGULAR)).get_json()
    assert result["reason"] == "meeting_not_open"


def test_late_arrival_is_marked_late(secretary, app):
    now = utcnow()
    meeting = new_meeting(
        app, "B01", starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(hours=1)
    )
    result = post(secretary, meeting, code=card_url_of(app, REGULAR)).get_json()
    assert result["attendance"]["status"] == "late"


def test_secretary_cannot_check_in_to_another_branchs_meeting(secretary, app):
    meeting = new_meeting(app, "B02")
    response = post(secretary, meeting, code=card_url_of(app, member_in_branch(app, "B02")))
    assert response.status_code == 404
    assert response.get_json()["reason"] == "no_meeting"


def test_manual_check_in_by_member_id(secretary, app):
    meeting = open_meeting_id(app)
    found = secretary.get(f"/api/v1/meetings/{meeting}/lookup?q={REGULAR}").get_json()
    assert found["members"][0]["number"] == REGULAR and not found["members"][0]["checked_in"]
    result = post(secretary, meeting, member_id=found["members"][0]["id"], via="manual").get_json()
    assert result["status"] == "ok" and result["attendance"]["via"] == "manual"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "code"),
        ({"code": "x", "member_id": 1}, "code"),
        ({"code": "x", "nonce": "short"}, "nonce"),
        ({"code": "x", "client_time": "yesterday"}, "client_time"),
        ({"code": "x", "via": "teleport"}, "via"),
        ({"member_id": "12"}, "member_id"),
    ],
)
def test_bad_requests_name_the_field_and_write_nothing(secretary, app, body, field):
    meeting = open_meeting_id(app)
    before = rows(app, meeting)
    response = secretary.post(f"/api/v1/meetings/{meeting}/checkins", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert rows(app, meeting) == before


def test_api_needs_an_officer_login(client, app):
    response = post(client, open_meeting_id(app), code="x")
    assert response.status_code == 401
    assert response.get_json()["reason"] == "login_required"


def test_offline_sync_twice_and_cut_off_half_way_never_loses_or_doubles(secretary, app):
    meeting = open_meeting_id(app)
    numbers = [member_in_branch(app, "B01"), member_in_branch(app, "B01", skip=1), REGULAR]
    scans = [
        {"code": card_url_of(app, n), "nonce": nonce(), "client_time": utcnow().isoformat() + "Z"}
        for n in numbers
    ]
    # the first sync carried only the first scan, and its answer was lost on the way back
    first = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans[:1]})
    assert first.status_code == 200
    full = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans}).get_json()
    again = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans}).get_json()
    assert [r["nonce"] for r in full["results"]] == [s["nonce"] for s in scans]
    assert full["results"][0]["replayed"] is True
    for result in again["results"]:
        assert result["replayed"] is True
    for n in numbers:
        assert rows(app, meeting, member_id(app, n)) == 1


def test_a_malformed_scan_in_a_sync_is_refused_on_its_own(secretary, app):
    meeting = open_meeting_id(app)
    before = rows(app, meeting)
    scans = [{"code": "x"}, {"code": card_url_of(app, REGULAR), "nonce": nonce()}]
    response = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans})
    assert response.status_code == 200
    bad, good = response.get_json()["results"]
    assert bad["status"] == "error" and bad["reason"] == "bad_request"
    assert bad["field"] == "scans[0].nonce"
    assert good["status"] == "ok" and good["nonce"] == scans[1]["nonce"]
    assert rows(app, meeting) == before + 1


def test_offline_scan_synced_after_closing_still_counts(secretary, app):
    meeting = open_meeting_id(app)
    scanned_at = utcnow().isoformat() + "Z"
    secretary.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
    member = member_id(app, REGULAR)
    with app.app_context():
        absent = db.session().scalar(
            select(Attendance.status).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member
            )
        )
    assert absent == "absent"
    scan = {"code": card_url_of(app, REGULAR), "nonce": nonce(), "client_time": scanned_at}
    result = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": [scan]}).get_json()
    assert result["results"][0]["status"] == "ok"
    assert rows(app, meeting, member) == 1


def test_undo_takes_back_the_last_check_in_and_is_audited(secretary, app):
    meeting = open_meeting_id(app)
    post(secretary, meeting, code=card_url_of(app, REGULAR))
    undone = secretary.post(f"/api/v1/meetings/{meeting}/undo", json={}).get_json()
    assert undone["status"] == "ok" and undone["member"]["number"] == REGULAR
    status = secretary.get(f"/api/v1/meetings/{meeting}/status").get_json()
    assert REGULAR in [m["number"] for m in status["missing"]]
    from qrservice.models import AuditEvent

    with app.app_context():
        assert (
            db.session().scalar(select(func.count()).where(AuditEvent.action == "attendance.undo"))
            == 1
        )
    assert post(secretary, meeting, code=card_url_of(app, REGULAR)).get_json()["status"] == "ok"


def test_status_counts_follow_check_ins(secretary, app):
    meeting = open_meeting_id(app)
    before = secretary.get(f"/api/v1/meetings/{meeting}/status").get_json()["counts"]
    post(secretary, meeting, code=card_url_of(app, REGULAR))
    after = secretary.get(f"/api/v1/meetings/{meeting}/status").get_json()["counts"]
    assert after["present"] == before["present"] + 1
    assert after["missing"] == before["missing"] - 1
    assert after["expected"] == before["expected"]


def test_a_check_in_takes_at_most_four_queries(secretary, app):
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    engine = db.engine_of(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = post(secretary, meeting, code=code).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result["status"] == "ok"
    assert len(statements) <= 4, statements


def test_two_scanners_at_the_same_moment_give_one_row(app, data_dir):
    from tests.conftest import make_app

    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    barrier = threading.Barrier(8)
    answers = []
    # Apps made before the threads: werkzeug compiling one app's routes in several threads
    # at once can fail on Python 3.11.
    apps = [make_app(data_dir) for _ in range(8)]

    def scanner(scanner_app):
        client = scanner_app.test_client()
        client.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
        barrier.wait(timeout=60)
        answers.append(post(client, meeting, code=code).get_json())

    threads = [threading.Thread(target=scanner, args=(a,)) for a in apps]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for scanner_app in apps:
            db.engine_of(scanner_app).dispose()
    assert sorted(a["status"] for a in answers) == ["ok"] + ["refused"] * 7
    assert {a["reason"] for a in answers if a["status"] == "refused"} == {"already_checked_in"}
    assert rows(app, meeting, member_id(app, REGULAR)) == 1


def test_openapi_lists_exactly_the_reasons_of_the_code(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/meetings/{meeting_id}/checkins"]["post"]["responses"]["200"]
    reasons = schema["content"]["application/json"]["schema"]["properties"]["reason"]["enum"]
    assert set(reasons) - {None} == set(REASONS)


def test_closing_marks_the_missing_absent_and_awards_points(secretary, app):
    meeting = open_meeting_id(app)
    post(secretary, meeting, code=card_url_of(app, REGULAR))
    secretary.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
    with app.app_context():
        s = db.session()
        assert s.get(Meeting, meeting).status == "closed"
        statuses = dict(
            s.execute(
                select(Attendance.status, func.count())
                .where(Attendance.meeting_id == meeting)
                .group_by(Attendance.status)
            ).all()
        )
    assert statuses["present"] >= 12 and statuses["absent"] >= 1
