"""Scanner devices through the API and the officers' pages: pairing, what a device may and may
not reach, revocation and re-pairing, and the rule that a refusal never describes a member the
caller may not see (officers and devices alike)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from qrservice import db
from qrservice.audit import Actor
from qrservice.models import Attendance, AuditEvent, Meeting, Member, ScannerDevice, Unit
from qrservice.org.devices import PAIRING_ALPHABET, create_device, new_pairing_code, revoke_device
from qrservice.timeutil import utcnow
from scan.lists import card_digest
from tests.conftest import make_app
from tests.scanhelpers import (
    card_url_of,
    member_id,
    member_in_branch,
    new_meeting,
    nonce,
    open_meeting_id,
    reissue,
)

REGULAR = "20260001"  # branch B01, not checked in to the demo's open meeting


def make_device(app: Flask, branch: str = "B01", **fields) -> tuple[int, str]:
    """A new device of the branch and its pairing code, as an officer's form makes them."""
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == branch))
        meeting = s.get(Meeting, fields.pop("meeting_id")) if "meeting_id" in fields else None
        device, code = create_device(
            s, Actor.system("test"), unit=unit, name=fields.pop("name", "门口的手机"),
            meeting=meeting, **fields,
        )  # fmt: skip
        s.commit()
        return device.id, code


def pair(client: FlaskClient, code: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/devices/pair", json={"code": code})


def paired(app: Flask, client: FlaskClient, branch: str = "B01", **fields) -> tuple[int, str]:
    device_id, code = make_device(app, branch, **fields)
    answer = pair(client, code)
    assert answer.status_code == 200, answer.get_json()
    return device_id, answer.get_json()["token"]


def expire(app: Flask, device_id: int, column: str) -> None:
    """Put the device's ``column`` (a time something ends) a second in the past."""
    with app.app_context():
        s = db.session()
        s.execute(
            update(ScannerDevice)
            .where(ScannerDevice.id == device_id)
            .values({column: utcnow() - timedelta(seconds=1)})
        )
        s.commit()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def device_post(client, token, meeting, path="checkins", **body):  # type: ignore[no-untyped-def]
    if path == "checkins":
        body.setdefault("nonce", nonce())
    return client.post(f"/api/v1/meetings/{meeting}/{path}", json=body, headers=bearer(token))


def audit(app: Flask, action: str, device_id: int) -> list[tuple[str, str | None]]:
    """(actor, after) of the device's trail entries with this action."""
    with app.app_context():
        return list(
            db.session().execute(
                select(AuditEvent.actor, AuditEvent.after).where(
                    AuditEvent.action == action,
                    AuditEvent.entity_type == "scanner_device",
                    AuditEvent.entity_id == device_id,
                )
            )
        )


def attendance_rows(app: Flask, meeting: int, member: int) -> list:  # type: ignore[type-arg]
    """(status, device_id, recorded_by) of the member's rows at the meeting."""
    with app.app_context():
        return list(
            db.session().execute(
                select(Attendance.status, Attendance.device_id, Attendance.recorded_by).where(
                    Attendance.meeting_id == meeting, Attendance.member_id == member
                )
            )
        )


# ---------- pairing ----------


def test_pairing_gives_a_token_once_and_stores_only_hashes(app, client):
    device_id, code = make_device(app)
    assert len(code) == 8 and set(code) <= set(PAIRING_ALPHABET)
    answer = pair(client, code[:4].lower() + "-" + code[4:])  # as a helper types it
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["device"]["id"] == device_id and body["device"]["unit"]
    token = body["token"]
    with app.app_context():
        device = db.session().get(ScannerDevice, device_id)
        stored = [device.token_hash, device.pairing_code_hash]
        assert device.paired_at is not None and device.pairing_code_hash is None
    assert token not in str(stored) and code not in str(stored)
    assert [actor for actor, _ in audit(app, "device.pair", device_id)] == [f"device:{device_id}"]


def test_pairing_code_used_twice_is_refused(app, client):
    _device_id, code = make_device(app)
    assert pair(client, code).status_code == 200
    again = pair(client, code)
    assert again.status_code == 400
    assert again.get_json()["reason"] == "pairing_invalid"


def test_expired_pairing_code_is_refused(app, client):
    device_id, code = make_device(app)
    expire(app, device_id, "pairing_expires_at")
    answer = pair(client, code)
    assert answer.status_code == 400
    assert answer.get_json()["reason"] == "pairing_expired"
    assert answer.get_json()["message"]


@pytest.mark.parametrize("code", ["ABCD1234", "ZZZZZZZZ", "", "x" * 40, 12345678])
def test_bad_pairing_code_is_refused_with_a_reason(app, client, code):
    make_device(app)
    answer = pair(client, code)
    assert answer.status_code == 400
    assert answer.get_json()["reason"] in ("pairing_invalid", "bad_request")


def test_pairing_needs_no_csrf_token_and_sets_no_login(data_dir):
    app = make_app(data_dir, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    _device_id, code = make_device(app)
    answer = pair(client, code)
    assert answer.status_code == 200
    assert client.get("/members/").status_code == 302  # still nobody logged in


# ---------- what a device may do ----------


def test_bearer_check_in_needs_no_csrf_and_rows_carry_the_device(data_dir):
    app = make_app(data_dir, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    answer = device_post(client, token, meeting, code=card_url_of(app, REGULAR))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok" and body["member"]["number"] == REGULAR
    (row,) = attendance_rows(app, meeting, member_id(app, REGULAR))
    assert (row.device_id, row.recorded_by) == (device_id, f"device:{device_id}")
    # The session path still wants its CSRF token.
    client.post("/login", data={"username": "secretary1", "password": "x"})
    assert client.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": "x"}).status_code in (
        400,
        401,
    )


def test_officer_rows_carry_no_device(client, auth, app):
    auth.as_secretary(1)
    meeting = open_meeting_id(app)
    client.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": card_url_of(app, REGULAR)})
    (row,) = attendance_rows(app, meeting, member_id(app, REGULAR))
    assert (row.device_id, row.recorded_by) == (None, "user:secretary1")


def test_a_bearer_request_is_decided_by_its_token_never_by_the_session(app, client, auth):
    auth.as_secretary(1)
    meeting = open_meeting_id(app)
    answer = client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer("not-a-token"))
    assert answer.status_code == 401
    assert answer.get_json()["reason"] == "device_unknown"
    assert client.get(f"/api/v1/meetings/{meeting}/status").status_code == 200


def test_device_reaches_its_branchs_open_meeting_and_lists_it(app, client):
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    info = client.get("/api/v1/device", headers=bearer(token)).get_json()
    assert info["device"]["id"] == device_id
    assert [m["id"] for m in info["meetings"]] == [meeting]
    assert info["meetings"][0]["scanner"] == f"/scan/meetings/{meeting}"
    status = client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token))
    assert status.status_code == 200 and status.get_json()["meeting"]["id"] == meeting


def test_device_cannot_reach_another_branchs_meeting(app, client):
    _device_id, token = paired(app, client, "B01")
    other = new_meeting(app, "B02")
    code = card_url_of(app, member_in_branch(app, "B02"))
    for path in ("status", "expected", "lookup?q=2026"):
        answer = client.get(f"/api/v1/meetings/{other}/{path}", headers=bearer(token))
        assert answer.status_code == 404, path
    assert device_post(client, token, other, code=code).status_code == 404
    scan = {"code": code, "nonce": nonce()}
    assert device_post(client, token, other, "sync", scans=[scan]).status_code == 404
    assert device_post(client, token, other, "undo").status_code == 404
    info = client.get("/api/v1/device", headers=bearer(token)).get_json()
    assert other not in [m["id"] for m in info["meetings"]]


def test_device_for_one_meeting_reaches_only_that_meeting(app, client):
    one = new_meeting(app, "B01", title="只这一个")
    _device_id, token = paired(app, client, "B01", meeting_id=one)
    info = client.get("/api/v1/device", headers=bearer(token)).get_json()
    assert [m["id"] for m in info["meetings"]] == [one]
    demo = open_meeting_id(app)
    assert client.get(f"/api/v1/meetings/{demo}/status", headers=bearer(token)).status_code == 404
    assert client.get(f"/api/v1/meetings/{one}/status", headers=bearer(token)).status_code == 200


def test_device_cannot_read_a_scheduled_meeting(app, client):
    _device_id, token = paired(app, client)
    later = new_meeting(app, "B01", opened=False)
    for path in ("status", "expected"):
        answer = client.get(f"/api/v1/meetings/{later}/{path}", headers=bearer(token))
        assert answer.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/members/"),
        ("GET", "/members/1"),
        ("GET", "/members/export.csv"),
        ("GET", "/members/export.xlsx"),
        ("GET", "/cards/"),
        ("GET", "/meetings/"),
        ("GET", "/devices/"),
        ("GET", "/devices/new"),
        ("GET", "/users/"),
        ("GET", "/units"),
    ],
)
def test_device_token_reaches_no_page_outside_the_scanner(app, client, auth, method, path):
    _device_id, token = paired(app, client)

    def refused(answer) -> bool:  # type: ignore[no-untyped-def]
        if answer.status_code in (301, 302, 303):
            return "/login" in answer.headers["Location"]
        return answer.status_code in (401, 403, 404)

    assert refused(client.open(path, method=method, headers=bearer(token))), path
    # Not even with an officer's session alongside: a bearer request is never an officer's.
    auth.login()  # the organiser, who may open every one of these pages
    assert not refused(client.get(path)), path
    assert refused(client.open(path, method=method, headers=bearer(token))), path


def test_device_sees_a_card_page_only_as_a_stranger_does(app, client, auth):
    _device_id, token = paired(app, client)
    path = "/" + card_url_of(app, REGULAR).split("://", 1)[1].split("/", 1)[1]
    auth.as_secretary(1)
    assert REGULAR in client.get(path).get_data(as_text=True)  # the full card
    assert REGULAR not in client.get(path, headers=bearer(token)).get_data(as_text=True)


def test_device_lookup_sees_only_the_meetings_expected_list(app, client, auth):
    # A group meeting of B01-G1: a member of B01-G2 is in the branch but not expected.
    meeting = new_meeting(app, "B01-G1", title="小组会")
    with app.app_context():
        s = db.session()
        g2 = s.scalar(select(Unit).where(Unit.code == "B01-G2"))
        outside = s.scalar(
            select(Member).where(Member.unit_id == g2.id, Member.active.is_(True)).limit(1)
        )
        outside_number, outside_id = outside.number, outside.id
    _device_id, token = paired(app, client)
    found = client.get(
        f"/api/v1/meetings/{meeting}/lookup?q={outside_number}", headers=bearer(token)
    ).get_json()
    assert found["members"] == []
    expected = client.get(f"/api/v1/meetings/{meeting}/expected", headers=bearer(token))
    assert outside_id not in [m["id"] for m in expected.get_json()["members"]]
    # ... and checking them in by id answers exactly like an id that does not exist.
    by_id = device_post(client, token, meeting, member_id=outside_id, via="manual").get_json()
    missing = device_post(client, token, meeting, member_id=99999, via="manual").get_json()
    assert by_id == missing
    assert by_id["reason"] == "no_member" and by_id["member"] is None
    # The secretary of the branch does find them.
    auth.as_secretary(1)
    found = client.get(f"/api/v1/meetings/{meeting}/lookup?q={outside_number}").get_json()
    assert [m["number"] for m in found["members"]] == [outside_number]


def test_device_card_scan_of_another_branch_names_nobody_until_recorded(app, client):
    _device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    other = member_in_branch(app, "B03")
    code = card_url_of(app, other)
    refused = device_post(client, token, meeting, code=code).get_json()
    assert refused["reason"] == "not_expected" and refused["member"] is None
    assert other not in json.dumps(refused, ensure_ascii=False)
    with app.app_context():
        name = db.session().scalar(select(Member.name).where(Member.number == other))
    assert name not in refused["message"]
    ok = device_post(client, token, meeting, code=code, confirm_visitor=True).get_json()
    assert ok["status"] == "ok" and ok["member"]["number"] == other


def test_device_status_does_not_show_visitors_an_officer_recorded(app, client, auth):
    meeting = open_meeting_id(app)
    visitor = member_in_branch(app, "B03")
    auth.as_secretary(1)
    recorded = client.post(
        f"/api/v1/meetings/{meeting}/checkins",
        json={"code": card_url_of(app, visitor), "confirm_visitor": True},
    ).get_json()
    assert recorded["status"] == "ok"
    officer_view = client.get(f"/api/v1/meetings/{meeting}/status").get_json()
    assert visitor in [r["number"] for r in officer_view["recent"]]
    auth.logout()
    _device_id, token = paired(app, client)
    status = client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token)).get_json()
    assert visitor not in json.dumps(status, ensure_ascii=False)
    assert status["recent"]  # the branch's own check-ins are still shown


def test_expected_list_has_card_digests_not_codes(app, client):
    _device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    device_post(client, token, meeting, code=card_url_of(app, REGULAR))
    body = client.get(f"/api/v1/meetings/{meeting}/expected", headers=bearer(token)).get_json()
    by_number = {m["number"]: m for m in body["members"]}
    token_text = card_url_of(app, REGULAR).rsplit("/", 1)[1]
    regular = by_number[REGULAR]
    assert regular["card"]["digest"] == card_digest(token_text)
    assert regular["attendance"] == "present"
    assert token_text not in json.dumps(body)
    assert set(regular) == {"id", "name", "number", "unit", "card", "attendance"}
    assert body["at"].endswith("Z") and body["meeting"]["id"] == meeting
    # The list is the meeting's expected list, as the missing list counts it.
    status = client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token)).get_json()
    assert len(body["members"]) == status["counts"]["expected"]


def test_a_reissued_card_changes_the_digest_in_the_list(app, client):
    _device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    old = card_url_of(app, REGULAR).rsplit("/", 1)[1]
    reissue(app, REGULAR)
    body = client.get(f"/api/v1/meetings/{meeting}/expected", headers=bearer(token)).get_json()
    card = {m["number"]: m for m in body["members"]}[REGULAR]["card"]
    assert card["version"] == 2 and card["digest"] != card_digest(old)


def test_device_undo_takes_back_only_what_it_recorded(app, client, auth):
    _device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    device_post(client, token, meeting, code=card_url_of(app, REGULAR))
    auth.as_secretary(1)
    second = member_in_branch(app, "B01", skip=3)
    client.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": card_url_of(app, second)})
    auth.logout()
    undone = device_post(client, token, meeting, "undo").get_json()
    assert undone["status"] == "ok" and undone["member"]["number"] == REGULAR
    (row,) = attendance_rows(app, meeting, member_id(app, second))
    assert row.status == "present"
    with app.app_context():
        actor = db.session().scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "attendance.undo")
        )
    assert actor.startswith("device:")


def test_a_device_check_in_takes_at_most_five_queries(app, client):
    _device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    engine = db.engine_of(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = device_post(client, token, meeting, code=code).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result["status"] == "ok"
    # the token, the meeting, then the check-in's own three (last seen was written at pairing)
    assert len(statements) <= 5, statements


def test_last_seen_is_written_at_most_once_a_minute(app, client):
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    long_ago = utcnow() - timedelta(minutes=5)
    with app.app_context():
        s = db.session()
        s.execute(
            update(ScannerDevice).where(ScannerDevice.id == device_id).values(last_seen_at=long_ago)
        )
        s.commit()

    def last_seen():  # type: ignore[no-untyped-def]
        with app.app_context():
            return db.session().get(ScannerDevice, device_id).last_seen_at

    client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token))
    first = last_seen()
    assert first > long_ago
    with app.app_context():
        s = db.session()
        s.execute(
            update(ScannerDevice)
            .where(ScannerDevice.id == device_id)
            .values(last_seen_at=first - timedelta(seconds=30))
        )
        s.commit()
    client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token))
    assert last_seen() == first - timedelta(seconds=30)  # 30 s ago: not written again


# ---------- revocation, expiry, re-pairing ----------


def test_revoked_device_next_call_gets_401_and_the_trail_says_so(app, client):
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    assert (
        client.get(f"/api/v1/meetings/{meeting}/status", headers=bearer(token)).status_code == 200
    )
    with app.app_context():
        s = db.session()
        revoke_device(s, Actor.system("test"), s.get(ScannerDevice, device_id))
        s.commit()
    for _ in range(3):
        answer = device_post(client, token, meeting, code=card_url_of(app, REGULAR))
        assert answer.status_code == 401
        assert answer.get_json()["reason"] == "device_revoked"
        assert answer.get_json()["message"]
        assert "Bearer" in answer.headers["WWW-Authenticate"]
    assert attendance_rows(app, meeting, member_id(app, REGULAR)) == []
    assert len(audit(app, "device.revoke", device_id)) == 1
    refused = audit(app, "device.refused", device_id)
    assert len(refused) == 1, "refused use is written once a minute, not on every call"
    assert json.loads(refused[0][1]) == {"reason": "device_revoked"}
    info = client.get("/api/v1/device", headers=bearer(token))
    assert info.status_code == 401


def test_expired_device_is_refused(app, client):
    device_id, token = paired(app, client)
    expire(app, device_id, "expires_at")
    answer = client.get("/api/v1/device", headers=bearer(token))
    assert answer.status_code == 401 and answer.get_json()["reason"] == "device_expired"


def test_repairing_then_syncing_the_old_queue_lands_exactly_once(app, client):
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    numbers = [REGULAR, member_in_branch(app, "B01", skip=2)]
    queue = [
        {"code": card_url_of(app, n), "nonce": nonce(), "client_time": utcnow().isoformat() + "Z"}
        for n in numbers
    ]
    # The first scan was sent and recorded, but its answer never came back.
    first = device_post(client, token, meeting, "sync", scans=queue[:1])
    assert first.status_code == 200
    with app.app_context():
        s = db.session()
        revoke_device(s, Actor.system("test"), s.get(ScannerDevice, device_id))
        s.commit()
    assert device_post(client, token, meeting, "sync", scans=queue).status_code == 401
    # Paired again: a new code for the same device; the old token stays refused.
    with app.app_context():
        s = db.session()
        code = new_pairing_code(s, Actor.system("test"), s.get(ScannerDevice, device_id))
        s.commit()
    new_token = pair(client, code).get_json()["token"]
    assert device_post(client, token, meeting, "sync", scans=queue).status_code == 401
    answer = device_post(client, new_token, meeting, "sync", scans=queue).get_json()
    assert [r["status"] for r in answer["results"]] == ["ok", "ok"]
    assert answer["results"][0]["replayed"] is True
    again = device_post(client, new_token, meeting, "sync", scans=queue).get_json()
    assert all(r["replayed"] for r in again["results"])
    for n in numbers:
        (row,) = attendance_rows(app, meeting, member_id(app, n))
        assert row.device_id == device_id
    assert len(audit(app, "device.pairing_code", device_id)) == 1
    assert len(audit(app, "device.pair", device_id)) == 2


# ---------- defect 1: refusals describe only members the caller may see ----------


@pytest.fixture
def secretary(client, auth):  # type: ignore[no-untyped-def]
    auth.as_secretary(1)
    return client


def test_out_of_scope_member_id_answers_like_a_missing_id(secretary, app):
    meeting = open_meeting_id(app)
    outside = member_id(app, member_in_branch(app, "B03"))
    post = lambda mid: secretary.post(  # noqa: E731
        f"/api/v1/meetings/{meeting}/checkins", json={"member_id": mid, "nonce": "n" * 20}
    )
    seen = post(outside)
    missing = post(99999)
    assert (seen.status_code, seen.get_json()) == (missing.status_code, missing.get_json())
    assert seen.get_json()["reason"] == "no_member" and seen.get_json()["member"] is None
    assert attendance_rows(app, meeting, outside) == []


def test_left_member_out_of_scope_is_not_described(secretary, client, auth, app):
    number = member_in_branch(app, "B03")
    outside = member_id(app, number)
    code = card_url_of(app, number)
    with app.app_context():
        s = db.session()
        s.execute(update(Member).where(Member.id == outside).values(active=False))
        s.commit()
        name = s.scalar(select(Member.name).where(Member.id == outside))
    meeting = open_meeting_id(app)
    by_id = secretary.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"member_id": outside}
    ).get_json()
    assert by_id["reason"] == "no_member" and by_id["member"] is None
    by_card = secretary.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": code})
    body = by_card.get_json()
    assert body["reason"] == "member_left" and body["member"] is None
    assert name not in body["message"] and number not in json.dumps(body)


def test_left_member_in_scope_is_still_described_to_the_secretary(secretary, app):
    inside = member_id(app, REGULAR)
    with app.app_context():
        s = db.session()
        s.execute(update(Member).where(Member.id == inside).values(active=False))
        s.commit()
    meeting = open_meeting_id(app)
    body = secretary.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"member_id": inside}
    ).get_json()
    assert body["reason"] == "member_left" and body["member"]["number"] == REGULAR


def test_replaced_card_of_another_branch_names_nobody(secretary, app):
    number = member_in_branch(app, "B03")
    old = card_url_of(app, number)
    reissue(app, number)
    body = secretary.post(
        f"/api/v1/meetings/{open_meeting_id(app)}/checkins", json={"code": old}
    ).get_json()
    assert body["reason"] == "superseded" and body["member"] is None


# ---------- the officers' pages ----------


def test_secretary_creates_a_device_and_sees_the_pairing_code_once(app, client, auth):
    auth.as_secretary(1)
    with app.app_context():
        b01 = db.session().scalar(select(Unit.id).where(Unit.code == "B01"))
    page = client.post("/devices/new", data={"name": "门口的手机", "unit_id": str(b01)})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    shown = re.search(r'id="pairing-code"[^>]*>([A-Z0-9]{4}-[A-Z0-9]{4})<', html)
    assert shown and "<svg" in html and "/scan/pair" in html
    assert pair(client, shown[1]).status_code == 200
    listing = client.get("/devices/").get_data(as_text=True)
    assert "门口的手机" in listing and 'data-state="paired"' in listing


def test_secretary_cannot_create_a_device_for_another_branch(app, client, auth):
    auth.as_secretary(1)
    with app.app_context():
        b02 = db.session().scalar(select(Unit.id).where(Unit.code == "B02"))
    page = client.post("/devices/new", data={"name": "x", "unit_id": str(b02)})
    assert page.status_code == 422
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(ScannerDevice)) == 0


@pytest.mark.parametrize(
    "expiry", ["0001-01-01T00:00", "9999-12-31T23:59", "2027-01-01T08:00+08:00"]
)
def test_a_device_expiry_out_of_range_or_with_a_zone_is_refused(app, client, auth, expiry):
    auth.as_secretary(1)
    with app.app_context():
        b01 = db.session().scalar(select(Unit.id).where(Unit.code == "B01"))
    page = client.post(
        "/devices/new", data={"name": "x", "unit_id": str(b01), "expires_at": expiry}
    )
    assert page.status_code == 422
    assert 'id="expires_at-error"' in page.get_data(as_text=True)


def test_device_list_shows_paired_last_seen_and_scans(app, client, auth):
    device_id, token = paired(app, client)
    meeting = open_meeting_id(app)
    device_post(client, token, meeting, code=card_url_of(app, REGULAR))
    other_id, _code = make_device(app, "B02", name="别的支部")
    auth.as_secretary(1)
    html = client.get("/devices/").get_data(as_text=True)
    row = re.search(rf'<tr data-device-id="{device_id}">(.*?)</tr>', html, re.S)[1]
    assert "<td data-scans>1</td>" in row and 'data-state="paired"' in row
    assert f'data-device-id="{other_id}"' not in html  # another branch's device
    assert client.get(f"/devices/{other_id}/revoke").status_code == 404


def test_revoke_asks_first_then_unpairs(app, client, auth):
    device_id, token = paired(app, client)
    auth.as_secretary(1)
    confirm = client.get(f"/devices/{device_id}/revoke")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert 'method="post"' in text and "<script" not in text.split("<main", 1)[1]
    with app.app_context():
        assert db.session().get(ScannerDevice, device_id).revoked_at is None
    done = client.post(f"/devices/{device_id}/revoke")
    assert done.status_code == 302
    assert client.get("/api/v1/device", headers=bearer(token)).status_code == 401
    html = client.get("/devices/").get_data(as_text=True)
    assert 'data-state="revoked"' in html
    events = audit(app, "device.revoke", device_id)
    assert [actor for actor, _ in events] == ["user:secretary1"]


def test_new_pairing_code_from_the_list_stops_the_old_token(app, client, auth):
    device_id, token = paired(app, client)
    auth.as_secretary(1)
    page = client.post(f"/devices/{device_id}/pairing-code")
    assert page.status_code == 200
    code = re.search(r'id="pairing-code"[^>]*>([A-Z0-9-]{9})<', page.get_data(as_text=True))[1]
    auth.logout()
    assert client.get("/api/v1/device", headers=bearer(token)).status_code == 401
    new_token = pair(client, code).get_json()["token"]
    assert client.get("/api/v1/device", headers=bearer(new_token)).status_code == 200


def test_scanner_page_without_a_session_names_nothing(app, client):
    meeting = open_meeting_id(app)
    with app.app_context():
        m = db.session().get(Meeting, meeting)
        title, unit = m.title, m.unit.name
    html = client.get(f"/scan/meetings/{meeting}").get_data(as_text=True)
    assert 'data-mode="device"' in html
    assert title not in html and unit not in html
    assert 'name="csrf-token"' not in html
    same = client.get("/scan/meetings/99999").get_data(as_text=True)
    assert same.replace("99999", str(meeting)) == html


def test_openapi_describes_the_device_calls(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "bearer" in doc["components"]["securitySchemes"]
    for path in (
        "/api/v1/devices/pair",
        "/api/v1/device",
        "/api/v1/meetings/{meeting_id}/expected",
    ):
        assert path in doc["paths"], path
    text = json.dumps(doc)
    for reason in ("device_revoked", "device_expired", "device_unknown", "pairing_expired"):
        assert reason in text


def test_one_pairing_code_used_by_phones_at_once_pairs_one(app, data_dir):
    import threading

    _device_id, code = make_device(app)
    barrier = threading.Barrier(4)
    answers: list[tuple[int, str | None]] = []

    def phone(client) -> None:  # type: ignore[no-untyped-def]
        barrier.wait(timeout=60)
        answer = client.post("/api/v1/devices/pair", json={"code": code})
        answers.append((answer.status_code, answer.get_json().get("token")))

    # Each phone on an app of its own (as workers), made before the threads start: building
    # an app compiles its routes, which CPython 3.11.7 can fail at when threads do it at once
    # (see tests/test_checkin_races.py).
    clients = [make_app(data_dir).test_client() for _ in range(4)]
    threads = [threading.Thread(target=phone, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200, 400, 400, 400]
    (token,) = [token for status, token in answers if status == 200]
    assert app.test_client().get("/api/v1/device", headers=bearer(token)).status_code == 200
