"""What the hot paths of scanning cost, counted rather than timed: statements per status call
whatever the number of check-ins, no session for a stranger's view of a card, and the unlock
form's origin check that stands in for the CSRF token such a session would carry."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from qrservice import db
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, member_in_branch, nonce, open_meeting_id
from tests.test_card_page import give_pin, path_of

REGULAR = "20260001"


def statements_of(app, call):
    seen = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT")):
            seen.append(statement)

    engine = db.engine_of(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response, seen


def test_status_call_takes_the_same_statements_however_many_checked_in(client, auth, app):
    auth.as_secretary(1)
    meeting = open_meeting_id(app)
    status = f"/api/v1/meetings/{meeting}/status"
    client.get(status)  # the officer is loaded (and kept) before counting
    before, few = statements_of(app, lambda: client.get(status))
    for skip in range(6):
        code = card_url_of(app, member_in_branch(app, "B01", skip=skip))
        client.post(f"/api/v1/meetings/{meeting}/checkins", json={"code": code, "nonce": nonce()})
    after, many = statements_of(app, lambda: client.get(status))
    assert len(after.get_json()["recent"]) > len(before.get_json()["recent"])
    # The meeting with its unit, two counts, the missing members with their units, the recent
    # check-ins with their members: no statement per member or per unit.
    assert len(many) == len(few) <= 8, many


def test_a_strangers_view_of_a_card_makes_no_session(client, app):
    response = client.get(path_of(app, REGULAR))
    assert response.status_code == 200
    assert "/unlock" in response.get_data(as_text=True)
    assert response.headers.getlist("Set-Cookie") == []


@pytest.fixture
def csrf_app(data_dir):
    app = make_app(data_dir, WTF_CSRF_ENABLED=True)
    try:
        yield app
    finally:
        db.engine_of(app).dispose()


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://elsewhere.example"},
        {"Origin": "null"},
    ],
)
def test_unlock_sent_from_another_site_is_refused(csrf_app, headers):
    client = csrf_app.test_client()
    pin = give_pin(csrf_app, REGULAR)
    url = path_of(csrf_app, REGULAR)
    response = client.post(url + "/unlock", data={"pin": pin}, headers=headers)
    assert response.status_code == 400
    assert "qrcard" not in str(response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
        {"Origin": "http://localhost"},
    ],
)
def test_unlock_from_the_card_page_needs_no_session_token(csrf_app, headers):
    client = csrf_app.test_client()
    pin = give_pin(csrf_app, REGULAR)
    url = path_of(csrf_app, REGULAR)
    response = client.post(url + "/unlock", data={"pin": pin}, headers=headers)
    assert response.status_code == 303
    assert "qrcard=" in str(response.headers.getlist("Set-Cookie"))
    assert "/unlock" not in client.get(url).get_data(as_text=True)  # the member's full view
