"""Officer sessions end when they should: logout, password change, deactivation, idle and age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from qrservice import db
from qrservice.config import ConfigError
from qrservice.demo import SECRETARY_PASSWORD
from qrservice.models import AuditEvent, OfficerSession, User
from tests.conftest import make_app

MEMBERS = "/members/"


def _login(client, username="secretary1", password=SECRETARY_PASSWORD):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _logged_in(client) -> bool:
    return client.get(MEMBERS).status_code == 200


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    target.set_cookie("session", cookie.value)


def test_a_copied_session_cookie_stops_working_after_logout(app):
    owner, thief = app.test_client(), app.test_client()
    _login(owner)
    _copy_cookie(owner, thief)
    assert _logged_in(thief)
    owner.post("/logout")
    assert not _logged_in(thief)
    assert "/login" in thief.get(MEMBERS).headers["Location"]


def test_logging_out_ends_only_that_session(app):
    phone, laptop = app.test_client(), app.test_client()
    _login(phone)
    _login(laptop)
    laptop.post("/logout")
    assert _logged_in(phone)
    assert not _logged_in(laptop)


def test_a_password_change_ends_every_session_of_the_account(app):
    phone, laptop = app.test_client(), app.test_client()
    _login(phone)
    _login(laptop)
    response = laptop.post(
        "/account/password",
        data={"current_password": SECRETARY_PASSWORD, "new_password": "a-new-secret-2026",
              "new_password_confirm": "a-new-secret-2026"},
    )  # fmt: skip
    assert response.status_code == 302
    assert not _logged_in(phone)
    assert not _logged_in(laptop)
    assert (
        app.test_client()
        .post("/login", data={"username": "secretary1", "password": SECRETARY_PASSWORD})
        .status_code
        == 401
    )
    assert _logged_in(_login(app.test_client(), password="a-new-secret-2026"))
    with app.app_context():
        assert db.session().scalar(select(AuditEvent).where(AuditEvent.action == "user.password"))


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field"),
    [
        ("wrong-password", "a-new-secret-2026", "a-new-secret-2026", "current_password"),
        (SECRETARY_PASSWORD, "a-new-secret-2026", "another-one-2026", "new_password_confirm"),
        (SECRETARY_PASSWORD, "short", "short", "new_password"),
    ],
)
def test_a_refused_password_change_names_the_field_and_keeps_the_session(
    app, current, new, confirm, field
):
    client = _login(app.test_client())
    response = client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "new_password_confirm": confirm},
    )
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _logged_in(client)


def test_deactivating_an_officer_logs_them_out_at_once(app):
    secretary = _login(app.test_client())
    organiser = _login(app.test_client(), "organiser", "demo-organiser-2026")
    with app.app_context():
        user_id = db.session().scalar(select(User.id).where(User.username == "secretary1"))
    page = organiser.get(f"/users/{user_id}/active?active=no").get_data(as_text=True)
    assert "secretary1" in page
    assert organiser.post(f"/users/{user_id}/active", data={"active": "no"}).status_code == 302
    assert not _logged_in(secretary)
    assert (
        app.test_client()
        .post("/login", data={"username": "secretary1", "password": SECRETARY_PASSWORD})
        .status_code
        == 401
    )
    organiser.post(f"/users/{user_id}/active", data={"active": "yes"})
    assert _logged_in(_login(app.test_client()))


def test_a_secretary_cannot_deactivate_anyone(app):
    secretary = _login(app.test_client())
    with app.app_context():
        user_id = db.session().scalar(select(User.id).where(User.username == "organiser"))
    assert secretary.post(f"/users/{user_id}/active", data={"active": "no"}).status_code == 403


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", timedelta(hours=8, minutes=1)), ("created_at", timedelta(days=7, minutes=1))],
)
def test_sessions_end_after_the_idle_and_the_absolute_timeout(app, column, age):
    client = _login(app.test_client())
    with app.app_context():
        s = db.session()
        row = s.scalars(select(OfficerSession)).all()[-1]
        s.execute(
            update(OfficerSession)
            .where(OfficerSession.id == row.id)
            .values({column: getattr(row, column) - age})
        )
        s.commit()
    app.extensions.get("recent_officers", {}).clear()  # as on another worker
    assert not _logged_in(client)


def test_an_active_officer_is_not_logged_out_by_the_idle_timeout(app):
    client = _login(app.test_client())
    with app.app_context():
        s = db.session()
        row = s.scalars(select(OfficerSession)).all()[-1]
        row.last_seen_at -= timedelta(hours=7)
        s.commit()
        seen_before = row.last_seen_at
    app.extensions.get("recent_officers", {}).clear()
    assert _logged_in(client)  # seen 7 hours ago: still in, and seen again now
    with app.app_context():
        row = db.session().get(OfficerSession, row.id)
        assert row.last_seen_at >= seen_before + timedelta(hours=7)


def test_session_timeouts_are_configurable_and_checked(data_dir, monkeypatch):
    monkeypatch.setenv("QRSERVICE_SESSION_IDLE_SECONDS", "3600")
    app = make_app(data_dir)
    assert app.config["OFFICER_IDLE_TIMEOUT"] == 3600
    db.engine_of(app).dispose()
    monkeypatch.setenv("QRSERVICE_SESSION_IDLE_SECONDS", "eight hours")
    with pytest.raises(ConfigError, match="OFFICER_IDLE_TIMEOUT"):
        make_app(data_dir)
