"""What a scanner keeps to work offline: the meeting's expected list, each member with their
current card's digest and their attendance so far.

The list holds only what the missing list already shows (id, name, number, unit) plus the
card: its version and a digest of its code (the first 128 bits of SHA-256 of the token), not
the code itself, so that a lost phone does not carry printable copies of every member's card.
The scanner hashes what it scans and compares: a current card shows the member's name at once
("pending sync"), another version of a known member's card is flagged as replaced, anything
else as unknown. The server still decides every scan when it syncs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from qrservice.life.meetings import meeting_expected_filter
from qrservice.models import Attendance, Card, Meeting, Member, Unit

#: How many hex digits of the SHA-256 of a card's token the list carries.
DIGEST_HEX = 32


def card_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:DIGEST_HEX]


def expected_list(s: Session, meeting: Meeting) -> list[dict[str, Any]]:
    """The meeting's expected members, by member number, as the scanner keeps them."""
    rows = s.execute(
        select(
            Member.id,
            Member.name,
            Member.number,
            Unit.name.label("unit"),
            Card.version,
            Card.token,
            Attendance.status,
        )  # fmt: skip
        .join(Unit, Unit.id == Member.unit_id)
        .outerjoin(Card, and_(Card.member_id == Member.id, Card.status == "active"))
        .outerjoin(
            Attendance,
            and_(Attendance.member_id == Member.id, Attendance.meeting_id == meeting.id),
        )
        .where(meeting_expected_filter(meeting))
        .order_by(Member.number)
    ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "number": r.number,
            "unit": r.unit,
            "card": {"version": r.version, "digest": card_digest(r.token)} if r.token else None,
            "attendance": r.status if r.status != "undone" else None,
        }
        for r in rows
    ]


def find_expected(s: Session, meeting: Meeting, q: str, limit: int = 20) -> list[Member]:
    """Expected members whose name or number contains ``q`` (a device's lookup)."""
    return list(
        s.scalars(
            select(Member)
            .where(
                meeting_expected_filter(meeting),
                or_(
                    Member.name.contains(q, autoescape=True),
                    Member.number.contains(q, autoescape=True),
                ),
            )
            .order_by(Member.number)
            .limit(limit)
        )
    )
