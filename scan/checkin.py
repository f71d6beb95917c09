"""The one check-in operation: every door (secretary scan, on-screen code, remote self
check-in, manual, offline sync) decides through ``redeem``.

It answers ``ok`` or ``refused`` with one reason from ``REASONS`` and a readable message, so
every client shows the same thing. A repeated nonce gets the first answer again without a
second row, so an offline queue can be synced twice. Three queries at most: the card and its
member, the meeting with this member's existing row, and the write.

Simultaneous check-ins of one member (two scanners, one queue synced twice at once) never
fail: on PostgreSQL the write that comes second writes nothing (``ON CONFLICT DO NOTHING``, or
an update of a row that has changed) and the check-in is decided again on what is there now,
so it answers as if it had come second: ``already_checked_in``, or the first answer replayed.
SQLite queues writers instead (``db.begin_write``), so there the first decision stands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from cards.tokens import KeyRing, TokenError, token_from_text, verify_card
from qrservice.life.meetings import BRANCH_COMMITTEE_ROLES, INSERT_ATTENDANCE
from qrservice.life.points import settle_attendance_points
from qrservice.models import Attendance, Card, Meeting, Member, Unit, UnitRole
from qrservice.timeutil import shifted, utcnow

#: Every reason a check-in can be refused, shown alike by every client.
REASONS = (
    "invalid",  # not a card code of ours (malformed, bad signature, unknown key, wrong purpose)
    "retired_key",  # signed with a key that has been retired: the card must be reissued
    "no_card",  # well signed, but no such card was issued
    "superseded",  # an older version of a reissued card
    "revoked",  # the card was withdrawn
    "member_left",  # the member is no longer on the roll
    "no_member",  # manual check-in of a member id that does not exist
    "already_checked_in",
    "not_expected",  # a member of another unit: a visitor only if the secretary confirms
    "meeting_not_open",
    "cancelled",  # the meeting was cancelled: like a closed one, it takes no check-in
    "remote_not_allowed",
    "undone",  # a replay of a scan that was since taken back
    "nonce_reused",  # the scan's nonce already recorded another check-in (meeting or member)
)
VIAS = ("scan", "screen_code", "remote", "manual", "offline")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: A client clock may run this far ahead before its time is replaced by the server's.
CLIENT_CLOCK_SLACK = timedelta(minutes=5)
#: An offline scan synced after check-in closed is still accepted this long after closing.
OFFLINE_GRACE = timedelta(hours=24)


class MeetingNotFound(LookupError):
    """No such meeting, or not one this officer may record attendance for."""


@dataclass
class CheckinResult:
    status: str  # ok or refused
    reason: str | None
    message: str
    member: dict[str, Any] | None = None
    attendance: dict[str, Any] | None = None
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "member": self.member,
            "attendance": self.attendance,
            "replayed": self.replayed,
        }


def _refused(reason: str, message: str, member: dict[str, Any] | None = None) -> CheckinResult:
    return CheckinResult("refused", reason, message, member)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _token_refusal(reason: str) -> CheckinResult:
    if reason == "retired_key":
        return _refused(
            "retired_key",
            _("This card's code is no longer valid; the member should see the organiser."),
        )
    return _refused("invalid", _("This is not a card of ours."))


_home = aliased(Unit)
_branch = aliased(Unit)
_host = aliased(Unit)
_MEMBER_COLUMNS = (
    Member.id,
    Member.name,
    Member.number,
    Member.active,
    Member.host_unit_id,
    _home.path.label("home_path"),
    _home.kind.label("home_kind"),
    _home.name.label("home_name"),
    _branch.name.label("parent_name"),
    _host.path.label("host_path"),
)


def _member_query() -> Any:
    return (
        select(*_MEMBER_COLUMNS)
        .select_from(Member)
        .join(_home, _home.id == Member.unit_id)
        .outerjoin(_branch, _branch.id == _home.parent_id)
        .outerjoin(_host, _host.id == Member.host_unit_id)
    )


# Built once: building a select with aliases and labels costs more than running it.
_CARD_MEMBER = (
    _member_query()
    .add_columns(Card.status.label("card_status"), Card.token.label("card_token"))
    .join(Card, and_(Card.member_id == Member.id, Card.version == bindparam("version")))
    .where(Member.id == bindparam("member_id"))
)
_MEMBER_BY_ID = _member_query().where(Member.id == bindparam("member_id"))
_meeting_unit = aliased(Unit)
_nonce_row = aliased(Attendance)
_MEETING_WITH_ROW = (
    select(
        Meeting.id,
        Meeting.status,
        Meeting.unit_id,
        Meeting.starts_at,
        Meeting.ends_at,
        Meeting.opens_before_min,
        Meeting.closes_after_min,
        Meeting.late_after_min,
        Meeting.remote_allowed,
        Meeting.closed_at,
        Meeting.points,
        Meeting.title,
        Meeting.kind,
        _meeting_unit.path.label("unit_path"),
        Attendance.id.label("att_id"),
        Attendance.status.label("att_status"),
        Attendance.nonce.label("att_nonce"),
        Attendance.checked_in_at.label("att_at"),
        Attendance.via.label("att_via"),
        # The row this scan's nonce already recorded, wherever it is (nonces are unique).
        select(_nonce_row.id)
        .where(_nonce_row.nonce == bindparam("nonce"))
        .scalar_subquery()
        .label("nonce_row"),
        # A branch committee meeting expects the branch's office holders only.
        select(UnitRole.id)
        .where(
            UnitRole.unit_id == Meeting.unit_id,
            UnitRole.member_id == bindparam("member_id"),
            UnitRole.role.in_(BRANCH_COMMITTEE_ROLES),
        )
        .limit(1)
        .scalar_subquery()
        .label("office_held"),
    )
    .join(_meeting_unit, _meeting_unit.id == Meeting.unit_id)
    .outerjoin(
        Attendance,
        and_(Attendance.meeting_id == Meeting.id, Attendance.member_id == bindparam("member_id")),
    )
    .where(Meeting.id == bindparam("meeting_id"))
    # A share of the meeting row's lock (PostgreSQL; SQLite's writers queue anyway): a close of
    # check-in, which locks the row, is waited for before anything is written, and then read.
    # Taken later, by the attendance row's reference, it could deadlock with the close.
    .with_for_update(key_share=True, of=Meeting)
)


P = ParamSpec("P")


class _Outrun(Exception):
    """Another transaction wrote this member's row, or this nonce, between our read and our
    write: nothing was written, and the check-in is to be decided again."""


def _again_when_outrun(decide: Callable[P, CheckinResult]) -> Callable[P, CheckinResult]:
    """Decide again on what is there now when a write was outrun (PostgreSQL reads what
    others committed at each statement, at its default READ COMMITTED isolation)."""

    @functools.wraps(decide)
    def again(*args: P.args, **kwargs: P.kwargs) -> CheckinResult:
        for _attempt in range(3):
            try:
                return decide(*args, **kwargs)
            except _Outrun:
                continue
        raise RuntimeError("a check-in was outrun three times in a row")

    return again


def _member_dict(row: Any) -> dict[str, Any]:
    branch = row.parent_name if row.home_kind == "group" else row.home_name
    return {"id": row.id, "name": row.name, "number": row.number, "branch": branch}


@_again_when_outrun
def redeem(
    s: Session,
    *,
    ring: KeyRing,
    meeting_id: int,
    via: str,
    recorded_by: str,
    code: str | None = None,
    member_id: int | None = None,
    client_time: datetime | None = None,
    nonce: str | None = None,
    confirm_visitor: bool = False,
    scope_path: str | None = None,
    member_scope: str | None = None,
    active_only: bool = False,
    device_id: int | None = None,
    now: datetime | None = None,
) -> CheckinResult:
    """Decide one check-in, inside a transaction begun with ``db.begin_write``.

    ``scope_path`` is the unit path an officer (or device) may act in; a meeting outside it
    raises ``MeetingNotFound``, as does a meeting that does not exist.

    ``member_scope`` is the unit path whose members the caller may see (``scope_path`` when not
    given; a device passes its meeting's unit, with ``active_only``: it sees the expected list
    and nothing more). A member outside it is never described: a member id answers exactly as
    one that does not exist, and a card's refusal names nobody. Only an ``ok`` answer (a
    visitor the secretary chose to record) names them. ``device_id`` is the paired device
    that records the row, if any.
    """
    now = now or utcnow()
    if via not in VIAS:
        raise ValueError(f"unknown way of check-in {via!r}")
    if nonce is not None and not NONCE_RE.match(nonce):
        raise ValueError("nonce must be 16-64 characters of A-Z a-z 0-9 _ -")
    if client_time is None or client_time > now + CLIENT_CLOCK_SLACK:
        client_time = None
    when = client_time if via == "offline" and client_time else now

    # Core statements on the session's connection: the ORM layer has nothing to add here.
    conn = s.connection()

    # 1. Who: from the card code (no query to refuse a forged code), or a member id.
    if code is not None:
        token = token_from_text(code)
        if token is None:
            return _refused("invalid", _("This is not a card of ours."))
        try:
            claim = verify_card(ring, token)
        except TokenError as exc:
            return _token_refusal(exc.reason)
        row = conn.execute(
            _CARD_MEMBER, {"member_id": claim.member_id, "version": claim.version}
        ).first()
        if row is None or row.card_token != token:
            return _refused("no_card", _("This card was not issued here."))
        member = _member_dict(row)
        seen = _may_see(row, member_scope or scope_path, active_only)
        shown = member if seen else None
        if row.card_status == "superseded":
            return _refused(
                "superseded",
                _("This card was replaced by a newer one. The member should see the organiser."),
                shown,
            )
        if row.card_status == "revoked":
            return _refused(
                "revoked",
                _("This card was withdrawn. The member should see the organiser."),
                shown,
            )
    elif member_id is not None:
        row = conn.execute(_MEMBER_BY_ID, {"member_id": member_id}).first()
        # A member the caller may not see answers exactly like one that does not exist (and at
        # a meeting the caller may not reach, like any other check-in there).
        if row is None or not _may_see(row, member_scope or scope_path, active_only):
            if scope_path is not None:
                _reachable_meeting(conn, meeting_id, scope_path)
            return _refused("no_member", _("No such member."))
        member = _member_dict(row)
        seen, shown = True, member
    else:
        raise ValueError("give a code or a member id")
    if not row.active:
        if not seen:
            return _refused("member_left", _("This member is no longer on the roll."))
        return _refused(
            "member_left", _("%(name)s is no longer on the roll.", name=row.name), member
        )

    # 2. The meeting, with this member's row if there is one.
    mrow = conn.execute(
        _MEETING_WITH_ROW, {"member_id": row.id, "meeting_id": meeting_id, "nonce": nonce}
    ).first()
    if mrow is None or (scope_path is not None and not mrow.unit_path.startswith(scope_path)):
        raise MeetingNotFound(meeting_id)

    existing = mrow.att_status
    if nonce is not None and mrow.att_nonce == nonce:
        if existing == "undone":
            return _refused("undone", _("This scan was taken back."), shown)
        result = _ok(member, existing, mrow.att_at, mrow.att_via)
        result.replayed = True
        return result
    if nonce is not None and mrow.nonce_row is not None:
        # A client must make a new nonce for every scan: this one recorded something else.
        return _refused(
            "nonce_reused",
            _("This scan's id was already used for another check-in. Scan the card again."),
        )
    if existing in ("present", "late", "visitor", "made_up"):
        result = _refused(
            "already_checked_in",
            _("Already checked in at %(time)s.", time=_local_hhmm(mrow.att_at)),
            member if seen or existing == "visitor" else None,  # a visitor was named when recorded
        )
        result.attendance = {
            "status": existing,
            "checked_in_at": _iso(mrow.att_at),
            "via": mrow.att_via,
        }
        return result

    opens = shifted(mrow.starts_at, -timedelta(minutes=mrow.opens_before_min))
    closes = shifted(mrow.ends_at, timedelta(minutes=mrow.closes_after_min))
    late_offline = (
        via == "offline"
        and mrow.status == "closed"
        and mrow.closed_at is not None
        and now - mrow.closed_at <= OFFLINE_GRACE
        and opens <= when <= max(closes, mrow.closed_at)
    )
    if mrow.status == "cancelled":
        return _refused("cancelled", _("This meeting was cancelled."), shown)
    if not late_offline and (mrow.status != "open" or not opens <= when <= closes):
        return _refused("meeting_not_open", _("Check-in for this meeting is not open."), shown)
    if via == "remote" and not mrow.remote_allowed:
        return _refused(
            "remote_not_allowed",
            _("This meeting does not allow checking in from elsewhere."),
            shown,
        )

    if mrow.kind == "branch_committee":
        expected = mrow.office_held is not None
    else:
        expected = row.home_path.startswith(mrow.unit_path) or (
            row.host_path is not None and row.host_path.startswith(mrow.unit_path)
        )
    if not expected and not confirm_visitor:
        if not seen:
            return _refused(
                "not_expected",
                _("Not a member of this meeting's unit. Record as a visitor?"),
            )
        return _refused(
            "not_expected",
            _(
                "%(name)s is not a member of this meeting's unit. Record as a visitor?",
                name=row.name,
            ),
            member,
        )
    late_from = shifted(mrow.starts_at, timedelta(minutes=mrow.late_after_min))
    status = "visitor" if not expected else ("late" if when > late_from else "present")

    # 3. The write: a new row, or the absent/undone/excused row becomes attendance.
    values = {
        "status": status, "via": via, "checked_in_at": when, "client_time": client_time,
        "nonce": nonce, "recorded_by": recorded_by, "device_id": device_id,
    }  # fmt: skip
    if existing is None:
        insert = INSERT_ATTENDANCE[conn.dialect.name]
        written = conn.execute(insert, {"meeting_id": meeting_id, "member_id": row.id, **values})
        if written.scalar() is None:
            raise _Outrun
    else:
        _update_row(s, mrow.att_id, existing, values)
    if late_offline:
        # Check-in closed before this scan synced: its points are settled now. The key share
        # of the meeting row taken above keeps closes and corrections out meanwhile.
        meeting = s.get(Meeting, meeting_id)
        assert meeting is not None
        settle_attendance_points(s, meeting, [row.id], recorded_by, locked=True)
    return _ok(member, status, when, via)


def _update_row(s: Session, att_id: int, seen_status: str, values: dict[str, Any]) -> None:
    """Turn the row read with ``seen_status`` into attendance, unless it changed since."""
    statement = (
        update(Attendance)
        .where(Attendance.id == att_id, Attendance.status == seen_status)
        .values(**values)
    )
    if values["nonce"] is None:
        written = s.connection().execute(statement).rowcount
    else:
        # A nonce that another row took a moment ago fails its unique constraint; the
        # savepoint keeps the transaction (a sync's other scans) to decide again.
        try:
            with s.begin_nested():
                written = s.connection().execute(statement).rowcount
        except IntegrityError:
            written = 0
    if written == 0:
        raise _Outrun


def _reachable_meeting(conn: Any, meeting_id: int, scope_path: str) -> None:
    mrow = conn.execute(
        _MEETING_WITH_ROW, {"member_id": None, "meeting_id": meeting_id, "nonce": None}
    ).first()
    if mrow is None or not mrow.unit_path.startswith(scope_path):
        raise MeetingNotFound(meeting_id)


def _may_see(row: Any, scope: str | None, active_only: bool) -> bool:
    """Whether a caller limited to the unit path ``scope`` may see this member."""
    if scope is None:
        return True  # the member's own doors: their card, the on-screen code
    if active_only and not row.active:
        return False
    return row.home_path.startswith(scope) or (
        row.host_path is not None and row.host_path.startswith(scope)
    )


def _ok(member: dict[str, Any], status: str, at: datetime, via: str) -> CheckinResult:
    if status == "late":
        message = _("%(name)s checked in, late.", name=member["name"])
    elif status == "visitor":
        message = _("%(name)s recorded as a visitor.", name=member["name"])
    else:
        message = _("%(name)s checked in.", name=member["name"])
    return CheckinResult(
        "ok", None, message, member, {"status": status, "checked_in_at": _iso(at), "via": via}
    )


def _local_hhmm(at: datetime | None) -> str:
    from qrservice.timeutil import local_time

    return local_time(at).strftime("%H:%M") if at else "?"
