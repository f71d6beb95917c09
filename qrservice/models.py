"""The schema: every table of the service, explicit about nulls, indexes and checks.

Alembic migrations in ``qrservice/migrations`` must produce exactly this schema; a test
compares the two.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qrservice.db import Base

UNIT_KINDS = ("committee", "branch", "group")
#: Offices held in a unit: the branch committee (支委) and a group's leader.
UNIT_ROLES = (
    "secretary",  # 书记
    "deputy_secretary",  # 副书记
    "organisation",  # 组织委员
    "publicity",  # 宣传委员
    "discipline",  # 纪检委员
    "committee_member",  # 其他支委
    "group_leader",  # 党小组组长
)
MEMBER_STATUSES = ("full", "probationary")
GENDERS = ("male", "female")
ROLES = ("organiser", "secretary")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Organisation(Base):
    """The organisation this installation serves: one row, made by ``init-org`` (or the demo)."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Its name as printed on cards and reports, e.g. 示范党委.
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    #: The first month dues are tracked (first day); earlier months are never owed.
    dues_tracked_from: Mapped[date] = mapped_column(Date, nullable=False)
    #: Days after a meeting in which a member who missed it may submit make-up study.
    makeup_days: Mapped[int] = mapped_column(
        Integer, nullable=False, default=30, server_default=text("30")
    )
    #: Shortest make-up text accepted, in characters (spaces not counted).
    makeup_min_chars: Mapped[int] = mapped_column(
        Integer, nullable=False, default=50, server_default=text("50")
    )
    #: Points for accepted make-up study, and for a month's dues paid by the month's end.
    makeup_points: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default=text("1")
    )
    dues_on_time_points: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default=text("1")
    )
    #: A member or branch scoring below this in a month is listed for follow-up.
    assessment_threshold: Mapped[int] = mapped_column(
        Integer, nullable=False, default=2, server_default=text("2")
    )
    #: Whether rankings within and between branches are shown (some organisations turn
    #: them off as formalism).
    rankings_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class Unit(Base):
    """A node of the organisation tree: a committee holds branches, a branch holds groups."""

    __tablename__ = "unit"
    __table_args__ = (CheckConstraint(_in("kind", UNIT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: committee, branch or group.
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Display name, e.g. 第一党支部.
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    #: Short unique code used in imports and exports, e.g. B01 or B01-G2.
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    #: Materialised path of ids, "/1/4/9/": a subtree is every unit whose path starts with it.
    path: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: When it was closed (no members or open meetings left); None while in use.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.code")

    def contains(self, other: Unit) -> bool:
        return other.path.startswith(self.path)


class Member(Base):
    """A member of the organisation, with exactly one home unit at a time."""

    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(_in("status", MEMBER_STATUSES), name="status"),
        CheckConstraint(_in("gender", GENDERS), name="gender"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The organisation's member number; unique, the key of imports.
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    gender: Mapped[str] = mapped_column(String(8), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Date of joining; its yearly anniversary is the member's political birthday.
    joined_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: full (正式党员) or probationary (预备党员).
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Home unit: a branch or one of its groups.
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: Living or working away from home (流动党员).
    floating: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: Where a floating member is, free text (a city).
    floating_location: Mapped[str | None] = mapped_column(String(120), nullable=True)
    floating_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The branch hosting a floating member where they are; they are expected at its meetings.
    host_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: First month whose dues are owed (first day); None: the month joined. The
    #: organisation's tracking start still applies when it is later.
    dues_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: False once the member has left; the record stays for history.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, index=True)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: Keyed hash (HMAC-SHA256) of the national ID number, for look-up only; never shown.
    id_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    host_unit: Mapped[Unit | None] = relationship(foreign_keys=[host_unit_id])


class User(Base):
    """An officer account: an organiser or a branch secretary, scoped to one unit's subtree."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(64), nullable=False)
    #: werkzeug scrypt hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    #: organiser (组织委员) or secretary (支部书记).
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The unit whose subtree this account may see and change.
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: Set by a reset to a temporary password: the next login must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    unit: Mapped[Unit] = relationship()

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UnitRole(Base):
    """An office a member holds in a unit: a branch committee member (支委) or a group leader.

    A branch committee meeting (支委会) expects the branch's office holders, not the branch.
    """

    __tablename__ = "unit_role"
    __table_args__ = (
        CheckConstraint(_in("role", UNIT_ROLES), name="role"),
        UniqueConstraint("unit_id", "member_id", "role", name="uq_unit_role_unit_member_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: One of UNIT_ROLES.
    role: Mapped[str] = mapped_column(String(24), nullable=False)
    #: When the office was taken up, if known.
    since: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()
    member: Mapped[Member] = relationship()


class OfficerSession(Base):
    """One login of an officer; the session cookie carries its token, the table its hash.

    Logging out ends this row; a password change, deactivation or a new role or unit ends
    every row of the account, so a copied cookie stops working at once.
    """

    __tablename__ = "officer_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: SHA-256 of the random token in the session cookie.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: Refreshed at most every few minutes; the idle timeout counts from it.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: When it was ended (logout, password change, deactivation); None while it may be used.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEvent(Base):
    """One change made by someone: who, what, when, and the record before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    #: The officer who made the change; None for the system (CLI, demo, member self-service).
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: Who it was, as text that survives the account: "user:alice", "cli", "member:M0001".
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    #: What happened, e.g. member.create, member.update, import.apply.
    action: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    entity_type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: JSON of the changed fields before and after (None when created or deleted).
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)


CARD_STATUSES = ("active", "superseded", "revoked")
CARD_REASONS = ("new", "lost", "damaged", "copied", "other")


class Card(Base):
    """One version of a member's electronic activity card; the QR code carries its token.

    A member has at most one active card. Reissuing supersedes the active card and makes the
    next version, so a lost or copied code stops working at once.
    """

    __tablename__ = "card"
    __table_args__ = (
        CheckConstraint(_in("status", CARD_STATUSES), name="status"),
        CheckConstraint(_in("reason", CARD_REASONS), name="reason"),
        UniqueConstraint("member_id", "version", name="uq_card_member_version"),
        Index(
            "uq_card_one_active",
            "member_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: 1 for the first card, then one more at each reissue; it is signed into the code.
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: active, superseded (by a reissue) or revoked (member left, card withdrawn).
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    #: Why this version was issued: new, lost, damaged, copied or other.
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The signing key that signed the token; retiring that key invalidates the card.
    kid: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    #: What the QR code carries (ids and a signature; nothing personal).
    token: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    #: The encoded QR matrix (cards.qr.QRMatrix.to_bytes), kept so a code is encoded once.
    qr: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: The URL that ``qr`` encodes; a changed public base URL makes the kept matrix stale.
    qr_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: Who issued it, as audit actor text.
    issued_by: Mapped[str] = mapped_column(String(80), nullable=False)
    #: When it stopped working (superseded or revoked), and why.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Hash of the PIN printed on the card letter; None until a letter is printed.
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pin_set_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: Wrong PINs in a row; past a threshold the card is locked until ``pin_locked_until``.
    pin_failures: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    pin_locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: Lockouts since the last right PIN; each one locks the PIN twice as long as the one before.
    pin_lockouts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    #: When it was first printed on a badge sheet; None for cards not yet printed.
    printed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    member: Mapped[Member] = relationship()


MEETING_KINDS = (
    "branch_general",  # 支部党员大会
    "branch_committee",  # 支部委员会
    "group",  # 党小组会
    "lecture",  # 党课
    "theme_day",  # 主题党日
    "org_life",  # 组织生活会
    "volunteer",  # 志愿服务
    "other",
)
MEETING_STATUSES = ("scheduled", "open", "closed", "cancelled")
PLAN_REPEATS = ("once", "monthly", "quarterly")
ATTENDANCE_STATUSES = ("present", "late", "excused", "absent", "made_up", "visitor", "undone")
CHECKIN_VIAS = ("scan", "screen_code", "remote", "manual", "offline", "closing", "leave")


class MeetingPlan(Base):
    """Meetings made in one step: one repeated monthly or quarterly, or the same meeting for
    every branch under a committee. Each meeting stays a meeting of its own."""

    __tablename__ = "meeting_plan"
    __table_args__ = (CheckConstraint(_in("repeat", PLAN_REPEATS), name="repeat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The unit it was made for: a branch or group, or a committee for all its branches.
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    #: once, monthly or quarterly.
    repeat: Mapped[str] = mapped_column(String(16), nullable=False)
    #: How many times it repeats (1 for once).
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()


class Meeting(Base):
    """A meeting of a unit; its expected attendees are the unit's members and hosted members."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint(_in("kind", MEETING_KINDS), name="kind"),
        CheckConstraint(_in("status", MEETING_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        # A member's open meetings (the card page): found by unit, not by walking every open
        # meeting of the organisation through ix_meeting_status (a nationwide theme day).
        Index("ix_meeting_unit_id_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    #: Start and end, naive UTC.
    starts_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    place: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Members may check in from elsewhere (online meetings, floating members).
    remote_allowed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: Check-in opens this many minutes before the start and closes this many after the end.
    opens_before_min: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    closes_after_min: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    #: Arriving more than this many minutes after the start counts as late.
    late_after_min: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    #: Points earned by attending (awarded when the meeting closes).
    points: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    #: How long an on-screen code stays valid, in seconds (longer for remote meetings).
    screen_code_ttl: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    #: scheduled, open (check-in running), closed (absences recorded, points awarded) or
    #: cancelled (expects no one, counts for nothing).
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: The minutes filed after the meeting (痕迹管理), with who filed them and when.
    minutes: Mapped[str | None] = mapped_column(Text, nullable=True)
    minutes_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    minutes_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: The plan it was made by, if any.
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_plan.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()


class Attendance(Base):
    """One member's attendance at one meeting; at most one row per member and meeting."""

    __tablename__ = "attendance"
    __table_args__ = (
        CheckConstraint(_in("status", ATTENDANCE_STATUSES), name="status"),
        CheckConstraint(_in("via", CHECKIN_VIAS), name="via"),
        UniqueConstraint("meeting_id", "member_id", name="uq_attendance_meeting_member"),
        # Boards count a period's meetings by status from this index alone (no table reads).
        Index("ix_attendance_meeting_status_member", "meeting_id", "status", "member_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: present, late, excused, absent, made_up, visitor, or undone (a mistaken scan taken back).
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Which door it came through: scan, screen_code, remote, manual, offline, closing, leave.
    via: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Server time of the check-in (set once; a repeated scan does not move it).
    checked_in_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: The scanning device's clock, for offline scans synced later.
    client_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: The client's unique id of the scan that made this row: a replayed scan is recognised.
    nonce: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    recorded_by: Mapped[str] = mapped_column(String(80), nullable=False)
    #: The paired scanner device that recorded it; None when an officer or the member did.
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("scanner_device.id", ondelete="SET NULL"), nullable=True, index=True
    )

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship()


class AttendanceCorrection(Base):
    """An officer's correction of one attendance record after the meeting: who, when, why."""

    __tablename__ = "attendance_correction"
    __table_args__ = (
        CheckConstraint(_in("from_status", ATTENDANCE_STATUSES), name="from_status"),
        CheckConstraint(_in("to_status", ATTENDANCE_STATUSES), name="to_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendance.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_status: Mapped[str] = mapped_column(String(16), nullable=False)
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Why, in the officer's words (required).
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    corrected_by: Mapped[str] = mapped_column(String(80), nullable=False)
    corrected_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    attendance: Mapped[Attendance] = relationship()


#: Where a line of points comes from; attendance, make-up and dues lines are made and reversed
#: by the records they follow, the others by an officer.
POINTS_KINDS = (
    "attendance", "make_up", "dues", "volunteer", "study", "award", "deduction", "correction",
)  # fmt: skip


class PointsEntry(Base):
    """A line of a member's points ledger; corrections are new lines, never edits."""

    __tablename__ = "points_entry"
    __table_args__ = (
        CheckConstraint(_in("kind", POINTS_KINDS), name="kind"),
        # Boards sum a period's points per member from this index alone.
        Index("ix_points_entry_member_at_points", "member_id", "at", "points"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: When the points count (the meeting's start for attendance), naive UTC.
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    #: Positive or negative.
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: The dues payment a "dues" line follows (reversed when it is voided).
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("dues_payment.id", ondelete="SET NULL"), nullable=True, index=True
    )
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(80), nullable=False)


DUES_METHODS = ("cash", "transfer", "online")


class DuesPayment(Base):
    """Dues paid for one or more consecutive months, recorded by an officer with a receipt."""

    __tablename__ = "dues_payment"
    __table_args__ = (
        CheckConstraint(_in("method", DUES_METHODS), name="method"),
        CheckConstraint("months >= 1", name="months_positive"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        # Boards sum what a period's payments brought per member from this index alone.
        Index("ix_dues_payment_member_paid", "member_id", "paid_on", "amount_fen", "voided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: First month covered (the first day of that month) and how many months.
    first_month: Mapped[date] = mapped_column(Date, nullable=False)
    months: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Unique for ever: a voided payment keeps its receipt number.
    receipt_no: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    paid_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: The treasurer's note (a transfer's reference, who paid for whom).
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: A payment is never deleted: a mistaken one is voided, with who and why.
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DuesRate(Base):
    """A member's monthly dues from a month on; the newest one not after a month applies."""

    __tablename__ = "dues_rate"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        UniqueConstraint("member_id", "effective_from", name="uq_dues_rate_member_month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: First month it applies to (first day).
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    #: Monthly amount in fen (1/100 yuan).
    amount_fen: Mapped[int] = mapped_column(Integer, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(80), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class DuesExemption(Base):
    """Months in which a member owes no dues (免交), with the reason; voided, never deleted."""

    __tablename__ = "dues_exemption"
    __table_args__ = (
        CheckConstraint(
            "last_month IS NULL OR last_month >= first_month", name="last_not_before_first"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: First and last month exempt (first days); no last month: until further notice.
    first_month: Mapped[date] = mapped_column(Date, nullable=False)
    last_month: Mapped[date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(80), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ScannerDevice(Base):
    """A phone or tablet paired to scan at a branch's meetings without an officer's password.

    It is created with a one-time pairing code (valid minutes); pairing gives the browser a
    device token. Only hashes of the code and the token are stored.
    """

    __tablename__ = "scanner_device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The branch whose open meetings it may scan.
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: What the officer called it, e.g. "门口的手机".
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    #: When set, the device may scan this meeting only.
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), nullable=True, index=True
    )
    #: After this time the device's token is refused; None: until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: SHA-256 of the one-time pairing code, cleared once used.
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: SHA-256 of the device token the paired browser keeps; None until paired.
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    paired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: Last call made with its token (refreshed at most every minute).
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()
    meeting: Mapped[Meeting | None] = relationship()


REQUEST_STATUSES = ("pending", "approved", "refused", "withdrawn")


class LeaveRequest(Base):
    """A member's request for leave (请假) from a coming meeting, or leave an officer recorded
    (given by phone); approved leave makes the attendance "excused"."""

    __tablename__ = "leave_request"
    __table_args__ = (
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status"),
        UniqueConstraint("meeting_id", "member_id", name="uq_leave_request_meeting_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    #: pending, approved, refused or withdrawn (by the member, before a decision).
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: "member:<number>" when the member asked, an officer's label when recorded by phone.
    requested_by: Mapped[str] = mapped_column(String(80), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: The officer's comment on the decision.
    comment: Mapped[str | None] = mapped_column(String(200), nullable=True)

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship()


MAKEUP_STATUSES = ("pending", "accepted", "returned")


class MakeupStudy(Base):
    """Make-up study (补课) for a missed meeting: what the member studied, in their words;
    accepted make-up counts as attended ("made_up")."""

    __tablename__ = "makeup_study"
    __table_args__ = (CheckConstraint(_in("status", MAKEUP_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    #: A photo of the member's notes, re-encoded, under the data folder; None without one.
    photo_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: pending, accepted or returned (with the officer's comment; the member may submit again).
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    comment: Mapped[str | None] = mapped_column(String(200), nullable=True)

    meeting: Mapped[Meeting] = relationship()
    member: Mapped[Member] = relationship()


class MeetingPhoto(Base):
    """A photo of a meeting's trace, re-encoded and stripped of metadata, stored on disk."""

    __tablename__ = "meeting_photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: Path under the uploads folder; the file was written by us, never as it came.
    path: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    caption: Mapped[str | None] = mapped_column(String(200), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(80), nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    meeting: Mapped[Meeting] = relationship()


POINTS_RULE_KINDS = MEETING_KINDS


class PointsRule(Base):
    """Points a kind of meeting earns by default (a new meeting takes them; each meeting
    keeps its own)."""

    __tablename__ = "points_rule"
    __table_args__ = (
        CheckConstraint(_in("meeting_kind", POINTS_RULE_KINDS), name="meeting_kind"),
        CheckConstraint("points >= 0 AND points <= 100", name="points_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_kind: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


TRANSFER_STATUSES = ("requested", "released", "accepted", "refused", "cancelled")


class Transfer(Base):
    """A member's move to another unit (组织关系转接): the old branch releases, the new one
    accepts; either side's officer may start it; a refusal needs a reason."""

    __tablename__ = "transfer"
    __table_args__ = (
        CheckConstraint(_in("status", TRANSFER_STATUSES), name="status"),
        CheckConstraint("from_unit_id != to_unit_id", name="different_units"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    from_unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    to_unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    #: requested, released (by the old side), accepted (done: the member moved), refused or
    #: cancelled.
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_by: Mapped[str] = mapped_column(String(80), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    released_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)

    member: Mapped[Member] = relationship()
    from_unit: Mapped[Unit] = relationship(foreign_keys=[from_unit_id])
    to_unit: Mapped[Unit] = relationship(foreign_keys=[to_unit_id])


# Boards: 三会一课 rules, targets and their plan–do–check–act notes; dues months settled.

COMPLIANCE_FREQUENCIES = ("month", "quarter", "year")
COMPLIANCE_UNITS = ("branch", "group")


class ComplianceRule(Base):
    """What 三会一课 requires (data an organiser changes): at least ``minimum`` meetings of a
    kind per ``frequency`` in each branch (or in each group of a branch). Cancelled meetings
    are not held."""

    __tablename__ = "compliance_rule"
    __table_args__ = (
        CheckConstraint(_in("meeting_kind", MEETING_KINDS), name="meeting_kind"),
        CheckConstraint(_in("frequency", COMPLIANCE_FREQUENCIES), name="frequency"),
        CheckConstraint(_in("per_unit", COMPLIANCE_UNITS), name="per_unit"),
        CheckConstraint("minimum >= 1 AND minimum <= 31", name="minimum_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_kind: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    #: month, quarter or year: each such period needs ``minimum`` meetings.
    frequency: Mapped[str] = mapped_column(String(16), nullable=False)
    #: branch: each branch holds them; group: each group of a branch does.
    per_unit: Mapped[str] = mapped_column(String(16), nullable=False)
    minimum: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


#: What a branch's board measures and a target can be set for.
BOARD_MEASURES = ("compliance", "attendance", "dues", "points", "warnings")


class BoardTarget(Base):
    """A branch's targets for one measure: must-reach (必达) and stretch (挑战). For
    ``warnings`` (members warned) lower is better; for the others higher is."""

    __tablename__ = "board_target"
    __table_args__ = (
        CheckConstraint(_in("measure", BOARD_MEASURES), name="measure"),
        CheckConstraint("must_reach IS NOT NULL OR stretch IS NOT NULL", name="some_target"),
        UniqueConstraint("unit_id", "measure", name="uq_board_target_unit_measure"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True
    )
    measure: Mapped[str] = mapped_column(String(16), nullable=False)
    #: In the measure's own unit: percent, average points (one decimal) or members.
    must_reach: Mapped[Decimal | None] = mapped_column(Numeric(8, 1), nullable=True)
    stretch: Mapped[Decimal | None] = mapped_column(Numeric(8, 1), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()


class TargetNote(Base):
    """The secretary's plan–do–check–act note on a measure for a period (a missed target)."""

    __tablename__ = "target_note"
    __table_args__ = (
        CheckConstraint(_in("measure", BOARD_MEASURES), name="measure"),
        UniqueConstraint("unit_id", "measure", "period", name="uq_target_note_unit_measure_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), nullable=False, index=True
    )
    measure: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The period's key: 2026-08, 2026-Q3 or 2026.
    period: Mapped[str] = mapped_column(String(8), nullable=False)
    #: Plan (what will be done), do (what was done), check (what it gave), act (what is kept
    #: or changed next period).
    plan_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    do_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    check_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    act_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    written_by: Mapped[str] = mapped_column(String(80), nullable=False)
    written_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()


class DuesSettled(Base):
    """A run of a member's months that are fully paid or exempt (last_month None: open-ended
    exemption), kept by the dues operations so that boards count arrears in the database.
    Derived from payments, rates, exemptions and the dues start; rebuilt whenever they change."""

    __tablename__ = "dues_settled"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
    )
    first_month: Mapped[date] = mapped_column(Date, nullable=False)
    last_month: Mapped[date | None] = mapped_column(Date, nullable=True)
