"""Points that follow attendance exactly: a meeting's attendance points are derived, not kept.

``settle_attendance_points`` makes the sum of a member's "attendance" ledger lines for a meeting
equal to what their attendance earns now, by adding one line for the difference; likewise its
"make_up" lines, which accepted make-up ("made_up") earns instead of the meeting's points.
Every change of attendance after check-in closed (a close, a re-close, an undo, a late
offline scan, an officer's correction, accepted make-up) settles again, so a meeting never
pays twice and a taken-back check-in never keeps its points. Lines are never edited or
deleted: a reversal is a negative line.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, has_app_context
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from qrservice.models import Attendance, Meeting, Organisation, PointsEntry

#: What a negative line's reason says before the meeting's title, in the organisation's
#: language (BABEL_DEFAULT_LOCALE). The ledger is data shown as stored wherever it is read
#: (the card page, boards, exports), so the line is written in the organisation's language
#: once rather than translated at every place that shows it.
REVERSAL_MARKERS = {"zh": "撤销：", "en": "Reversed: "}
#: Locks the meeting row however it was loaded: the scanner's API loads it with its unit
#: joined, and a plain FOR UPDATE would lock the outer join's nullable side too, which
#: PostgreSQL refuses.
MEETING_ROW_LOCK = {"of": Meeting}
#: The ledger kinds derived from attendance: a meeting's points for coming, and make-up
#: points (Organisation.makeup_points) for accepted make-up study (补课) instead.
SETTLED_KINDS = ("attendance", "make_up")
#: The longest reason a ledger line holds (PointsEntry.reason).
REASON_LENGTH = 200


def earned(meeting: Meeting, status: str | None) -> int:
    """The attendance points a member's ``status`` at ``meeting`` earns now: the meeting's
    points once check-in has closed at least once (a reopened meeting keeps what its close
    gave until it closes again), if the meeting is not cancelled and the member came.
    Accepted make-up ("made_up") earns make-up points instead (``earned_make_up``)."""
    if meeting.status == "cancelled" or meeting.closed_at is None:
        return 0
    return meeting.points if status in ("present", "late") else 0


def earned_make_up(meeting: Meeting, status: str | None, makeup_points: int) -> int:
    """The make-up points (Organisation.makeup_points) a member's ``status`` earns now: only
    accepted make-up ("made_up") of a meeting that closed and was not cancelled."""
    if meeting.status == "cancelled" or meeting.closed_at is None:
        return 0
    return makeup_points if status == "made_up" else 0


def reversal_reason(title: str) -> str:
    """The reason of a line taking points back, e.g. "撤销：主题党日"."""
    locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh") if has_app_context() else "zh"
    marker = REVERSAL_MARKERS.get(str(locale).split("_")[0], REVERSAL_MARKERS["zh"])
    return (marker + title)[:REASON_LENGTH]


def settle_attendance_points(
    s: Session,
    meeting: Meeting,
    member_ids: Iterable[int] | None,
    by: str,
    *,
    locked: bool = False,
) -> int:
    """Add a ledger line for each member whose attendance points at ``meeting`` differ from
    what their attendance earns now (``earned``); returns how many lines were added.

    ``member_ids`` None settles everyone with attendance or points at the meeting. Four
    statements whatever their number: the meeting row (read again, locked), the statuses, a
    grouped sum, one insert of every line (and the organisation's make-up points when a
    member made up or held make-up points).

    The meeting row is locked first (FOR UPDATE, as closing check-in does), so two requests
    settling the same meeting add their lines one after the other, the second seeing the
    first's. ``locked`` says the caller already holds a lock on the meeting row that keeps
    out every other settle of these members: FOR UPDATE (closing, reopening, a correction, an
    undo), or a check-in's key share, which closes and corrections wait for and which a
    concurrent check-in or undo of the same member follows through the attendance row.
    """
    ids = None if member_ids is None else sorted(set(member_ids))
    if ids == []:
        return 0
    s.flush()  # a refresh would drop the meeting's unflushed changes
    s.refresh(meeting, with_for_update=None if locked else MEETING_ROW_LOCK)

    statuses_query = select(Attendance.member_id, Attendance.status).where(
        Attendance.meeting_id == meeting.id
    )
    sums_query = (
        select(PointsEntry.member_id, PointsEntry.kind, func.sum(PointsEntry.points))
        .where(PointsEntry.meeting_id == meeting.id, PointsEntry.kind.in_(SETTLED_KINDS))
        .group_by(PointsEntry.member_id, PointsEntry.kind)
    )
    if ids is not None:
        statuses_query = statuses_query.where(Attendance.member_id.in_(ids))
        sums_query = sums_query.where(PointsEntry.member_id.in_(ids))
    statuses: dict[int, str] = {
        member_id: status for member_id, status in s.execute(statuses_query)
    }
    held: dict[tuple[int, str], int] = {
        (member_id, kind): int(total or 0) for member_id, kind, total in s.execute(sums_query)
    }
    makeup_points = 0
    if any(k == "make_up" for _m, k in held) or "made_up" in statuses.values():
        makeup_points = int(s.scalar(select(Organisation.makeup_points).limit(1)) or 0)

    members = ids if ids is not None else sorted(statuses.keys() | {m for m, _k in held})
    lines = []
    for member_id in members:
        status = statuses.get(member_id)
        for kind in SETTLED_KINDS:
            now = (
                earned(meeting, status)
                if kind == "attendance"
                else earned_make_up(meeting, status, makeup_points)
            )
            difference = now - held.get((member_id, kind), 0)
            if difference == 0:
                continue
            reason = meeting.title if difference > 0 else reversal_reason(meeting.title)
            lines.append(
                {
                    "member_id": member_id, "at": meeting.starts_at, "points": difference,
                    "kind": kind, "meeting_id": meeting.id,
                    "reason": reason[:REASON_LENGTH], "recorded_by": by,
                }
            )  # fmt: skip
    if lines:
        s.execute(insert(PointsEntry), lines)
    return len(lines)


def attendance_points(s: Session, meeting: Meeting, member_id: int) -> int:
    """The attendance points a member holds for a meeting (the sum of its ledger lines)."""
    total = s.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.meeting_id == meeting.id,
            PointsEntry.member_id == member_id,
            PointsEntry.kind == "attendance",
        )
    )
    return int(total or 0)
