"""Printing a unit's badges or letters never freezes check-in: codes are encoded and pages drawn
with no transaction open, and what printing changes is written in short transactions."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

import cards.pdf
from qrservice import db
from qrservice.models import Card, Unit
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, member_in_branch, nonce, open_meeting_id

WITHIN_SECONDS = 1.0


class Gate:
    """Holds the first call of a function until released, and says when it is held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        original = getattr(owner, name)

        def held(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not self.reached.is_set():
                self.reached.set()
                assert self.release.wait(timeout=60), "the gate was never released"
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)


def timed_checkin(client, meeting: int, code: str) -> tuple[float, dict]:
    started = time.monotonic()
    response = client.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"code": code, "nonce": nonce()}
    )
    return time.monotonic() - started, response.get_json()


@pytest.mark.parametrize("what", ["badges", "letters"])
def test_check_in_answers_within_a_second_while_a_unit_is_printed(app, data_dir, monkeypatch, what):
    with app.app_context():
        s = db.session()
        committee = s.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
        cards_without_code = s.scalar(select(func.count()).where(Card.qr.is_(None)))
    assert cards_without_code > 100  # the demo's codes are encoded by the print below
    meeting = open_meeting_id(app)
    codes = [card_url_of(app, member_in_branch(app, "B01", skip=n)) for n in (0, 1)]
    encoding = Gate(monkeypatch, cards.pdf, "card_codes")
    drawing = Gate(monkeypatch, cards.pdf, "draw_card")

    organiser = make_app(data_dir).test_client()  # another worker of the service
    organiser.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    scanner = make_app(data_dir).test_client()
    scanner.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    form = {"unit_id": committee, "layout": "a4-10", "only": "all", "sort": "unit"}
    if what == "letters":
        form["confirm"] = "yes"
    answer = {}

    def print_unit() -> None:
        answer["response"] = organiser.post(f"/cards/{what}.pdf", data=form)

    printer = threading.Thread(target=print_unit)
    printer.start()
    try:
        for gate, code in ((encoding, codes[0]), (drawing, codes[1])):
            assert gate.reached.wait(timeout=60), "the print never got there"
            took, result = timed_checkin(scanner, meeting, code)
            assert result["status"] == "ok", result
            assert took < WITHIN_SECONDS, f"a check-in took {took:.2f} s during the print"
            gate.release.set()
    finally:
        encoding.release.set()
        drawing.release.set()
        printer.join(timeout=120)
    response = answer["response"]
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    with app.app_context():
        s = db.session()
        assert s.scalar(select(func.count()).where(Card.qr.is_(None))) == 0  # codes kept
        column = Card.printed_at if what == "badges" else Card.pin_hash
        active = s.scalar(select(func.count()).where(Card.status == "active"))
        assert s.scalar(select(func.count()).where(column.is_not(None))) == active
