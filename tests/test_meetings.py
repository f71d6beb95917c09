"""Meeting pages: list, create with validation, open, close, the scanner and its worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qrservice import db
from qrservice.models import Meeting, Unit
from tests.scanhelpers import open_meeting_id

EN = {"Accept-Language": "en"}


def unit_id(app, code):
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def form(app, **overrides):
    data = {
        "unit_id": unit_id(app, "B01-G2"), "kind": "group", "title": "十一月学习会",
        "starts_at": "2026-12-01T14:00", "ends_at": "2026-12-01T15:30", "place": "活动室",
        "remote_allowed": "no", "points": "1", "late_after_min": "10",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_secretary_lists_their_branch_meetings_only(client, auth, app):
    auth.as_secretary(2)
    page = client.get("/meetings/", headers=EN).get_data(as_text=True)
    assert "Theme party day" in page
    assert "主题党日：学习交流" not in page  # the open meeting belongs to branch 1


def test_create_open_and_close_a_meeting(client, auth, app):
    auth.as_secretary(1)
    response = client.post("/meetings/new", data=form(app))
    assert response.status_code == 302
    page = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert "十一月学习会" in page and "Open check-in" in page
    with app.app_context():
        meeting = db.session().scalar(select(Meeting).where(Meeting.title == "十一月学习会"))
        assert meeting.starts_at.hour == 6  # 14:00 Beijing time is 06:00 UTC
        meeting_id = meeting.id
    client.post(f"/meetings/{meeting_id}/open")
    page = client.get(f"/meetings/{meeting_id}", headers=EN).get_data(as_text=True)
    assert "Open the scanner" in page and "Still missing" in page
    asked = client.post(f"/meetings/{meeting_id}/close", headers=EN).get_data(as_text=True)
    assert "recorded absent" in asked and 'name="confirm" value="yes"' in asked
    with app.app_context():
        assert db.session().get(Meeting, meeting_id).status == "open"
    client.post(f"/meetings/{meeting_id}/close", data={"confirm": "yes"})
    with app.app_context():
        assert db.session().get(Meeting, meeting_id).status == "closed"


@pytest.mark.parametrize(
    ("field", "value", "error_field"),
    [
        ("title", "", "title"),
        ("ends_at", "2026-12-01T13:00", "ends_at"),
        ("starts_at", "not a time", "starts_at"),
        ("points", "-3", "points"),
        ("points", "many", "points"),
        ("kind", "party", "kind"),
        ("unit_id", "99999", "unit"),
    ],
)
def test_bad_meeting_fields_name_the_field(client, auth, app, field, value, error_field):
    auth.as_secretary(1)
    response = client.post("/meetings/new", data=form(app, **{field: value}))
    assert response.status_code == 422
    assert f'id="{error_field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().scalar(select(Meeting).where(Meeting.title == "十一月学习会")) is None


def test_other_branchs_meeting_is_not_found(client, auth, app):
    auth.as_secretary(2)
    meeting = open_meeting_id(app)
    assert client.get(f"/meetings/{meeting}").status_code == 404
    assert client.post(f"/meetings/{meeting}/close").status_code == 404
    assert client.get(f"/scan/meetings/{meeting}").status_code == 404


def test_scanner_page_and_service_worker_are_served(client, auth, app):
    auth.as_secretary(1)
    page = client.get(f"/scan/meetings/{open_meeting_id(app)}")
    assert page.status_code == 200
    assert 'name="csrf-token"' in page.get_data(as_text=True)
    worker = client.get("/scan/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.mimetype
    assert worker.headers["Service-Worker-Allowed"] == "/scan/"
    worker.close()
