"""Each member's settled dues months, kept in the database so that boards count arrears there.

A member's ledger (qrservice.life.dues) says month by month what is owed and what payments gave
it; working that out is Python, one member at a time, which is fine for a branch and far too
slow for the overview of a thousand branches. What the boards need from it does not depend on
the day: the runs of months that are fully paid or exempt (``dues_settled``). Every owed month
outside those runs is in arrears once it has passed, so arrears, "settled for this quarter"
and the first month in arrears are plain SQL over these rows.

The rows are derived: every operation that changes a member's payments, rates, exemptions or
dues start calls ``refresh_settled`` for that member in the same transaction, and a change of
the organisation's tracking start rebuilds them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from qrservice.life.dues import PAID, Ledger, facts_of, ledger_from, org_dues_start
from qrservice.models import DuesSettled, Member

#: Members per round trip: well under SQLite's limit of bound values in one statement.
BATCH = 5_000

Span = tuple[date, date | None]


def _index(month: date) -> int:
    return month.year * 12 + month.month - 1


def _month(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def settled_spans(ledger: Ledger) -> list[Span]:
    """The runs of owed months that are fully paid or exempt, in order, adjacent runs merged;
    a run without an end is an open-ended exemption. Months before the dues start are left
    out: nothing is owed there."""
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
    """Rewrite the settled runs of these members from their records (two statements and one
    read per 5,000 members)."""
    ids = sorted(set(member_ids))
    org_start = org_dues_start(s) if org_tracked_from is None and ids else org_tracked_from
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
