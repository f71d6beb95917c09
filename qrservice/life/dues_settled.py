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
    and_,
    case,
    cast,
    delete,
    exists,
    extract,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from qrservice.life.dues import PAID, Ledger, facts_of, ledger_from, org_dues_start
from qrservice.models import DuesSettled, Member
from qrservice.timeutil import add_months, month_number, month_start

#: Members per round trip: well under SQLite's limit of bound values in one statement.
BATCH = 5_000

Span = tuple[date, date | None]


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
        lo = first if i == 0 else max(month_number(start), first)
        hi = month_number(rates[i + 1][0]) - 1 if i + 1 < len(rates) else None
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
    first = month_number(start)
    runs: list[tuple[int, int | None]] = [
        (month_number(m), month_number(m))
        for m in ledger.covered
        if m >= start and ledger.state(m) == PAID
    ]
    for begin, end in ledger.facts.exemptions:
        lo = max(month_number(begin), first)
        if end is None or month_number(end) >= lo:
            runs.append((lo, None if end is None else month_number(end)))
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
    one insert per 5,000 members (on PostgreSQL, one more to lock their rows; and the
    organisation, if not given and not read yet in this session). Call it after the change is
    flushed, in the same transaction."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    org_start = org_dues_start(s) if org_tracked_from is None else org_tracked_from
    conn = s.connection()
    for i in range(0, len(ids), BATCH):
        batch = ids[i : i + BATCH]
        if conn.dialect.name == "postgresql":
            # Two writers changing one member's dues at once (an exemption and a new amount,
            # say) must not each write the runs they read before the other committed: the
            # second waits here, then reads what the first wrote. SQLite's writers queue anyway.
            conn.execute(
                select(Member.id).where(Member.id.in_(batch)).order_by(Member.id).with_for_update()
            )
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


# The boards' SQL, correlated to ``Member`` (or an alias of it, ``member=``) for a count over
# members grouped by unit. Dates are compared as stored (first days of months on both sides, or
# a member's own start day: "month of d <= M" is "d < the month after M"), which costs nothing;
# months are counted as indexes (year * 12 + month - 1) only where a number of months is asked
# for. Every expression relies on the runs' invariants: merged, and none before the member's
# first owed month.


class month_index(FunctionElement[int]):  # noqa: N801 - used as a SQL function
    """A date's month as an index, year * 12 + month - 1. SQLite stores dates as ISO text, and
    slicing it is several times faster than strftime (what ``extract`` compiles to there)."""

    type = Integer()
    inherit_cache = True


@compiles(month_index)
def _month_index(element: month_index, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    year = cast(extract("year", column), Integer)
    month = cast(extract("month", column), Integer)
    return f"({compiler.process(year * 12 + month - 1, **kw)})"


@compiles(month_index, "sqlite")
def _month_index_sqlite(element: month_index, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    year = cast(func.substr(column, 1, 4), Integer)
    month = cast(func.substr(column, 6, 2), Integer)
    return f"({compiler.process(year * 12 + month - 1, **kw)})"


def _tracked(org_start: date | None) -> bool:
    return org_start is not None and org_start != date.max


def _own_start(member: Any) -> Any:
    """The day the member's own dues start (their dues_from, else the day they joined)."""
    return func.coalesce(member.dues_from, member.joined_on)


def dues_start_index(org_start: date | None, member: Any = Member) -> ColumnElement[int]:
    """The member's first owed month as an index: the later of the organisation's start and the
    month of the member's own dues start (else the month they joined), as
    ``qrservice.life.dues.first_owed_month``."""
    own = month_index(_own_start(member))
    if not _tracked(org_start):
        return own
    assert org_start is not None
    # No GREATEST on SQLite, and its two-argument max() is not PostgreSQL's.
    after_org = _own_start(member) >= add_months(month_start(org_start), 1)
    return case((after_org, own), else_=literal(month_number(org_start)))


def owes_between(org_start: date | None, first: date, last: date, member: Any = Member) -> Any:
    """True when the member owes at least one month of [``first``, ``last``] (first days of
    months): their first owed month is not after ``last``. No subquery."""
    if not _tracked(org_start) or month_start(org_start) > last:  # type: ignore[arg-type]
        return false()
    return _own_start(member) < add_months(month_start(last), 1)


def _run_holds(org_start: date, first: date, last: date, member: Any) -> Any:
    """EXISTS a run of the member holding every owed month of [first, last] (the member owes
    some). The runs are merged, so only a single run can; it must begin by the first owed
    month of the range: ``first``, or the member's start when later (no run begins before the
    start, so "by" means "at"; the start is the later of two months, hence three tests)."""
    run = DuesSettled
    begins = or_(
        run.first_month <= first,
        run.first_month <= month_start(org_start),
        run.first_month <= _own_start(member),
    )
    return (
        exists()
        .where(
            run.member_id == member.id,
            or_(run.last_month.is_(None), run.last_month >= last),
            begins,
        )
        .correlate(member)
    )


def settled_through(org_start: date | None, first: date, last: date, member: Any = Member) -> Any:
    """True when every owed month of [``first``, ``last``] (first days of months, inclusive) is
    paid or exempt; true as well when none of them is owed. One correlated EXISTS, on
    dates only."""
    if not _tracked(org_start):
        return true()
    assert org_start is not None
    owes = owes_between(org_start, first, last, member)
    return or_(not_(owes), _run_holds(org_start, first, last, member))


def in_arrears(org_start: date | None, before: date, member: Any = Member) -> Any:
    """True when an owed month before ``before`` (a first day of a month) is not fully paid
    or exempt: ``arrears_months(...) > 0``, but one EXISTS on dates only (several times
    faster: count members in arrears with this)."""
    if not _tracked(org_start):
        return false()
    assert org_start is not None
    first, last = month_start(org_start), add_months(before, -1)
    return and_(
        owes_between(org_start, first, last, member),
        not_(_run_holds(org_start, first, last, member)),
    )


def arrears_months(
    org_start: date | None, before: date, member: Any = Member
) -> ColumnElement[int]:
    """How many of the member's owed months in [their start, ``before``) are not in a settled
    run: with ``before`` the first of today's month, ``status_of(ledger, today).arrears_months``.
    A correlated EXISTS (``in_arrears``), then for members in arrears a scalar subquery over
    their runs (to count members in arrears, ``in_arrears`` alone is faster)."""
    if not _tracked(org_start):
        return literal(0)
    assert org_start is not None
    end = month_number(before)
    org = month_number(org_start)
    if org >= end:
        return literal(0)
    own = _own_start(member)
    owed = case(
        (own < add_months(month_start(org_start), 1), literal(end - org)),
        (own < before, end - month_index(own)),
        else_=literal(0),
    )
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
    # Most members owe nothing: the EXISTS answers for them, cheaper than counting months.
    return case((in_arrears(org_start, before, member), owed - settled), else_=literal(0))
