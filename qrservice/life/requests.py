"""Leave (请假) and make-up study (补课): what a member asks, what an officer decides.

Approved leave makes the member's attendance "excused" (via "leave"): written at once while the
meeting is scheduled or open, so the close (which marks absent only members without a row)
leaves them excused. After the close leave goes through an attendance correction instead.

Make-up is for a closed meeting the member missed (absent, or no row though expected), within
Organisation.makeup_days local days of the meeting. Accepting it makes the attendance
"made_up", which counts as attended, and settles the meeting's points: make-up earns
Organisation.makeup_points as a "make_up" ledger line (qrservice.life.points), taken back by
the same settling if a later correction undoes it.

Members act with the actor "member:<number>"; every action is audited. Functions add and
flush, never commit; refusals raise RequestError with ``errors`` by field.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from qrservice.audit import Actor, record
from qrservice.life.attendance import is_expected
from qrservice.life.points import MEETING_ROW_LOCK, settle_attendance_points
from qrservice.models import (
    Attendance,
    LeaveRequest,
    MakeupStudy,
    Meeting,
    Member,
    Organisation,
    Unit,
)
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import local_time, local_today, utcnow

#: The longest reason or comment kept (LeaveRequest.reason, .comment, MakeupStudy.comment).
TEXT_MAX = 200
#: The longest make-up text kept.
MAKEUP_MAX = 5000


class RequestError(ValueError):
    """A refused leave or make-up action; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def member_actor(member: Member) -> Actor:
    """The actor of a member's own action from their unlocked card."""
    return Actor(f"member:{member.number}")


def _organisation(s: Session) -> Organisation:
    org = current_organisation(s)
    return (
        org
        if org is not None
        else Organisation(makeup_days=30, makeup_min_chars=50, makeup_points=1)
    )


def _text(value: str, field: str, required: bool, errors: dict[str, str]) -> str:
    value = " ".join((value or "").split())
    if len(value) > TEXT_MAX or (required and not value):
        errors[field] = _("Write 1 to %(n)d characters.", n=TEXT_MAX)
    return value


def _attendance(s: Session, meeting: Meeting, member: Member) -> Attendance | None:
    return s.scalar(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id, Attendance.member_id == member.id
        )
    )


def leave_of(s: Session, meeting: Meeting, member: Member) -> LeaveRequest | None:
    return s.scalar(
        select(LeaveRequest).where(
            LeaveRequest.meeting_id == meeting.id, LeaveRequest.member_id == member.id
        )
    )


def _leave_meeting_errors(meeting: Meeting) -> dict[str, str]:
    if meeting.status == "cancelled":
        return {"meeting": _("This meeting is cancelled.")}
    if meeting.status == "closed" or meeting.ends_at <= utcnow():
        return {"meeting": _("No leave for a past meeting.")}
    return {}


def request_leave(s: Session, member: Member, meeting: Meeting, reason: str) -> LeaveRequest:
    """The member asks for leave from a coming (or open) meeting they are expected at.

    A refused or withdrawn request may be asked again (the same row, pending again)."""
    errors: dict[str, str] = {}
    reason = _text(reason, "reason", True, errors)
    errors.update(_leave_meeting_errors(meeting))
    if not errors and not is_expected(s, meeting, member):
        errors["meeting"] = _("This meeting does not expect you.")
    existing = leave_of(s, meeting, member)
    if existing is not None and existing.status in ("pending", "approved"):
        errors["meeting"] = _("You have already asked for leave from this meeting.")
    row = _attendance(s, meeting, member)
    if row is not None and row.status in ("present", "late"):
        errors["meeting"] = _("You have already checked in to this meeting.")
    if errors:
        raise RequestError(errors)
    actor = member_actor(member)
    if existing is None:
        existing = LeaveRequest(meeting_id=meeting.id, member_id=member.id)
        s.add(existing)
    existing.reason = reason
    existing.status = "pending"
    existing.requested_at = utcnow()
    existing.requested_by = actor.label
    existing.decided_at = existing.decided_by = existing.comment = None
    s.flush()
    record(
        s,
        actor,
        "leave.request",
        "member",
        member.id,
        after={"meeting": meeting.id, "request": existing.id, "why": reason},
    )
    return existing


def withdraw_leave(s: Session, member: Member, leave: LeaveRequest) -> None:
    """The member takes back their pending request."""
    if leave.member_id != member.id:
        raise RequestError({"request": _("Not your request.")})
    if leave.status != "pending":
        raise RequestError({"request": _("Only a pending request can be withdrawn.")})
    leave.status = "withdrawn"
    leave.decided_at = utcnow()
    leave.decided_by = member_actor(member).label
    s.flush()
    record(
        s,
        member_actor(member),
        "leave.withdraw",
        "member",
        member.id,
        after={"meeting": leave.meeting_id, "request": leave.id},
    )


def _excuse(s: Session, actor: Actor, meeting: Meeting, member: Member) -> None:
    """Write the member's attendance as "excused" (via "leave") at a scheduled or open
    meeting, the meeting row locked as a close locks it: the close then leaves them excused."""
    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    errors = _decision_meeting_errors(meeting)
    row = _attendance(s, meeting, member)
    if row is not None and row.status in ("present", "late", "visitor"):
        errors["status"] = _("The member has already checked in to this meeting.")
    if errors:
        raise RequestError(errors)
    if row is None:
        s.add(
            Attendance(
                meeting_id=meeting.id,
                member_id=member.id,
                status="excused",
                via="leave",
                checked_in_at=utcnow(),
                recorded_by=actor.label,
            )
        )
    else:
        row.status = "excused"
        row.via = "leave"
        row.recorded_by = actor.label
    s.flush()


def _decision_meeting_errors(meeting: Meeting) -> dict[str, str]:
    if meeting.status == "cancelled":
        return {"meeting": _("This meeting is cancelled.")}
    if meeting.status == "closed":
        return {
            "meeting": _(
                "Check-in of this meeting is closed: correct the member's attendance to "
                "“on leave” instead."
            )
        }
    return {}


def approve_leave(s: Session, actor: Actor, leave: LeaveRequest, comment: str = "") -> None:
    """Approve a pending request until the meeting closes: the member is excused."""
    errors: dict[str, str] = {}
    comment = _text(comment, "comment", False, errors)
    if leave.status != "pending":
        errors["request"] = _("This request has already been decided.")
    if errors:
        raise RequestError(errors)
    _excuse(s, actor, leave.meeting, leave.member)
    _decide(s, actor, leave, "approved", comment, "leave.approve")


def refuse_leave(s: Session, actor: Actor, leave: LeaveRequest, comment: str) -> None:
    """Refuse a pending request, saying why."""
    errors: dict[str, str] = {}
    comment = _text(comment, "comment", True, errors)
    if leave.status != "pending":
        errors["request"] = _("This request has already been decided.")
    if errors:
        raise RequestError(errors)
    _decide(s, actor, leave, "refused", comment, "leave.refuse")


def record_leave(
    s: Session, actor: Actor, meeting: Meeting, member: Member, reason: str
) -> LeaveRequest:
    """An officer records leave given by phone: approved at once. A pending request of the
    member is approved with it."""
    errors: dict[str, str] = {}
    reason = _text(reason, "reason", True, errors)
    errors.update(_decision_meeting_errors(meeting))
    if not errors and not is_expected(s, meeting, member):
        errors["member"] = _("This meeting does not expect this member.")
    leave = leave_of(s, meeting, member)
    if leave is not None and leave.status == "approved":
        errors["request"] = _("This member's leave is already approved.")
    if errors:
        raise RequestError(errors)
    _excuse(s, actor, meeting, member)
    now = utcnow()
    if leave is None:
        leave = LeaveRequest(meeting_id=meeting.id, member_id=member.id)
        s.add(leave)
    was_pending = leave.status == "pending"
    if not was_pending:
        leave.reason = reason
        leave.requested_at = now
        leave.requested_by = actor.label
    _mark_decided(leave, actor, "approved", reason if was_pending else None)
    s.flush()
    record(
        s,
        actor,
        "leave.record",
        "member",
        member.id,
        after={"meeting": meeting.id, "request": leave.id, "why": reason},
    )
    return leave


def _mark_decided(
    item: LeaveRequest | MakeupStudy, actor: Actor, status: str, comment: str | None
) -> None:
    item.status = status
    item.decided_at = utcnow()
    item.decided_by = actor.label
    item.comment = comment or None


def _decide(
    s: Session, actor: Actor, item: LeaveRequest | MakeupStudy, status: str, comment: str,
    action: str,
) -> None:  # fmt: skip
    """Record an officer's decision on a request, and its line in the trail."""
    _mark_decided(item, actor, status, comment)
    s.flush()
    key = "request" if isinstance(item, LeaveRequest) else "makeup"
    record(s, actor, action, "member", item.member_id,
           after={"meeting": item.meeting_id, key: item.id, "comment": comment})  # fmt: skip


# Make-up study.


def makeup_deadline(s: Session, meeting: Meeting) -> date:
    """The last local day on which make-up of this meeting may be submitted."""
    days = _organisation(s).makeup_days
    return local_time(meeting.starts_at).date() + timedelta(days=days)


def missed(s: Session, meeting: Meeting, member: Member) -> bool:
    """Whether the member missed this closed meeting: absent, or no row though expected."""
    if meeting.status != "closed":
        return False
    row = _attendance(s, meeting, member)
    if row is not None:
        return row.status == "absent"
    return is_expected(s, meeting, member)


def _counted_chars(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def submit_makeup(
    s: Session,
    member: Member,
    meeting: Meeting,
    text: str,
    today: date | None = None,
    photo_path: str | None = None,
) -> MakeupStudy:
    """The member submits make-up study of a missed meeting within the period, with the path
    of a photo of their notes already stored (qrservice.life.photos), if any."""
    today = today or local_today()
    org = _organisation(s)
    text = (text or "").strip()
    errors: dict[str, str] = {}
    if _counted_chars(text) < org.makeup_min_chars:
        errors["text"] = _(
            "Write at least %(n)d characters (spaces not counted) about what you studied.",
            n=org.makeup_min_chars,
        )
    elif len(text) > MAKEUP_MAX:
        errors["text"] = _("Write at most %(n)d characters.", n=MAKEUP_MAX)
    if not missed(s, meeting, member):
        errors["meeting"] = _("Make-up is for a closed meeting you missed.")
    elif today > makeup_deadline(s, meeting):
        errors["meeting"] = _(
            "The period for make-up of this meeting ended on %(day)s.",
            day=makeup_deadline(s, meeting).isoformat(),
        )
    elif s.scalar(
        select(MakeupStudy.id).where(
            MakeupStudy.meeting_id == meeting.id,
            MakeupStudy.member_id == member.id,
            MakeupStudy.status.in_(("pending", "accepted")),
        )
    ):
        errors["meeting"] = _("Your make-up of this meeting is already submitted.")
    if errors:
        raise RequestError(errors)
    study = MakeupStudy(
        meeting_id=meeting.id,
        member_id=member.id,
        text=text,
        photo_path=photo_path,
        status="pending",
        submitted_at=utcnow(),
    )
    s.add(study)
    s.flush()
    record(
        s,
        member_actor(member),
        "makeup.submit",
        "member",
        member.id,
        after={"meeting": meeting.id, "makeup": study.id, "photo": photo_path is not None},
    )
    return study


def accept_makeup(s: Session, actor: Actor, study: MakeupStudy, comment: str = "") -> None:
    """Accept pending make-up: the attendance becomes "made_up" and earns make-up points."""
    errors: dict[str, str] = {}
    comment = _text(comment, "comment", False, errors)
    if study.status != "pending":
        errors["makeup"] = _("This make-up has already been decided.")
    meeting, member = study.meeting, study.member
    s.refresh(meeting, with_for_update=MEETING_ROW_LOCK)
    if not errors and not missed(s, meeting, member):
        errors["makeup"] = _("The member's attendance at this meeting is no longer absent.")
    if errors:
        raise RequestError(errors)
    row = _attendance(s, meeting, member)
    if row is None:
        s.add(
            Attendance(
                meeting_id=meeting.id,
                member_id=member.id,
                status="made_up",
                via="manual",
                checked_in_at=utcnow(),
                recorded_by=actor.label,
            )
        )
    else:
        row.status = "made_up"
    _decide(s, actor, study, "accepted", comment, "makeup.accept")
    settle_attendance_points(s, meeting, [member.id], actor.label, locked=True)


def return_makeup(s: Session, actor: Actor, study: MakeupStudy, comment: str) -> None:
    """Return pending make-up with a comment: the member may submit again within the period."""
    errors: dict[str, str] = {}
    comment = _text(comment, "comment", True, errors)
    if study.status != "pending":
        errors["makeup"] = _("This make-up has already been decided.")
    if errors:
        raise RequestError(errors)
    _decide(s, actor, study, "returned", comment, "makeup.return")


# Lists.


def pending_leave(s: Session, scope: Unit) -> list[LeaveRequest]:
    """Pending leave requests of meetings in the scope's subtree, soonest meeting first."""
    return list(
        s.scalars(
            select(LeaveRequest)
            .join(Meeting, Meeting.id == LeaveRequest.meeting_id)
            .join(Unit, Unit.id == Meeting.unit_id)
            .options(joinedload(LeaveRequest.meeting), joinedload(LeaveRequest.member))
            .where(
                LeaveRequest.status == "pending", Unit.path.startswith(scope.path, autoescape=True)
            )
            .order_by(Meeting.starts_at, LeaveRequest.id)
        )
    )


def pending_makeup(s: Session, scope: Unit) -> list[MakeupStudy]:
    """Pending make-up of meetings in the scope's subtree, oldest submission first."""
    return list(
        s.scalars(
            select(MakeupStudy)
            .join(Meeting, Meeting.id == MakeupStudy.meeting_id)
            .join(Unit, Unit.id == Meeting.unit_id)
            .options(joinedload(MakeupStudy.meeting), joinedload(MakeupStudy.member))
            .where(
                MakeupStudy.status == "pending", Unit.path.startswith(scope.path, autoescape=True)
            )
            .order_by(MakeupStudy.submitted_at, MakeupStudy.id)
        )
    )


def member_leave(s: Session, member: Member, limit: int = 20) -> list[LeaveRequest]:
    """The member's own leave requests, latest first."""
    return list(
        s.scalars(
            select(LeaveRequest)
            .options(joinedload(LeaveRequest.meeting))
            .where(LeaveRequest.member_id == member.id)
            .order_by(LeaveRequest.requested_at.desc(), LeaveRequest.id.desc())
            .limit(limit)
        )
    )


def member_makeup(s: Session, member: Member, limit: int = 20) -> list[MakeupStudy]:
    """The member's own make-up submissions, latest first."""
    return list(
        s.scalars(
            select(MakeupStudy)
            .options(joinedload(MakeupStudy.meeting))
            .where(MakeupStudy.member_id == member.id)
            .order_by(MakeupStudy.submitted_at.desc(), MakeupStudy.id.desc())
            .limit(limit)
        )
    )


def makeup_due(s: Session, member: Member, today: date | None = None) -> list[Meeting]:
    """Closed meetings the member was recorded absent at, still within the make-up period,
    without pending or accepted make-up: what the card page offers to make up."""
    today = today or local_today()
    days = _organisation(s).makeup_days
    earliest = datetime.combine(today - timedelta(days=days + 1), time())
    done = select(MakeupStudy.meeting_id).where(
        MakeupStudy.member_id == member.id, MakeupStudy.status.in_(("pending", "accepted"))
    )
    meetings = s.scalars(
        select(Meeting)
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(
            Attendance.member_id == member.id,
            Attendance.status == "absent",
            Meeting.status == "closed",
            Meeting.starts_at >= earliest,
            Meeting.id.not_in(done),
        )
        .order_by(Meeting.starts_at)
    )
    return [m for m in meetings if today <= local_time(m.starts_at).date() + timedelta(days=days)]
