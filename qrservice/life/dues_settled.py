"""Each member's settled dues months, kept in the database so that boards count arrears there.

A member's ledger (qrservice.life.dues) says month by month what is owed and what payments gave
it; working that out is Python, one member at a time, which is fine for a branch and far too
slow for the overview of a thousand branches. What the boards need from it does not depend on
the day: the runs of months that are fully paid or exempt (``dues_settled``). Every owed month
outside those runs is in arrears once it has passed, so arrears, "settled for this quarter"
and the first month in arrears are plain SQL over these rows (``arrears_months``,
``settled_through``, ``owes_between``, ``dues_start_index``: expressions correlated to
``Member``, for a grouped count over members).

The rows are derived: every operation that changes a member's payments, rates, exemptions or
dues start calls ``refresh_settled`` for that member in the same transaction, and a change of
the organisation's tracking start rebuilds them all (``rebuild_settled``).

Invariants the SQL relies on: a member's runs are disjoint, not adjacent (adjacent runs are
merged), and none starts before the member's first owed month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    Integer,
    case,
    cast,
    delete,
    exists,
    extract,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from qrservice.life.dues import PAID, Ledger, facts_of, ledger_from, org_dues_start
from qrservice.models import DuesSettled, Member

#: Members per round trip: well under SQLite's limit of bound values in one statement.
BATCH = 5_000

Span = tuple[date, date | None]


def _index(month: date) -> int:
    return month.year * 12 + month.month - 1


def _month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _zero_rate_runs(ledger: Ledger, first: int) -> list[tuple[int, int | None]]:
    """The months whose amount is 0: paid without any payment (the ledger says so)."""
    rates = ledger.rates
    runs: list[tuple[int, int | None]] = []
    for i, (start, fen) in enumerate(rates):
        if fen != 0:
            continue
        # The first rate also applies to every month before it.
        lo = first if i == 0 else max(_index(start), first)
        hi = _index(rates[i + 1][0]) - 1 if i + 1 < len(rates) else None
        if hi is None or hi >= lo:
            runs.append((lo, hi))
    return runs


def settled_spans(ledger: Ledger) -> list[Span]:
    """The runs of owed months that are fully paid or exempt, in order, adjacent runs merged;
    a run without an end is open-ended (an exemption or an amount of 0 without an end). Months
    before the dues start are left out: nothing is owed there."""
    start = ledger.start
    if start is None:
        return []
    first = _index(start)
    runs: list[tuple[int, int | None]] = [
        (_index(m), _index(m)) for m in ledger.covered if m >= start and ledger.state(m) == PAID
    ]
    for begin, end in ledger.facts.exemptions:
        lo = max(_index(begin), first)
        if end is None or _index(end) >= lo:
            runs.append((lo, None if end is None else _index(end)))
    runs += _zero_rate_runs(ledger, first)
    runs.sort(key=lambda r: r[0])
    merged: list[list[int | None]] = []
    for lo, hi in runs:
        last = merged[-1] if merged else None
        if last is not None and (last[1] is None or lo <= last[1] + 1):
            if last[1] is not None:
                last[1] = None if hi is None else max(last[1], hi)
            continue
        merged.append([lo, hi])
    return [(_month(lo), None if hi is None else _month(hi)) for lo, hi in merged]  # type: ignore[arg-type]


def refresh_settled(
    s: Session, member_ids: Iterable[int], org_tracked_from: date | None = None
) -> None:
    """Rewrite the settled runs of these members from their records: one read, one delete and
    one insert per 5,000 members (and the organisation, if not given and not read yet in this
    session). Call it after the change is flushed, in the same transaction."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    org_start = org_dues_start(s) if org_tracked_from is None else org_tracked_from
    conn = s.connection()
    for i in range(0, len(ids), BATCH):
        batch = ids[i : i + BATCH]
        facts = facts_of(s, batch)
        conn.execute(delete(DuesSettled).where(DuesSettled.member_id.in_(batch)))
        rows = [
            {"member_id": member_id, "first_month": first, "last_month": last}
            for member_id, f in facts.items()
            for first, last in settled_spans(ledger_from(f, org_start))
        ]
        if rows:
            conn.execute(insert(DuesSettled), rows)


def rebuild_settled(s: Session, org_tracked_from: date | None = None) -> int:
    """Rewrite every member's settled runs (the organisation's tracking start changed, or a
    migration made the table); returns the number of members."""
    ids = list(s.scalars(select(Member.id)))
    refresh_settled(s, ids, org_tracked_from)
    return len(ids)


# The boards' SQL. Months are counted as indexes (year * 12 + month - 1) so that "how many
# months" is a subtraction; dates are compared as they are stored.


def month_index(column: Any) -> ColumnElement[int]:
    """A date column's month as an index, year * 12 + month - 1 (SQLite and PostgreSQL)."""
    year = cast(extract("year", column), Integer)
    month = cast(extract("month", column), Integer)
    return year * 12 + month - 1


def _larger(a: Any, b: Any) -> ColumnElement[int]:
    # No GREATEST on SQLite, and its two-argument max() is not PostgreSQL's.
    return case((a > b, a), else_=b)


def _tracked(org_start: date | None) -> bool:
    return org_start is not None and org_start != date.max


def dues_start_index(org_start: date | None, member: Any = Member) -> ColumnElement[int]:
    """The member's first owed month as an index: the later of the organisation's start and the
    month of the member's own dues start (else the month they joined), as
    ``qrservice.life.dues.first_owed_month``. ``member``: Member or an alias of it."""
    own = month_index(func.coalesce(member.dues_from, member.joined_on))
    if not _tracked(org_start):
        return own
    assert org_start is not None
    return _larger(own, literal(_index(org_start)))


def arrears_months(
    org_start: date | None, before: date, member: Any = Member
) -> ColumnElement[int]:
    """How many of the member's owed months in [their start, ``before``) are not in a settled
    run: with ``before`` the first of today's month, ``status_of(ledger, today).arrears_months``.
    One correlated scalar subquery over the member's runs."""
    if not _tracked(org_start):
        return literal(0)
    end = _index(before)
    start = dues_start_index(org_start, member)
    last = DuesSettled.last_month
    # Runs never start before the member's start, so a run's months inside the range are
    # from its first month to the earlier of its last month and the month before ``before``.
    upto = case((or_(last.is_(None), last >= before), literal(end - 1)), else_=month_index(last))
    settled = (
        select(func.coalesce(func.sum(upto - month_index(DuesSettled.first_month) + 1), 0))
        .where(DuesSettled.member_id == member.id, DuesSettled.first_month < before)
        .correlate(member)
        .scalar_subquery()
    )
    return case((start < end, end - start - settled), else_=literal(0))


def owes_between(org_start: date | None, first: date, last: date, member: Any = Member) -> Any:
    """True when the member owes at least one month of [``first``, ``last``] (first days of
    months): their start is not after ``last``."""
    if not _tracked(org_start):
        return false()
    return dues_start_index(org_start, member) <= _index(last)


def settled_through(org_start: date | None, first: date, last: date, member: Any = Member) -> Any:
    """True when every owed month of [``first``, ``last``] (first days of months, inclusive) is
    paid or exempt; true as well when none of them is owed. One correlated EXISTS: the runs
    are merged, so the months are settled only if a single run holds them all."""
    if not _tracked(org_start):
        return true()
    start = dues_start_index(org_start, member)
    run = DuesSettled
    # The run must begin by the first owed month of the range: ``first``, or the member's
    # start when later (no run begins before it, so "by" means "at").
    begins = or_(run.first_month <= first, month_index(run.first_month) <= start)
    holds = (
        exists()
        .where(
            run.member_id == member.id,
            or_(run.last_month.is_(None), run.last_month >= last),
            begins,
        )
        .correlate(member)
    )
    return or_(start > _index(last), holds)
