"""Once a member is checked in, the card page says so instead of offering the button again, and
"already checked in" is news, not an error, wherever the member or officer meets it."""

from __future__ import annotations

import time

from cards.tokens import sign_meeting
from qrservice.signing_keys import key_ring
from tests.scanhelpers import card_url_of, open_meeting_id
from tests.test_card_page import give_pin

REGULAR = "20260001"
EN = {"Accept-Language": "en"}


def path_of(app) -> str:
    return card_url_of(app, REGULAR).replace("https://cards.example.org", "")


def test_member_who_checked_in_sees_it_and_no_second_button(client, app):
    url = path_of(app)
    meeting = open_meeting_id(app)
    client.post(url + "/unlock", data={"pin": give_pin(app, REGULAR)})
    assert f"/checkin/{meeting}" in client.get(url, headers=EN).get_data(as_text=True)
    client.post(f"{url}/checkin/{meeting}")
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert f"/checkin/{meeting}" not in page
    assert "Checked in at" in page and "(present)" in page


def test_checking_in_twice_is_a_notice_not_an_error(client, app):
    url = path_of(app)
    meeting = open_meeting_id(app)
    client.post(url + "/unlock", data={"pin": give_pin(app, REGULAR)})
    client.post(f"{url}/checkin/{meeting}")
    client.get(url)  # shows and clears the first answer
    client.post(f"{url}/checkin/{meeting}")  # a second tap, e.g. from a page left open
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert 'class="flash notice"' in page and 'class="flash error"' not in page


def test_officer_sees_the_member_checked_in_instead_of_the_button(client, auth, app):
    auth.as_secretary(1)
    url = path_of(app)
    meeting = open_meeting_id(app)
    client.post(f"{url}/checkin/{meeting}")
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Check in to my open meeting" not in page and "Checked in at" in page


def test_scanning_the_screen_code_again_is_shown_as_done(client, app):
    meeting = open_meeting_id(app)
    client.post(path_of(app) + "/unlock", data={"pin": give_pin(app, REGULAR)})
    with app.app_context():
        token = sign_meeting(key_ring(), meeting, int(time.time()), 30)
    client.get(f"/m/{token}")
    again = client.get(f"/m/{token}", headers=EN).get_data(as_text=True)
    assert 'class="cardstate ok"' in again and "✘" not in again
