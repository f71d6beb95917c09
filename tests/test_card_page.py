"""The card page a scan opens: what each viewer sees, PIN unlock, self check-in, the
meeting's on-screen code, and the page's weight."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from cards.tokens import sign_meeting
from qrservice import db
from qrservice.models import Attendance, Member
from qrservice.org.issuance import active_card, set_new_pin
from qrservice.signing_keys import key_ring
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, member_id, open_meeting_id

REGULAR = "20260001"  # B01, expected at the demo's open (remote-allowed) meeting
DRIFTED = "20260005"  # floating, out of touch for seven months
EN = {"Accept-Language": "en"}


def path_of(app, number):
    return card_url_of(app, number).replace("https://cards.example.org", "")


def give_pin(app, number) -> str:
    with app.app_context():
        s = db.session()
        card = active_card(s, s.scalar(select(Member.id).where(Member.number == number)))
        pin = set_new_pin(card, app.config["SECRET_KEY"])
        s.commit()
        return pin


def name_of(app, number):
    with app.app_context():
        return db.session().scalar(select(Member.name).where(Member.number == number))


def test_by_default_a_stranger_sees_validity_masked_name_and_branch_only(client, app):
    page = client.get(path_of(app, DRIFTED), headers=EN).get_data(as_text=True)
    name = name_of(app, DRIFTED)
    assert "Valid card" in page
    assert name not in page and name[0] + "*" * (len(name) - 1) in page
    assert "机关第一党支部" in page and "Found this card?" in page
    for private in ("warning", "arrears", "Attendance", "Points", DRIFTED, "Meetings</h2>"):
        assert private not in page


def test_the_summary_setting_shows_a_stranger_the_name_and_standing(data_dir, app):
    summary = make_app(data_dir, CARD_PRIVACY="summary").test_client()
    page = summary.get(path_of(app, DRIFTED), headers=EN).get_data(as_text=True)
    assert name_of(app, DRIFTED) in page
    assert "Red warning" in page
    assert "Months in arrears" in page and "Attendance" in page
    assert DRIFTED not in page  # the member number is for the member and officers
    assert "Meetings</h2>" not in page  # no history for strangers


@pytest.mark.parametrize(("given", "used"), [("strict", "minimal"), ("default", "summary")])
def test_the_first_releases_privacy_names_still_work(data_dir, given, used):
    assert make_app(data_dir, CARD_PRIVACY=given).config["CARD_PRIVACY"] == used


def test_pin_unlocks_the_full_history_on_this_phone(client, app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED)
    client.post(url + "/unlock", data={"pin": pin})
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert DRIFTED in page and "Meetings</h2>" in page and "Points</h2>" in page
    assert "absent" in page and "receipt" in page
    # another phone is still a stranger
    other = app.test_client().get(url, headers=EN).get_data(as_text=True)
    assert "Meetings</h2>" not in other


def test_wrong_pins_are_slowed_down_then_locked(client, app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED)
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(3):
        client.post(url + "/unlock", data={"pin": wrong}, headers=EN)
    client.post(url + "/unlock", data={"pin": pin}, headers=EN)  # right PIN, during the wait
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Too many wrong PINs" in page
    assert "Meetings</h2>" not in page
    with app.app_context():
        card = active_card(db.session(), member_id(app, DRIFTED))
        assert card.pin_locked_until is not None


def test_unlocked_member_checks_in_to_a_remote_meeting(client, app):
    pin = give_pin(app, REGULAR)
    url = path_of(app, REGULAR)
    client.post(url + "/unlock", data={"pin": pin})
    page = client.get(url, headers=EN).get_data(as_text=True)
    meeting = open_meeting_id(app)
    assert f"/checkin/{meeting}" in page
    client.post(f"{url}/checkin/{meeting}")
    with app.app_context():
        row = db.session().scalar(
            select(Attendance).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, REGULAR)
            )
        )
        assert (row.status, row.via) == ("present", "remote")


def test_stranger_cannot_check_a_card_in(client, app):
    url = path_of(app, REGULAR)
    assert client.post(f"{url}/checkin/{open_meeting_id(app)}").status_code == 403


def test_officer_sees_everything_and_checks_in_to_their_open_meeting(client, auth, app):
    auth.as_secretary(1)
    url = path_of(app, REGULAR)
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert REGULAR in page and "Check in to my open meeting" in page
    client.post(f"{url}/checkin/{open_meeting_id(app)}")
    with app.app_context():
        via = db.session().scalar(
            select(Attendance.via).where(
                Attendance.meeting_id == open_meeting_id(app),
                Attendance.member_id == member_id(app, REGULAR),
            )
        )
    assert via == "manual"


def test_secretary_of_another_branch_sees_only_what_a_stranger_sees(client, auth, app):
    auth.as_secretary(3)
    page = client.get(path_of(app, REGULAR), headers=EN).get_data(as_text=True)
    assert REGULAR not in page and "Check in to my open meeting" not in page


def screen_token(app, meeting, issued_at):
    with app.app_context():
        return sign_meeting(key_ring(), meeting, issued_at, 30)


def test_on_screen_code_checks_in_the_card_remembered_on_this_phone(client, auth, app):
    meeting = open_meeting_id(app)
    pin = give_pin(app, REGULAR)
    fresh = screen_token(app, meeting, int(time.time()))
    need = client.get(f"/m/{fresh}", headers=EN).get_data(as_text=True)
    assert "does not know your card" in need
    client.post(path_of(app, REGULAR) + "/unlock", data={"pin": pin})
    done = client.get(f"/m/{fresh}", headers=EN)
    assert done.status_code == 200 and "checked in" in done.get_data(as_text=True)
    with app.app_context():
        via = db.session().scalar(
            select(Attendance.via).where(
                Attendance.meeting_id == meeting, Attendance.member_id == member_id(app, REGULAR)
            )
        )
    assert via == "screen_code"


def test_an_old_screenshot_of_the_screen_code_has_expired(client, app):
    meeting = open_meeting_id(app)
    old = screen_token(app, meeting, int(time.time()) - 400)  # remote meetings allow 180 s
    response = client.get(f"/m/{old}", headers=EN)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_projector_page_shows_a_fresh_signed_code(client, auth, app):
    auth.as_secretary(1)
    page = client.get(f"/meetings/{open_meeting_id(app)}/screen").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="15">' in page
    assert "<svg" in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_card_page_is_light_and_needs_no_javascript(client, app, lang):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED)
    client.post(url + "/unlock", data={"pin": pin})
    page = client.get(url, headers={"Accept-Language": lang})
    with client.get(
        re.search(r'href="(/static/css/[^"]+)"', page.get_data(as_text=True))[1]
    ) as css:
        css_size = len(css.data)
    assert "<script" not in page.get_data(as_text=True)
    assert len(page.data) + css_size <= 30 * 1024, (len(page.data), css_size)
