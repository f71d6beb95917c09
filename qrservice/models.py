"""The schema: every table of the service, explicit about nulls, indexes and checks.

Alembic migrations in ``qrservice/migrations`` must produce exactly this schema; a test
compares the two.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base

UNIT_KINDS = ("committee", "branch", "group")
MEMBER_STATUSES = ("full", "probationary")
GENDERS = ("male", "female")
ROLES = ("organiser", "secretary")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


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
    #: False once the member has left; the record stays for history.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, index=True)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: Keyed hash (HMAC-SHA256) of the national ID number, for look-up only; never shown.
    id_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    unit: Mapped[Unit] = relationship()


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
    #: When it was first printed on a badge sheet; None for cards not yet printed.
    printed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    member: Mapped[Member] = relationship()
