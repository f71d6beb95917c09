"""Dangerous actions are confirmed first: closing check-in, reissuing a card, marking a member
as left, and card letters for a unit (which reset every PIN). Without ``confirm=yes`` the POST
changes nothing and answers with a page saying what will happen, whose form (no script, the CSP
allows none inline) sends the same fields again with the confirmation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from qrservice import db
from qrservice.models import Card, Meeting, Member, Unit
from tests.scanhelpers import member_id, open_meeting_id

REGULAR = "20260001"
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def hidden_fields(page: str) -> dict[str, str]:
    form = page.split('class="card narrow confirm"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.pop("csrf_token", None)
    return fields


def assert_asks(page: str, *consequences: str) -> None:
    assert "<script" not in page
    assert 'name="confirm" value="yes"' in page
    for text in consequences:
        assert text in page, text


def meeting_status(app, meeting: int) -> str:
    with app.app_context():
        return db.session().get(Meeting, meeting).status


def test_closing_check_in_is_confirmed_with_its_consequences(client, auth, app):
    auth.as_secretary(1)
    meeting = open_meeting_id(app)
    response = client.post(f"/meetings/{meeting}/close", headers=EN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_asks(page, "recorded absent", "points each", "stop checking anyone in")
    assert re.search(r"\d+ expected members who have not checked in", page)
    assert meeting_status(app, meeting) == "open"
    response = client.post(f"/meetings/{meeting}/close", data=hidden_fields(page))
    assert response.status_code == 302 and meeting_status(app, meeting) == "closed"


def cards(app, number: str) -> list[tuple[int, str]]:
    with app.app_context():
        s = db.session()
        query = (
            select(Card.version, Card.status)
            .join(Member)
            .where(Member.number == number)
            .order_by(Card.version)
        )
        return [tuple(row) for row in s.execute(query)]


def test_reissue_is_confirmed_and_keeps_the_chosen_reason(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)
    form = {"reason": "copied", "note": "照片外传"}
    page = client.post(f"/members/{mid}/card/reissue", data=form, headers=ZH).get_data(as_text=True)
    assert_asks(page, "疑似被复制", "第 1 版", "第 2 版")
    assert cards(app, REGULAR) == [(1, "active")]
    assert hidden_fields(page) == {**form, "confirm": "yes"}
    client.post(f"/members/{mid}/card/reissue", data=hidden_fields(page))
    assert cards(app, REGULAR) == [(1, "superseded"), (2, "active")]


def test_marking_a_member_as_left_is_confirmed_but_reactivating_is_not(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)

    def active() -> bool:
        with app.app_context():
            return db.session().get(Member, mid).active

    page = client.post(f"/members/{mid}/active", data={"active": "no"}, headers=EN)
    assert_asks(page.get_data(as_text=True), "leaves the roll", "refused", "reactivate")
    assert active()
    client.post(f"/members/{mid}/active", data={"active": "no", "confirm": "yes"})
    assert not active()
    client.post(f"/members/{mid}/active", data={"active": "yes"})
    assert active()


def pin_hashes(app, code: str) -> list[str | None]:
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == code))
        query = (
            select(Card.pin_hash)
            .join(Member)
            .where(Member.unit_id == unit.id, Card.status == "active")
            .order_by(Card.id)
        )
        return list(s.scalars(query))


def test_letters_for_a_unit_say_that_every_pin_is_reset_before_doing_it(client, auth, app):
    auth.login()
    with app.app_context():
        unit = db.session().scalar(select(Unit).where(Unit.code == "B04-G1"))
        unit_id, name = unit.id, f"{unit.parent.name} · {unit.name}"
    before = pin_hashes(app, "B04-G1")
    response = client.post("/cards/letters.pdf", data={"unit_id": unit_id}, headers=EN)
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert_asks(page, f"15 letters are printed, one for each member of {name}",
                "PINs on every earlier letter stop working", "Reset 15 PINs")  # fmt: skip
    assert pin_hashes(app, "B04-G1") == before
    pdf = client.post("/cards/letters.pdf", data=hidden_fields(page))
    assert pdf.mimetype == "application/pdf"
    assert all(a != b for a, b in zip(before, pin_hashes(app, "B04-G1"), strict=True))


@pytest.mark.parametrize(
    "path", ["/meetings/{meeting}/close", "/members/{member}/active", "/cards/letters.pdf"]
)
def test_a_confirmation_page_is_chinese_for_a_chinese_viewer(client, auth, app, path):
    auth.login()
    url = path.format(meeting=open_meeting_id(app), member=member_id(app, REGULAR))
    with app.app_context():
        unit = db.session().scalar(select(Unit.id).where(Unit.code == "B04-G1"))
    page = client.post(url, data={"active": "no", "unit_id": unit}, headers=ZH)
    text = page.get_data(as_text=True).split('<main id="main">', 1)[1]
    assert "尚未做任何更改" in text and "取消" in text
    assert not re.search(r"[A-Za-z]{4,}", re.sub(r"<[^>]*>", "", text)), text
