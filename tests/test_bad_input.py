"""Bad input gets a clear 4xx naming what is wrong, never a 500: ids past what the database
holds, clock times far off, JSON nested thousands deep, meeting times with a zone or in year
0001, and one bad scan in an offline queue, refused on its own while the others land."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from qrservice import db
from qrservice.life.meetings import MeetingError, MeetingFields, check_fields
from qrservice.models import Attendance, Meeting, Member, Unit
from tests.scanhelpers import card_url_of, member_in_branch, nonce, open_meeting_id

REGULAR = "20260001"
HUGE = str(2**63)  # one past the largest row id
HUGER = "9" * 30

ORGANISER = {"username": "organiser", "password": "demo-organiser-2026"}
SECRETARY = {"username": "secretary1", "password": "demo-secretary-2026"}


@pytest.fixture
def organiser(client):
    client.post("/login", data=ORGANISER)
    return client


@pytest.fixture
def secretary(client):
    client.post("/login", data=SECRETARY)
    return client


@pytest.mark.parametrize("big", [HUGE, HUGER, str(2**63 - 1)])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/members/{id}"),
        ("GET", "/members/{id}/edit"),
        ("POST", "/members/{id}/edit"),
        ("POST", "/members/{id}/active"),
        ("POST", "/members/{id}/card/issue"),
        ("POST", "/members/{id}/card/reissue"),
        ("POST", "/members/{id}/card/revoke"),
        ("GET", "/members/{id}/card.svg"),
        ("POST", "/members/{id}/letter.pdf"),
        ("GET", "/meetings/{id}"),
        ("POST", "/meetings/{id}/open"),
        ("POST", "/meetings/{id}/close"),
        ("GET", "/meetings/{id}/screen"),
        ("GET", "/scan/meetings/{id}"),
        ("GET", "/api/v1/meetings/{id}/status"),
        ("GET", "/api/v1/meetings/{id}/lookup?q=1"),
        ("POST", "/api/v1/meetings/{id}/undo"),
        ("POST", "/api/v1/meetings/{id}/checkins"),
        ("POST", "/api/v1/meetings/{id}/sync"),
    ],
)
def test_an_id_past_the_largest_row_is_not_found(organiser, app, method, path, big):
    code = card_url_of(app, REGULAR)
    body = {"json": {"code": code, "scans": [{"code": code, "nonce": nonce()}]}}
    response = organiser.open(path.format(id=big), method=method, **body)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def test_a_self_check_in_to_a_huge_meeting_id_is_not_found(organiser, app):
    token = card_url_of(app, REGULAR).rsplit("/", 1)[1]
    assert organiser.post(f"/c/{token}/checkin/{HUGE}").status_code == 404


@pytest.mark.parametrize(
    "query", [f"unit={HUGE}", f"unit={HUGER}", "unit=²", "page=²", f"page={HUGER}", "unit=-1"]
)
def test_member_list_ignores_numbers_it_cannot_use(organiser, query):
    assert organiser.get(f"/members/?{query}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"member_id": 2**63}, "member_id"),
        ({"member_id": 10**30}, "member_id"),
        ({"member_id": 0}, "member_id"),
        ({"member_id": -5}, "member_id"),
        ({"member_id": True}, "member_id"),
        ({"member_id": 1.5}, "member_id"),
        ({"code": "x", "client_time": "0001-01-01T00:00:00+08:00"}, "client_time"),
        ({"code": "x", "client_time": "9999-12-31T23:59:59-08:00"}, "client_time"),
        ({"code": "x", "client_time": "0001-01-01T00:00:00"}, "client_time"),
        ({"code": "x", "client_time": "1970-01-01T00:00:00Z"}, "client_time"),
        ({"code": "x", "client_time": "2999-01-01T00:00:00Z"}, "client_time"),
        ({"code": "x", "client_time": "2026-01-01T00:00:00+99:00"}, "client_time"),
        ({"code": "x", "client_time": 1767225600}, "client_time"),
    ],
)
def test_a_check_in_with_a_bad_value_is_a_400_naming_the_field(secretary, app, body, field):
    meeting = open_meeting_id(app)
    response = secretary.post(f"/api/v1/meetings/{meeting}/checkins", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    assert answer["status"] == "error" and answer["reason"] == "bad_request"
    assert answer["field"] == field


@pytest.mark.parametrize("route", ["checkins", "sync"])
def test_json_nested_ten_thousand_deep_is_a_400(secretary, app, route):
    meeting = open_meeting_id(app)
    deep = "[" * 10_000 + "]" * 10_000
    response = secretary.post(
        f"/api/v1/meetings/{meeting}/{route}", data=deep, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def attendance_rows(app, meeting):
    with app.app_context():
        return db.session().scalar(
            select(func.count()).select_from(Attendance).where(Attendance.meeting_id == meeting)
        )


def test_a_sync_answers_every_scan_on_its_own(secretary, app):
    meeting = open_meeting_id(app)
    before = attendance_rows(app, meeting)
    first, second = member_in_branch(app, "B01"), member_in_branch(app, "B01", skip=1)
    bad_time = nonce()
    scans = [
        {"code": card_url_of(app, first), "nonce": nonce()},
        {"code": card_url_of(app, REGULAR), "nonce": bad_time, "client_time": "0001-01-01T00:00Z"},
        {"member_id": 2**64, "nonce": nonce()},
        "not a scan",
        {"code": card_url_of(app, second), "nonce": nonce()},
    ]
    response = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["ok", "error", "error", "error", "ok"]
    assert results[1]["nonce"] == bad_time and results[1]["field"] == "scans[1].client_time"
    assert results[2]["field"] == "scans[2].member_id" and results[2]["reason"] == "bad_request"
    assert results[3]["field"] == "scans[3].body" and results[3]["nonce"] is None
    assert all(r["message"] for r in results)
    assert attendance_rows(app, meeting) == before + 2
    # The queue moves on: the same batch again replays the good ones, refuses the bad ones.
    again = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans}).get_json()
    assert [r["replayed"] for r in again["results"]] == [True, False, False, False, True]
    assert attendance_rows(app, meeting) == before + 2


def test_a_scan_that_fails_in_the_database_is_answered_alone(secretary, app, monkeypatch):
    """A scan whose write fails is taken back on its own; the scans around it land."""
    import scan.api

    real = scan.api.redeem
    calls = []

    def failing_second(s, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        result = real(s, **kwargs)
        if len(calls) == 2:
            s.execute(update(Meeting).where(Meeting.id == -1).values(points=-1))
            raise ValueError("a failure in the middle of the write")
        return result

    monkeypatch.setattr(scan.api, "redeem", failing_second)
    meeting = open_meeting_id(app)
    before = attendance_rows(app, meeting)
    numbers = [member_in_branch(app, "B01", skip=k) for k in range(3)]
    scans = [{"code": card_url_of(app, n), "nonce": nonce()} for n in numbers]
    response = secretary.post(f"/api/v1/meetings/{meeting}/sync", json={"scans": scans})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["ok", "error", "ok"]
    assert results[1]["reason"] == "failed" and results[1]["nonce"] == scans[1]["nonce"]
    assert attendance_rows(app, meeting) == before + 2


# Meeting times


def meeting_form(app, **overrides):
    with app.app_context():
        unit = db.session().scalar(select(Unit.id).where(Unit.code == "B01-G2"))
    data = {
        "unit_id": unit, "kind": "group", "title": "时间测试", "starts_at": "2026-12-01T14:00",
        "ends_at": "2026-12-01T15:30", "remote_allowed": "no", "points": "1",
        "late_after_min": "10",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "2026-12-01T14:00+08:00"),
        ("starts_at", "2026-12-01T14:00Z"),
        ("ends_at", "2026-12-01T15:30+00:00"),
        ("starts_at", "0001-01-01T00:00"),
        ("starts_at", "0001-01-01T08:00"),
        ("ends_at", "9999-12-31T23:59"),
        ("starts_at", "1900-05-01T09:00"),
        ("ends_at", "2026-12-20T15:30"),  # three weeks long
    ],
)
def test_a_meeting_time_out_of_range_or_with_a_zone_is_refused(secretary, app, field, value):
    response = secretary.post("/meetings/new", data=meeting_form(app, **{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().scalar(select(Meeting).where(Meeting.title == "时间测试")) is None


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        (datetime(1, 1, 1), datetime(1, 1, 1, 2), "starts_at"),
        (datetime(2026, 5, 1, 9), datetime(9999, 12, 31, 23), "ends_at"),
        (datetime.fromisoformat("2026-05-01T09:00+08:00"), datetime(2026, 5, 1, 10), "starts_at"),
    ],
)
def test_check_fields_refuses_odd_meeting_times(app, starts_at, ends_at, field):
    with app.app_context():
        unit = db.session().scalar(select(Unit).where(Unit.code == "B01"))
        fields = MeetingFields(unit, "group", "t", starts_at, ends_at)
        with pytest.raises(MeetingError) as caught:
            check_fields(fields)
    assert field in caught.value.errors


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (datetime(1, 1, 1, 0, 0), datetime(1, 1, 1, 1, 0)),
        (datetime(9999, 12, 31, 10, 0), datetime(9999, 12, 31, 15, 59)),
    ],
)
def test_one_odd_meeting_row_breaks_no_page(app, client, starts_at, ends_at):
    """A meeting stored in year 0001 or 9999 (before times were checked), open for check-in."""
    meeting = open_meeting_id(app)
    with app.app_context():
        s = db.session()
        s.execute(
            update(Meeting)
            .where(Meeting.id == meeting)
            .values(starts_at=starts_at, ends_at=ends_at, closes_after_min=1440)
        )
        # The member attended it, so it is in their history and their standing too.
        regular = s.scalar(select(Member.id).where(Member.number == REGULAR))
        s.add(
            Attendance(
                meeting_id=meeting, member_id=regular, status="present", via="manual",
                checked_in_at=starts_at, recorded_by="test",
            )
        )  # fmt: skip
        s.commit()
    card = card_url_of(app, REGULAR).replace("https://cards.example.org", "")
    client.post("/login", data=SECRETARY)
    for path in (
        card,
        "/meetings/",
        f"/meetings/{meeting}",
        f"/scan/meetings/{meeting}",
        f"/api/v1/meetings/{meeting}/status",
        "/members/",
        f"/members/{regular}",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    answer = client.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"code": card_url_of(app, REGULAR)}
    ).get_json()
    assert answer["status"] == "refused" and answer["reason"] in (
        "meeting_not_open",
        "already_checked_in",
    )


@pytest.mark.parametrize("big", [HUGE, HUGER])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/{id}/active"),
        ("POST", "/users/{id}/active"),
        ("POST", "/devices/{id}/pairing-code"),
        ("GET", "/devices/{id}/revoke"),
        ("POST", "/devices/{id}/revoke"),
    ],
)
def test_an_id_past_the_largest_row_is_not_found_on_account_and_device_pages(
    organiser, method, path, big
):
    response = organiser.open(path.format(id=big), method=method)
    assert response.status_code == 404
