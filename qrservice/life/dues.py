"""Dues (党费): each member's monthly amount with its history, exemptions, payments, and where
the member stands. The rules, as a treasurer expects them:

- **Monthly amount with history.** A member's amount is set from a month on
  (``set_dues_rate``); setting the same month again replaces that month's amount. The amount due
  for a month is that of the newest rate effective on or before it; before the first rate, the
  first rate applies. A member without any rate has unknown dues: a month is then paid by any
  payment that covers it, whatever its amount.
- **Tracking start.** A member owes from the later of the organisation's
  ``dues_tracked_from`` and their own ``dues_from`` (else the month they joined: joining
  mid-month owes that month). Earlier months are never owed.
- **Exemptions (免交).** Months inside an exemption (not voided) owe nothing and are never
  arrears; an exemption ending in March means April is owed again. Exemptions are ended or
  voided, never deleted.
- **Payments.** A payment covers 1–24 consecutive months from its first month. Its amount fills
  the covered months in order, each up to that month's due minus what earlier payments (in the
  order they were recorded) already gave it; exempt and untracked months take nothing. A month
  is *paid* when fully filled, *partial* when some but not all, *unpaid* otherwise; a second
  payment covering a partial month tops it up. Payments for months after the current one are
  advance payments: the member is then paid through a future month. An amount above what the
  covered months still owe is refused (naming the figure owed), so that no money is silently
  lost, unless the member has no known rate. The receipt number is unique for ever.
- **Void.** A mistaken payment is voided with a reason, never deleted: it then counts for
  nothing and stays listed as voided, keeping its receipt number.
- **Status.** Paid through month M: every owed month from the first one to M is paid or
  exempt. Arrears: owed months before the current one not fully paid, and what they still owe.
  The current month is never in arrears.

Plain functions on a session: they add and flush, never commit, and raise ``DuesError`` with
``errors`` by field name for bad input.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Date, Integer, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.life.points_ledger import settle_dues_points
from qrservice.models import DUES_METHODS, DuesExemption, DuesPayment, DuesRate, Member
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import (
    add_months,
    half_width,
    local_today,
    month_start,
    month_text,
    parse_day,
    parse_month,
    utcnow,
)

RECEIPT_RE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
#: The largest monthly amount: 100,000 yuan, in fen.
MAX_MONTHLY_FEN = 10_000_000
MAX_MONTHS = 24
#: The largest payment: 24 months of the largest monthly amount.
MAX_PAYMENT_FEN = MAX_MONTHS * MAX_MONTHLY_FEN
EARLIEST_MONTH = date(2000, 1, 1)
#: How far ahead a month may be set (an amount, an exemption, an advance payment), in months.
MONTHS_AHEAD = 5 * 12
MAX_REASON = 200

#: How payment methods may be written (forms, imports, the CLI): WeChat and Alipay are online.
METHOD_WORDS = {
    "cash": "cash", "现金": "cash",
    "transfer": "transfer", "bank": "transfer", "bank transfer": "transfer", "转账": "transfer",
    "银行转账": "transfer", "银行": "transfer",
    "online": "online", "wechat": "online", "weixin": "online", "微信": "online",
    "微信支付": "online", "alipay": "online", "支付宝": "online", "线上": "online",
    "网上": "online", "在线": "online",
}  # fmt: skip

#: Month states, as pages and exports name them.
PAID, PARTIAL, UNPAID, EXEMPT, NOT_OWED = "paid", "partial", "unpaid", "exempt", "not_owed"


class DuesError(ValueError):
    """Rejected dues input: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# Months and amounts


def yuan(fen: int | None) -> str:
    """An amount in fen as yuan with two decimals ("12.50")."""
    if fen is None:
        return ""
    return f"{fen // 100}.{fen % 100:02d}"


_YUAN_RE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$")


def parse_yuan(value: Any) -> int:
    """An amount in yuan with at most two decimals ("12.5", "12.50", "１２", "¥12", "12元";
    a spreadsheet number cell too), in fen. Negative amounts, exponents and words are refused
    with ValueError."""
    if isinstance(value, bool):
        raise ValueError(_("not an amount; write yuan, e.g. 12.50"))
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
        if number < 0 or number != number.quantize(Decimal("0.01")):
            raise ValueError(_("not an amount; write yuan with at most two decimals, e.g. 12.50"))
        return int(number * 100)
    text = half_width(value).removeprefix("¥").removesuffix("元").strip()
    if not _YUAN_RE.match(text):
        raise ValueError(_("not an amount; write yuan with at most two decimals, e.g. 12.50"))
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(_("not an amount; write yuan, e.g. 12.50")) from None
    if number > Decimal(10**9):
        raise ValueError(_("this amount is too large"))
    return int(number * 100)


def parse_method(value: Any, default: str | None = None) -> str:
    text = half_width(value).casefold()
    if not text and default:
        return default
    method = METHOD_WORDS.get(text)
    if method is None:
        raise ValueError(_("cash, transfer or online (现金/转账/微信)"))
    return method


def _latest_month(today: date) -> date:
    return add_months(month_start(today), MONTHS_AHEAD)


def _month_errors(name: str, month: date | None, today: date, errors: dict[str, str]) -> None:
    if month is not None and not EARLIEST_MONTH <= month <= _latest_month(today):
        errors.setdefault(
            name,
            _("must be between %(first)s and %(last)s", first=month_text(EARLIEST_MONTH),
              last=month_text(_latest_month(today))),
        )  # fmt: skip


def _reason_errors(name: str, reason: str | None, errors: dict[str, str]) -> str:
    text = (reason or "").strip()
    if not text:
        errors.setdefault(name, _("required"))
    elif len(text) > MAX_REASON:
        errors.setdefault(name, _("at most %(n)d characters", n=MAX_REASON))
    return text


# What a member owes, month by month


@dataclass
class DuesFacts:
    """One member's dues records: when they joined and their own dues start, rates by month,
    live exemptions, live payments in the order they were recorded."""

    joined_on: date | None = None
    dues_from: date | None = None
    rates: list[tuple[date, int]] = field(default_factory=list)
    exemptions: list[tuple[date, date | None]] = field(default_factory=list)
    payments: list[tuple[date, int, int]] = field(default_factory=list)


class Ledger:
    """A member's months from their first owed month: what each owes and what payments gave it."""

    def __init__(self, facts: DuesFacts, start: date | None) -> None:
        self.facts = facts
        #: The first owed month; None: nothing is owed (no organisation set up).
        self.start = start
        self.rates = sorted(facts.rates)
        self.allocated: dict[date, int] = defaultdict(int)
        self.covered: set[date] = set()
        for first, months, amount in facts.payments:
            self.allocate(first, months, amount)

    @property
    def rate_known(self) -> bool:
        return bool(self.rates)

    def rate(self, month: date) -> int | None:
        """The monthly amount for ``month``: the newest rate not after it, else the first."""
        if not self.rates:
            return None
        amount = self.rates[0][1]
        for start, fen in self.rates:
            if start > month:
                break
            amount = fen
        return amount

    def exempt(self, month: date) -> bool:
        return any(
            first <= month and (last is None or month <= last)
            for first, last in self.facts.exemptions
        )

    def owed(self, month: date) -> bool:
        return self.start is not None and month >= self.start

    def due(self, month: date) -> int | None:
        """What the month owes in all (0 if not owed or exempt; None if the rate is unknown)."""
        if not self.owed(month) or self.exempt(month):
            return 0
        return self.rate(month)

    def remaining(self, month: date) -> int | None:
        due = self.due(month)
        return None if due is None else max(0, due - self.allocated.get(month, 0))

    def allocate(self, first: date, months: int, amount: int) -> int:
        """Fill the months covered by a payment, in order; returns what is left over."""
        for i in range(months):
            month = add_months(first, i)
            self.covered.add(month)
            need = self.remaining(month)
            if not need or amount <= 0:
                continue
            take = min(amount, need)
            self.allocated[month] += take
            amount -= take
        return amount

    def still_owed(self, first: date, months: int) -> int | None:
        """What the months covered by a payment still owe together (None: rate unknown)."""
        if not self.rate_known:
            return None
        return sum(self.remaining(add_months(first, i)) or 0 for i in range(months))

    def state(self, month: date) -> str:
        if not self.owed(month):
            return NOT_OWED
        if self.exempt(month):
            return EXEMPT
        due = self.rate(month)
        if due is None:
            return PAID if month in self.covered else UNPAID
        got = self.allocated.get(month, 0)
        if got >= due:
            return PAID
        return PARTIAL if got > 0 else UNPAID

    def last_month(self, this_month: date) -> date:
        """The last month worth showing: this month, or later if paid or exempt ahead."""
        last = this_month
        if self.covered:
            last = max(last, max(self.covered))
        for _first, end in self.facts.exemptions:
            if end is not None:
                last = max(last, end)
        return last


@dataclass(frozen=True)
class DuesStatus:
    """Where a member stands with dues on a day."""

    #: This month's amount, in fen; None: no amount set (dues unknown).
    monthly_fen: int | None
    #: The first owed month (first day); None when nothing is tracked (no organisation).
    tracked_from: date | None
    #: The last month M such that every owed month up to M is paid or exempt; None if the
    #: first owed month is not.
    paid_through: date | None
    #: Owed months before the current one that are not fully paid.
    arrears_months: int
    #: What those months still owe, in fen (months of unknown amount count nothing).
    owed_fen: int
    first_arrears_month: date | None
    #: What this month owes in all, in fen (0 if exempt or not owed; None if unknown).
    due_this_month_fen: int | None
    exempt_now: bool
    #: This month's state: paid, partial, unpaid, exempt or not_owed.
    this_month_state: str = NOT_OWED
    #: What payments gave this month, in fen.
    paid_this_month_fen: int = 0


@dataclass(frozen=True)
class DuesMonth:
    """One month of a member's dues table."""

    month: date
    due_fen: int | None
    paid_fen: int
    state: str


def status_of(ledger: Ledger, today: date) -> DuesStatus:
    this_month = month_start(today)
    start = ledger.start
    arrears = owed = 0
    first_arrears: date | None = None
    paid_through: date | None = None
    if start is not None:
        month = start
        while month < this_month:
            if ledger.state(month) in (UNPAID, PARTIAL):
                arrears += 1
                owed += ledger.remaining(month) or 0
                first_arrears = first_arrears or month
            month = add_months(month, 1)
        last = ledger.last_month(this_month)
        month = start
        while month <= last and ledger.state(month) in (PAID, EXEMPT):
            paid_through = month
            month = add_months(month, 1)
    return DuesStatus(
        monthly_fen=ledger.rate(this_month),
        tracked_from=start,
        paid_through=paid_through,
        arrears_months=arrears,
        owed_fen=owed,
        first_arrears_month=first_arrears,
        due_this_month_fen=ledger.due(this_month),
        exempt_now=ledger.owed(this_month) and ledger.exempt(this_month),
        this_month_state=ledger.state(this_month),
        paid_this_month_fen=ledger.allocated.get(this_month, 0),
    )


def first_owed_month(
    org_tracked_from: date | None, member_dues_from: date | None, joined_on: date
) -> date | None:
    """The member's first owed month: the later of the organisation's tracking start and the
    member's own start (else the month they joined). None without an organisation."""
    if org_tracked_from is None or org_tracked_from == date.max:
        return None
    own = member_dues_from or joined_on
    return max(month_start(org_tracked_from), month_start(own))


# The members' records in one statement: when each joined and their own dues start, rates,
# live exemptions and live payments, as rows of (kind, member, a month, a second month, months,
# amount, id). Built once; the members are a parameter, bound once (SQLite takes at most
# 32,766 values in a statement).
_member_ids = bindparam("member_ids", expanding=True)
_wanted = select(Member.id).where(Member.id.in_(_member_ids)).cte("wanted")
_in_wanted = select(_wanted.c.id)
# Typed NULLs: PostgreSQL cannot match untyped ones across the branches of a UNION.
_no_int, _no_date = cast(null(), Integer), cast(null(), Date)
_FACTS = union_all(
    select(
        literal_column("'m'").label("kind"), Member.id.label("member_id"),
        Member.joined_on.label("first"), Member.dues_from.label("last"),
        _no_int.label("months"), _no_int.label("amount"), Member.id,
    ).where(Member.id.in_(_in_wanted)),
    select(
        literal_column("'r'"), DuesRate.member_id, DuesRate.effective_from, _no_date, _no_int,
        DuesRate.amount_fen, DuesRate.id,
    ).where(DuesRate.member_id.in_(_in_wanted)),
    select(
        literal_column("'e'"), DuesExemption.member_id, DuesExemption.first_month,
        DuesExemption.last_month, _no_int, _no_int, DuesExemption.id,
    ).where(DuesExemption.member_id.in_(_in_wanted), DuesExemption.voided_at.is_(None)),
    select(
        literal_column("'p'"), DuesPayment.member_id, DuesPayment.first_month, _no_date,
        DuesPayment.months, DuesPayment.amount_fen, DuesPayment.id,
    ).where(DuesPayment.member_id.in_(_in_wanted), DuesPayment.voided_at.is_(None)),
)  # fmt: skip


def facts_of(s: Session, member_ids: Iterable[int]) -> dict[int, DuesFacts]:
    """member id → their records, for the members that exist; one statement."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    facts: dict[int, DuesFacts] = defaultdict(DuesFacts)
    rows = s.connection().execute(_FACTS, {"member_ids": ids}).all()
    for row in sorted(rows, key=lambda r: r.id if r.kind == "p" else 0):
        of = facts[row.member_id]
        if row.kind == "m":
            of.joined_on, of.dues_from = row.first, row.last
        elif row.kind == "r":
            of.rates.append((row.first, row.amount))
        elif row.kind == "e":
            of.exemptions.append((row.first, row.last))
        else:
            of.payments.append((row.first, row.months, row.amount))
    return dict(facts)


def org_dues_start(s: Session) -> date | None:
    org = current_organisation(s)
    return org.dues_tracked_from if org is not None else None


def ledger_from(facts: DuesFacts, org_start: date | None) -> Ledger:
    assert facts.joined_on is not None
    return Ledger(facts, first_owed_month(org_start, facts.dues_from, facts.joined_on))


def member_ledger(s: Session, member: Any, org_tracked_from: date | None = None) -> Ledger:
    """The member's ledger: their months, what each owes and what payments gave it.
    ``member`` needs only an ``id`` (the card page's view of a member will do)."""
    org_start = org_dues_start(s) if org_tracked_from is None else org_tracked_from
    return ledger_from(facts_of(s, [member.id])[member.id], org_start)


def dues_status(
    s: Session, member: Any, today: date, org_tracked_from: date | None = None
) -> DuesStatus:
    """Where ``member`` (a Member, or anything with its ``id``) stands on ``today``. Two
    statements (the organisation, the member's records); one if the caller already read the
    organisation's ``dues_tracked_from``."""
    return status_of(member_ledger(s, member, org_tracked_from), today)


def dues_statuses(s: Session, member_ids: Iterable[int], today: date) -> dict[int, DuesStatus]:
    """member id → where they stand on ``today``, in two statements whatever the number of
    members (the organisation, the members' records). Unknown ids are left out."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    org_start = org_dues_start(s)
    facts = facts_of(s, ids)
    return {i: status_of(ledger_from(f, org_start), today) for i, f in facts.items()}


def dues_months(ledger: Ledger, today: date) -> list[DuesMonth]:
    """The member's months from the first owed one to this month (or later, if paid or exempt
    ahead), newest first."""
    if ledger.start is None:
        return []
    months = []
    month, last = ledger.start, ledger.last_month(month_start(today))
    while month <= last:
        months.append(
            DuesMonth(month, ledger.due(month), ledger.allocated.get(month, 0), ledger.state(month))
        )
        month = add_months(month, 1)
    return months[::-1]


def first_unpaid_month(ledger: Ledger, today: date) -> date:
    """Where the next payment should start: the first owed month not fully paid (skipping
    exempt ones), else this month or the month after the last one paid."""
    this_month = month_start(today)
    if ledger.start is None:
        return this_month
    month, last = ledger.start, add_months(ledger.last_month(this_month), MAX_MONTHS)
    while month <= last:
        if ledger.state(month) in (UNPAID, PARTIAL):
            return month
        month = add_months(month, 1)
    return this_month


# Amounts


def _settle(s: Session, member_id: int) -> None:
    """Keep the member's settled months (the boards' dues) in step with what just changed."""
    from qrservice.life.dues_settled import refresh_settled

    refresh_settled(s, [member_id])


def set_dues_rate(
    s: Session,
    actor: Actor,
    member: Member,
    effective_from: date,
    amount_fen: int,
    today: date | None = None,
) -> DuesRate:
    """Set the member's monthly amount from a month on; the same month again replaces it."""
    today = today or local_today()
    errors: dict[str, str] = {}
    month = month_start(effective_from) if effective_from else None
    if month is None:
        errors["effective_from"] = _("required")
    _month_errors("effective_from", month, today, errors)
    if not isinstance(amount_fen, int) or not 0 <= amount_fen <= MAX_MONTHLY_FEN:
        errors["amount"] = _("between 0 and %(max)s yuan", max=yuan(MAX_MONTHLY_FEN))
    if errors:
        raise DuesError(errors)
    rate = s.scalar(
        select(DuesRate).where(DuesRate.member_id == member.id, DuesRate.effective_from == month)
    )
    if rate is not None:
        if rate.amount_fen == amount_fen:
            return rate
        before = {"from": rate.effective_from, "amount_fen": rate.amount_fen}
        rate.amount_fen = amount_fen
        rate.recorded_by = actor.label
        rate.recorded_at = utcnow()
        s.flush()
        _settle(s, member.id)
        record(s, actor, "dues.rate", "member", member.id, before=before,
               after={"from": month, "amount_fen": amount_fen})  # fmt: skip
        return rate
    rate = DuesRate(
        member_id=member.id, effective_from=month, amount_fen=amount_fen,
        recorded_by=actor.label, recorded_at=utcnow(),
    )  # fmt: skip
    s.add(rate)
    s.flush()
    _settle(s, member.id)
    record(s, actor, "dues.rate", "member", member.id,
           after={"from": month, "amount_fen": amount_fen})  # fmt: skip
    return rate


# Exemptions


def _overlapping(
    s: Session, member: Member, first: date, last: date | None, other_than: int | None = None
) -> DuesExemption | None:
    query = select(DuesExemption).where(
        DuesExemption.member_id == member.id, DuesExemption.voided_at.is_(None)
    )
    for ex in s.scalars(query.order_by(DuesExemption.first_month)):
        if ex.id == other_than:
            continue
        if (last is None or ex.first_month <= last) and (
            ex.last_month is None or first <= ex.last_month
        ):
            return ex
    return None


def _exemption_span(ex: DuesExemption) -> str:
    if ex.last_month is None:
        return _("from %(first)s on", first=month_text(ex.first_month))
    return f"{month_text(ex.first_month)} – {month_text(ex.last_month)}"


def add_exemption(
    s: Session,
    actor: Actor,
    member: Member,
    first_month: date,
    last_month: date | None,
    reason: str,
    today: date | None = None,
) -> DuesExemption:
    """Exempt the member from dues from ``first_month`` to ``last_month`` (None: until ended)."""
    today = today or local_today()
    errors: dict[str, str] = {}
    first = month_start(first_month) if first_month else None
    last = month_start(last_month) if last_month else None
    if first is None:
        errors["first_month"] = _("required")
    _month_errors("first_month", first, today, errors)
    _month_errors("last_month", last, today, errors)
    if first and last and last < first:
        errors.setdefault("last_month", _("must not be before the first month"))
    text = _reason_errors("reason", reason, errors)
    if not errors and first is not None:
        other = _overlapping(s, member, first, last)
        if other is not None:
            errors["first_month"] = _(
                "overlaps the exemption %(span)s; end or void that one first",
                span=_exemption_span(other),
            )
    if errors:
        raise DuesError(errors)
    assert first is not None
    exemption = DuesExemption(
        member_id=member.id, first_month=first, last_month=last, reason=text,
        recorded_by=actor.label, recorded_at=utcnow(),
    )  # fmt: skip
    s.add(exemption)
    s.flush()
    _settle(s, member.id)
    record(s, actor, "dues.exempt", "member", member.id,
           after={"first_month": first, "last_month": last, "reason": text})  # fmt: skip
    return exemption


def end_exemption(
    s: Session,
    actor: Actor,
    exemption: DuesExemption,
    last_month: date,
    today: date | None = None,
) -> DuesExemption:
    """Set (or move) the exemption's last month: the month after it is owed again."""
    today = today or local_today()
    errors: dict[str, str] = {}
    last = month_start(last_month) if last_month else None
    if exemption.voided_at is not None:
        errors["last_month"] = _("this exemption was voided")
    elif last is None:
        errors["last_month"] = _("required")
    else:
        _month_errors("last_month", last, today, errors)
        if last < exemption.first_month:
            errors.setdefault(
                "last_month",
                _("must not be before its first month %(first)s",
                  first=month_text(exemption.first_month)),
            )  # fmt: skip
    member = s.get(Member, exemption.member_id)
    if not errors and last is not None and member is not None:
        other = _overlapping(s, member, exemption.first_month, last, other_than=exemption.id)
        if other is not None:
            errors["last_month"] = _("overlaps the exemption %(span)s", span=_exemption_span(other))
    if errors:
        raise DuesError(errors)
    before = {"last_month": exemption.last_month}
    exemption.last_month = last
    s.flush()
    _settle(s, exemption.member_id)
    record(s, actor, "dues.exempt_end", "member", exemption.member_id, before=before,
           after={"first_month": exemption.first_month, "last_month": last})  # fmt: skip
    return exemption


def _void(
    s: Session, actor: Actor, row: DuesExemption | DuesPayment, reason: str, already: str
) -> str:
    """Mark an exemption or a payment void, with who and why (never deleted); the reason as
    kept. DuesError naming "reason" if it is missing or the row is void already."""
    errors: dict[str, str] = {}
    if row.voided_at is not None:
        errors["reason"] = already
    text = _reason_errors("reason", reason, errors)
    if errors:
        raise DuesError(errors)
    row.voided_at = utcnow()
    row.voided_by = actor.label
    row.void_reason = text
    s.flush()
    _settle(s, row.member_id)
    return text


def void_exemption(s: Session, actor: Actor, exemption: DuesExemption, reason: str) -> None:
    """Void a mistaken exemption: its months are owed as if it never was."""
    text = _void(s, actor, exemption, reason, _("this exemption is already voided"))
    record(s, actor, "dues.exempt_void", "member", exemption.member_id,
           after={"first_month": exemption.first_month, "last_month": exemption.last_month,
                  "reason": text})  # fmt: skip


# Payments


@dataclass(frozen=True)
class PaymentFields:
    """A payment's values, checked: what ``record_payment`` takes."""

    first_month: date
    months: int
    amount_fen: int
    method: str
    receipt_no: str
    paid_on: date
    note: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "first_month": self.first_month, "months": self.months,
            "amount_fen": self.amount_fen, "method": self.method,
            "receipt_no": self.receipt_no, "paid_on": self.paid_on, "note": self.note,
        }  # fmt: skip


def _payment_errors(
    errors: dict[str, str],
    today: date,
    *,
    first_month: date | None,
    months: int | None,
    amount_fen: int | None,
    method: str | None,
    receipt_no: str | None,
    paid_on: date | None,
    note: str | None,
) -> None:
    """The checks of a payment's values that need no database; None values are skipped (their
    field already has an error)."""
    _month_errors("first_month", first_month, today, errors)
    if months is not None and not 1 <= months <= MAX_MONTHS:
        errors.setdefault("months", _("between 1 and %(n)d months", n=MAX_MONTHS))
    if amount_fen is not None and not 0 < amount_fen <= MAX_PAYMENT_FEN:
        errors.setdefault(
            "amount", _("more than 0 and at most %(max)s yuan", max=yuan(MAX_PAYMENT_FEN))
        )
    if method is not None and method not in DUES_METHODS:
        errors.setdefault("method", _("cash, transfer or online (现金/转账/微信)"))
    if receipt_no is not None and not RECEIPT_RE.match(receipt_no):
        errors.setdefault("receipt_no", _("1–40 letters, digits or '-'"))
    if paid_on is not None and not date(2000, 1, 1) <= paid_on <= today:
        errors.setdefault("paid_on", _("must be between 2000-01-01 and today"))
    if note is not None and len(note) > MAX_REASON:
        errors.setdefault("note", _("at most %(n)d characters", n=MAX_REASON))


def clean_payment(
    raw: dict[str, Any], today: date | None = None, default_method: str | None = None
) -> PaymentFields:
    """A payment as typed in a form, a CLI or a file row (amount in yuan), checked; raises
    DuesError naming every bad field. ``months`` defaults to 1; ``method`` to
    ``default_method`` if given."""
    today = today or local_today()
    errors: dict[str, str] = {}

    def parsed(name: str, parse: Any, required: bool = True) -> Any:
        value = raw.get(name)
        if half_width(value) == "" and not isinstance(value, date):
            if required:
                errors[name] = _("required")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            errors[name] = str(exc)
            return None

    first_month = parsed("first_month", parse_month)
    months: int | None = 1
    if half_width(raw.get("months")):
        text = half_width(raw.get("months"))
        if text.isascii() and text.isdigit() and len(text) <= 3:
            months = int(text)
        else:
            errors["months"] = _("a whole number of months, 1 to %(n)d", n=MAX_MONTHS)
            months = None
    amount_fen = parsed("amount", parse_yuan)
    try:
        method: str | None = parse_method(raw.get("method"), default_method)
    except ValueError as exc:
        errors["method"] = str(exc)
        method = None
    receipt_no = half_width(raw.get("receipt_no")) or None
    if receipt_no is None:
        errors["receipt_no"] = _("required")
    paid_on = parsed("paid_on", parse_day)
    note = half_width(raw.get("note")) or None
    _payment_errors(
        errors, today, first_month=first_month, months=months, amount_fen=amount_fen,
        method=method, receipt_no=receipt_no, paid_on=paid_on, note=note,
    )  # fmt: skip
    if errors:
        raise DuesError(errors)
    assert first_month and months and amount_fen and method and receipt_no and paid_on
    return PaymentFields(first_month, months, amount_fen, method, receipt_no, paid_on, note)


def receipt_taken(s: Session, receipt_no: str) -> bool:
    return s.scalar(select(DuesPayment.id).where(DuesPayment.receipt_no == receipt_no)) is not None


def receipt_taken_message() -> str:
    return _("this receipt number is already recorded (a receipt number is used once, for ever)")


def above_owed_message(owed_fen: int) -> str:
    if owed_fen == 0:
        return _("these months owe nothing (paid, exempt, or before dues are owed)")
    return _("more than these months still owe: %(owed)s yuan", owed=yuan(owed_fen))


def _is_receipt_clash(exc: IntegrityError) -> bool:
    return "receipt_no" in str(exc.orig)


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
    note: str | None = None,
    today: date | None = None,
) -> DuesPayment:
    """Record dues paid for ``months`` months from ``first_month``, with its receipt."""
    today = today or local_today()
    errors: dict[str, str] = {}
    first = month_start(first_month) if first_month else None
    method = METHOD_WORDS.get(str(method).strip().casefold(), method)
    note = (note or "").strip() or None
    _payment_errors(
        errors, today, first_month=first, months=months, amount_fen=amount_fen, method=method,
        receipt_no=receipt_no, paid_on=paid_on, note=note,
    )  # fmt: skip
    if not errors and receipt_taken(s, receipt_no):
        errors["receipt_no"] = receipt_taken_message()
    if errors:
        raise DuesError(errors)
    assert first is not None
    # The member's row is locked (PostgreSQL; SQLite writers queue anyway) so that two
    # payments recorded at once cannot both fill the same months.
    s.execute(select(Member.id).where(Member.id == member.id).with_for_update())
    still = member_ledger(s, member).still_owed(first, months)
    if still is not None and amount_fen > still:
        raise DuesError({"amount": above_owed_message(still)})
    payment = DuesPayment(
        member_id=member.id, first_month=first, months=months, amount_fen=amount_fen,
        method=method, receipt_no=receipt_no, paid_on=paid_on, note=note,
        recorded_by=actor.label, recorded_at=utcnow(),
    )  # fmt: skip
    try:
        with s.begin_nested():
            s.add(payment)
            s.flush()
    except IntegrityError as exc:
        # Another payment took the receipt number between the check and this insert.
        if _is_receipt_clash(exc):
            raise DuesError({"receipt_no": receipt_taken_message()}) from None
        raise
    _settle(s, member.id)
    after: dict[str, Any] = {
        "first_month": first, "months": months, "receipt": receipt_no,
        "amount_fen": amount_fen, "method": method,
    }  # fmt: skip
    if note:
        after["note"] = note
    record(s, actor, "dues.pay", "member", member.id, after=after)
    settle_dues_points(s, payment, actor.label)
    return payment


def void_payment(s: Session, actor: Actor, payment: DuesPayment, reason: str) -> None:
    """Void a mistaken payment: it counts for nothing, stays listed, keeps its receipt."""
    text = _void(s, actor, payment, reason, _("this payment is already voided"))
    record(s, actor, "dues.void", "member", payment.member_id,
           after={"receipt": payment.receipt_no, "first_month": payment.first_month,
                  "months": payment.months, "amount_fen": payment.amount_fen,
                  "reason": text})  # fmt: skip
    settle_dues_points(s, payment, actor.label)
