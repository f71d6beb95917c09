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


def query_plan(app, statement, **params) -> str:
    """SQLite's plan of a statement built once with bind parameters, as one text."""
    with app.app_context():
        conn = db.session().connection()
        sql = statement.params(**params).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return " | ".join(row[-1] for row in rows)


@pytest.fixture
def sqlite_app(app):
    if db.engine_of(app).dialect.name != "sqlite":
        pytest.skip("a plan of SQLite's")
    return app


def test_expected_members_are_found_by_unit_not_by_walking_every_active_member(sqlite_app):
    from qrservice.life.meetings import _statements, path_end

    statement = _statements("sqlite")["expected_count"]
    plan = query_plan(sqlite_app, statement, path="/1/2/", path_end=path_end("/1/2/"), unit_id=2)
    assert "ix_member_unit_id" in plan and "ix_member_host_unit_id" in plan, plan
    assert "ix_unit_path (path>? AND path<?)" in plan, plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan


def test_open_meetings_of_a_member_are_found_by_unit(sqlite_app):
    from qrservice.life.meetings import _OPEN_MEETINGS_OF_UNITS

    plan = query_plan(sqlite_app, _OPEN_MEETINGS_OF_UNITS, units=[2, 5, 6])
    assert "ix_meeting_unit_id_status" in plan, plan
