"""Card PINs: wrong guesses are counted on the locked card row, lockouts escalate, the owner's
phone is still heard during a lock, and every wrong PIN is in the trail."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from qrservice import db
from qrservice.models import AuditEvent, Card
from qrservice.org.issuance import active_card
from qrservice.timeutil import utcnow
from tests.scanhelpers import member_id
from tests.test_card_page import DRIFTED, EN, give_pin, path_of


def _card(app) -> Card:
    with app.app_context():
        card = active_card(db.session(), member_id(app, DRIFTED))
        db.session().expunge(card)
        return card


def _wrong(pin: str) -> str:
    return "000000" if pin != "000000" else "111111"


def _end_the_wait(app) -> None:
    with app.app_context():
        s = db.session()
        card = active_card(s, member_id(app, DRIFTED))
        card.pin_locked_until = utcnow() - timedelta(seconds=1)
        s.commit()


def _wrong_pins_in_trail(app) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count()).where(AuditEvent.action == "card.pin_wrong")
        )


def test_lockouts_escalate_and_a_right_pin_resets_them(client, app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED) + "/unlock"
    for lockout in (1, 2, 3):
        for _ in range(5):
            client.post(url, data={"pin": _wrong(pin)}, headers=EN)
            if _card(app).pin_lockouts < lockout:
                _end_the_wait(app)  # the short waits after the 3rd and 4th wrong PIN
        card = _card(app)
        assert card.pin_lockouts == lockout
        minutes = (card.pin_locked_until - utcnow()).total_seconds() / 60
        assert 15 * 2 ** (lockout - 1) - 1 < minutes <= 15 * 2 ** (lockout - 1)
        _end_the_wait(app)
    assert _wrong_pins_in_trail(app) == 15
    client.post(url, data={"pin": pin}, headers=EN)
    card = _card(app)
    assert (card.pin_lockouts, card.pin_failures, card.pin_locked_until) == (0, 0, None)


def test_a_locked_pin_refuses_a_stranger_even_with_the_right_pin(client, app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED)
    for _ in range(3):
        client.post(url + "/unlock", data={"pin": _wrong(pin)}, headers=EN)
    response = client.post(url + "/unlock", data={"pin": pin}, headers=EN, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Too many wrong PINs" in page and "can be tried again at" in page
    assert "Meetings</h2>" not in page
    assert _wrong_pins_in_trail(app) == 3  # the refused try was not even checked


def test_the_owners_phone_is_heard_while_strangers_have_locked_the_pin(client, app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED)
    owner = client
    owner.post(url + "/unlock", data={"pin": pin})
    # A new letter (new PIN) after the owner's phone had unlocked the card ...
    pin = give_pin(app, DRIFTED)
    stranger = app.test_client()
    for _ in range(5):
        stranger.post(url + "/unlock", data={"pin": _wrong(pin)}, headers=EN)
        _end_the_wait(app) if _card(app).pin_lockouts == 0 else None
    assert _card(app).pin_locked_until > utcnow()
    # ... the stranger is locked out, the owner's phone still unlocks with the right PIN.
    response = owner.post(url + "/unlock", data={"pin": pin}, headers=EN, follow_redirects=True)
    assert "Meetings</h2>" in response.get_data(as_text=True)


def test_simultaneous_guesses_are_counted_one_by_one(app):
    pin = give_pin(app, DRIFTED)
    url = path_of(app, DRIFTED) + "/unlock"
    start = threading.Barrier(12)
    statuses: list[int] = []

    def guess() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post(url, data={"pin": _wrong(pin)}).status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 12  # every guess answered, none failed
    # After the third wrong PIN the card waits: the other nine were not checked.
    assert _wrong_pins_in_trail(app) == 3
    assert _card(app).pin_failures == 3
