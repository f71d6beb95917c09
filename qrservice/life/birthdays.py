"""Political birthdays (政治生日): the yearly anniversary of the day a member joined.

A branch marks them each month: the month's list names the members who joined in that month
of an earlier year, with the day and the years of membership (this year − the joining year;
a member who joined this year has no anniversary yet). The member's card greets them in that
month, and a printable greeting card (cards.greetings) is made per member or for the list.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import extract, select
from sqlalchemy.orm import Session, joinedload

from qrservice.models import Member, Unit


@dataclass(frozen=True)
class Birthday:
    member: Member
    #: The anniversary in the month asked for (29 February falls on the 28th in other years).
    day: date
    years: int


def anniversary(joined_on: date, year: int) -> date:
    """The day of ``year`` on which a member who joined on ``joined_on`` marks it."""
    last = calendar.monthrange(year, joined_on.month)[1]
    return date(year, joined_on.month, min(joined_on.day, last))


def years_of_membership(joined_on: date, year: int) -> int:
    return year - joined_on.year


def month_birthdays(s: Session, unit: Unit, month: date) -> list[Birthday]:
    """The active members of ``unit``'s subtree whose political birthday falls in ``month``
    (any day of it), by day then number."""
    members = s.scalars(
        select(Member)
        .options(joinedload(Member.unit))
        .join(Unit, Unit.id == Member.unit_id)
        .where(
            Unit.path.startswith(unit.path, autoescape=True),
            Member.active.is_(True),
            extract("month", Member.joined_on) == month.month,
            extract("year", Member.joined_on) < month.year,
        )
    ).all()
    found = [
        Birthday(
            m, anniversary(m.joined_on, month.year), years_of_membership(m.joined_on, month.year)
        )
        for m in members
    ]
    return sorted(found, key=lambda b: (b.day, b.member.number))


def card_greeting(member: Member, today: date) -> str | None:
    """The card's greeting for ``member`` on ``today``: on the day, in the rest of the month,
    or None outside their joining month (and in the year they joined)."""
    if member.joined_on.month != today.month or member.joined_on.year >= today.year:
        return None
    years = years_of_membership(member.joined_on, today.year)
    if anniversary(member.joined_on, today.year) == today:
        return _("Today is your political birthday: %(years)d years in the Party.", years=years)
    return _("This month is your %(years)d-year anniversary of joining the Party.", years=years)
