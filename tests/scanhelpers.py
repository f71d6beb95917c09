"""Helpers for check-in tests: the demo's open meeting, members' card codes, nonces."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.meetings import MeetingFields, create_meeting, open_checkin
from qrservice.models import Meeting, Member, Unit
from qrservice.org.issuance import active_card, reissue_card, revoke_card
from qrservice.signing_keys import key_ring
from qrservice.timeutil import utcnow


def nonce() -> str:
    return secrets.token_urlsafe(16)


def open_meeting_id(app) -> int:
    """The demo's open meeting: the first one open (a test may open more; without an order,
    PostgreSQL may answer any of them)."""
    with app.app_context():
        return db.session().scalar(
            select(Meeting.id).where(Meeting.status == "open").order_by(Meeting.id).limit(1)
        )


def member_id(app, number: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Member.id).where(Member.number == number))


def card_url_of(app, number: str) -> str:
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        return "https://cards.example.org/c/" + active_card(s, member.id).token


def member_in_branch(app, code: str, floating: bool = False, skip: int = 0) -> str:
    """The number of an active member whose home is in the branch with this code."""
    with app.app_context():
        s = db.session()
        branch = s.scalar(select(Unit).where(Unit.code == code))
        return s.scalars(
            select(Member.number)
            .join(Member.unit)
            .where(
                Unit.path.startswith(branch.path),
                Member.floating.is_(floating),
                Member.host_unit_id.is_(None),
            )
            .order_by(Member.number.desc())
            .offset(skip)
        ).first()


def reissue(app, number: str) -> None:
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        reissue_card(s, Actor.system("test"), member, key_ring(), "lost")
        s.commit()


def revoke(app, number: str) -> None:
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        revoke_card(s, Actor.system("test"), member, "left")
        s.commit()


def new_meeting(app, unit_code: str = "B02", opened: bool = True, **overrides) -> int:
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == unit_code))
        now = utcnow()
        fields = {
            "unit": unit, "kind": "group", "title": "测试会议",
            "starts_at": now - timedelta(minutes=5), "ends_at": now + timedelta(hours=1),
        }  # fmt: skip
        fields.update(overrides)
        meeting = create_meeting(s, Actor.system("test"), MeetingFields(**fields))
        if opened:
            open_checkin(s, Actor.system("test"), meeting)
        s.commit()
        return meeting.id
