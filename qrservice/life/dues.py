"""Dues: each member's monthly amount, payments recorded with a receipt, and where they stand.

A member's status is "paid through month M" plus the months in arrears: the months from
``DUES_TRACKED_FROM`` (or the month they joined, if later) up to last month that no payment
covers. The current month is not yet in arrears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.models import DUES_METHODS, DuesPayment, DuesRate, Member
from qrservice.timeutil import utcnow

RECEIPT_RE = re.compile(r"^[A-Za-z0-9-]{1,40}$")


class DuesError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(a: date, b: date) -> int:
    """Whole months from month a to month b (b after a gives a positive number)."""
    return (b.year - a.year) * 12 + b.month - a.month


def record_payment(
    s: Session,
    actor: Actor,
    member: Member,
    *,
    first_month: date,
    months: int,
    amount_fen: int,
    method: str,
    receipt_no: str,
    paid_on: date,
) -> DuesPayment:
    errors = {}
    if not 1 <= months <= 24:
        errors["months"] = _("Between 1 and 24 months.")
    if amount_fen < 0:
        errors["amount"] = _("The amount cannot be negative.")
    if method not in DUES_METHODS:
        errors["method"] = _("Cash, transfer or online.")
    if not RECEIPT_RE.match(receipt_no):
        errors["receipt_no"] = _("1–40 letters, digits or '-'.")
    elif s.scalar(select(DuesPayment.id).where(DuesPayment.receipt_no == receipt_no)):
        errors["receipt_no"] = _("This receipt number is already recorded.")
    if errors:
        raise DuesError(errors)
    payment = DuesPayment(
        member_id=member.id, first_month=month_start(first_month), months=months,
        amount_fen=amount_fen, method=method, receipt_no=receipt_no, paid_on=paid_on,
        recorded_by=actor.label, recorded_at=utcnow(),
    )  # fmt: skip
    s.add(payment)
    s.flush()
    record(
        s, actor, "dues.pay", "member", member.id,
        after={"first_month": payment.first_month, "months": months, "receipt": receipt_no},
    )  # fmt: skip
    return payment


@dataclass(frozen=True)
class DuesStatus:
    monthly_fen: int | None
    #: The last month paid for (its first day), or None if nothing was ever paid.
    paid_through: date | None
    #: Months before the current one that no payment covers.
    arrears_months: int


_MONTHS_PAID = select(DuesPayment.first_month, DuesPayment.months).where(
    DuesPayment.member_id == bindparam("member_id")
)


def dues_status(s: Session, member: Member, today: date, tracked_from: date) -> DuesStatus:
    covered: set[date] = set()
    for first, months in s.connection().execute(_MONTHS_PAID, {"member_id": member.id}):
        covered.update(add_months(first, i) for i in range(months))
    start = max(month_start(tracked_from), month_start(member.joined_on))
    this_month = month_start(today)
    arrears = sum(
        1
        for i in range(max(0, months_between(start, this_month)))
        if add_months(start, i) not in covered
    )
    rate = s.scalar(
        select(DuesRate.amount_fen)
        .where(DuesRate.member_id == member.id, DuesRate.effective_from <= this_month)
        .order_by(DuesRate.effective_from.desc())
        .limit(1)
    )
    return DuesStatus(rate, max(covered) if covered else None, arrears)


def set_dues_rate(
    s: Session, actor: Actor, member: Member, effective_from: date, amount_fen: int
) -> DuesRate:
    rate = DuesRate(
        member_id=member.id, effective_from=month_start(effective_from), amount_fen=amount_fen,
        recorded_by=actor.label, recorded_at=utcnow(),
    )  # fmt: skip
    s.add(rate)
    s.flush()
    record(s, actor, "dues.rate", "member", member.id, after={"from": rate.effective_from,
           "amount_fen": amount_fen})  # fmt: skip
    return rate
