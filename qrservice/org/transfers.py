"""Transfers of members between units (组织关系转接) and hosting of floating members.

A transfer is started by an officer of either side: over the member's current unit (the old
side; starting then counts as releasing) or over the destination (the new side, naming the
member by number). The old side releases, the new side accepts; either side may refuse with a
reason at any pending step. Accepting moves the member in the same transaction: their
attendance, points, dues and card stay theirs, and the card shows the new branch at once.
Offices the member held in the old branch end on accept (each removal audited), because an
office is held by a member of that branch and the old branch must not keep a secretary who
has left it.

Hosting: a floating member (流动党员) stays at home and is also expected at the meetings of the
open branch hosting them (``Member.host_unit_id``).

Plain functions: they add and flush, never commit, and raise TransferError naming each field.
``user`` is the officer acting (None: the command line, which may act anywhere).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from qrservice.audit import Actor, record
from qrservice.models import Member, Transfer, Unit, UnitRole, User
from qrservice.timeutil import utcnow

#: Steps at which a transfer still waits for someone.
PENDING = ("requested", "released")


class TransferError(ValueError):
    """A refused transfer or hosting change: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _over(user: User | None, unit: Unit) -> bool:
    """Whether ``user`` is an officer over ``unit`` (the command line is over everything)."""
    return user is None or unit.path.startswith(user.unit.path)


def can_release(user: User | None, transfer: Transfer) -> bool:
    return transfer.status == "requested" and _over(user, transfer.from_unit)


def can_accept(user: User | None, transfer: Transfer) -> bool:
    return transfer.status == "released" and _over(user, transfer.to_unit)


def can_see_transfer(user: User | None, transfer: Transfer) -> bool:
    return _over(user, transfer.from_unit) or _over(user, transfer.to_unit)


def _open_unit(s: Session, code: str) -> Unit | None:
    return s.scalar(select(Unit).where(Unit.code == code.strip()))


def _member_by_number(s: Session, number: str) -> Member | None:
    return s.scalar(select(Member).where(Member.number == number.strip()))


def pending_transfer(s: Session, member: Member) -> Transfer | None:
    return s.scalar(
        select(Transfer).where(Transfer.member_id == member.id, Transfer.status.in_(PENDING))
    )


def start_transfer(
    s: Session,
    actor: Actor,
    user: User | None,
    *,
    member_number: str,
    to_unit: str,
    reason: str | None = None,
) -> Transfer:
    """Start moving the member with ``member_number`` to the unit with code ``to_unit``."""
    errors: dict[str, str] = {}
    number = str(member_number or "").strip()
    code = str(to_unit or "").strip()
    reason = (reason or "").strip() or None
    member = _member_by_number(s, number) if number else None
    destination = _open_unit(s, code) if code else None
    if not code:
        errors["to_unit"] = _("required")
    elif destination is None:
        errors["to_unit"] = _("no unit with code %(code)s", code=code)
    elif destination.kind == "committee":
        errors["to_unit"] = _("a member belongs to a branch or a group, not a committee")
    elif destination.closed_at is not None:
        errors["to_unit"] = _("this unit is closed")
    old_side = member is not None and member.active and _over(user, member.unit)
    new_side = (
        member is not None and member.active and destination is not None
        and "to_unit" not in errors and _over(user, destination)
    )  # fmt: skip
    if not number:
        errors["member"] = _("required")
    elif not (old_side or new_side):
        # The same words whether the number exists or not: nobody is described.
        errors["member"] = _(
            "no active member with this number is in your units, and the destination is not "
            "one of yours"
        )
    if reason is not None and len(reason) > 200:
        errors["reason"] = _("at most %(n)d characters", n=200)
    if not errors:
        assert member is not None and destination is not None
        if destination.id == member.unit_id:
            errors["to_unit"] = _("the member is already in this unit")
        elif pending_transfer(s, member) is not None:
            errors["member"] = _("a transfer of this member is already pending")
    if errors:
        raise TransferError(errors)
    assert member is not None and destination is not None
    now = utcnow()
    transfer = Transfer(
        member_id=member.id, from_unit_id=member.unit_id, to_unit_id=destination.id,
        status="released" if old_side else "requested", reason=reason,
        started_by=actor.label, started_at=now,
    )  # fmt: skip
    if old_side:
        transfer.released_by, transfer.released_at = actor.label, now
    s.add(transfer)
    s.flush()
    record(s, actor, "transfer.start", "member", member.id, after={
        "transfer": transfer.id, "member": member.number, "name": member.name,
        "from": member.unit.code, "to": destination.code, "status": transfer.status,
        **({"reason": reason} if reason else {}),
    })  # fmt: skip
    return transfer


def _locked(s: Session, transfer: Transfer) -> Transfer:
    s.refresh(transfer, with_for_update=True)
    return transfer


def _values(transfer: Transfer) -> dict[str, Any]:
    return {
        "transfer": transfer.id, "member": transfer.member.number, "name": transfer.member.name,
        "from": transfer.from_unit.code, "to": transfer.to_unit.code,
    }  # fmt: skip


def release_transfer(s: Session, actor: Actor, user: User | None, transfer: Transfer) -> None:
    """The old side lets the member go; the new side may then accept."""
    transfer = _locked(s, transfer)
    if transfer.status != "requested":
        raise TransferError({"status": _("this transfer is not waiting to be released")})
    if not _over(user, transfer.from_unit):
        raise TransferError({"status": _("only the member's present branch releases them")})
    transfer.status = "released"
    transfer.released_by, transfer.released_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "transfer.release", "member", transfer.member_id, after=_values(transfer))


def accept_transfer(s: Session, actor: Actor, user: User | None, transfer: Transfer) -> None:
    """The new side takes the member in: they move now, and their old offices end."""
    transfer = _locked(s, transfer)
    if transfer.status != "released":
        raise TransferError(
            {"status": _("this transfer must be released by the old branch before it is accepted")}
        )
    if not _over(user, transfer.to_unit):
        raise TransferError({"status": _("only the receiving branch accepts a transfer")})
    destination = transfer.to_unit
    if destination.closed_at is not None:
        raise TransferError({"to_unit": _("this unit is closed")})
    member = s.scalar(select(Member).where(Member.id == transfer.member_id).with_for_update())
    assert member is not None
    if member.unit_id != transfer.from_unit_id or not member.active:
        # Moved by an edit, or left, since the transfer started: it no longer says where from.
        raise TransferError(
            {"status": _("the member's unit or roll changed since this transfer started; "
                         "cancel it and start again")}
        )  # fmt: skip
    old = member.unit
    offices = s.scalars(
        select(UnitRole).options(joinedload(UnitRole.unit)).where(UnitRole.member_id == member.id)
    ).all()
    for office in offices:
        unit_id, role = office.unit_id, office.role
        s.delete(office)
        s.flush()
        record(s, actor, "unit.role_remove", "unit", unit_id,
               before={"member": member.number, "name": member.name, "role": role})  # fmt: skip
    member.unit = destination
    member.updated_at = utcnow()
    if member.host_unit_id is not None and destination.path.startswith(
        s.get(Unit, member.host_unit_id).path  # type: ignore[union-attr]
    ):
        # Hosted by the branch they now belong to: hosting has nothing left to do.
        _unhost(s, actor, member)
    transfer.status = "accepted"
    transfer.decided_by, transfer.decided_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "member.update", "member", member.id,
           before={"unit": old.code}, after={"unit": destination.code})  # fmt: skip
    record(s, actor, "transfer.accept", "member", member.id, after=_values(transfer))


def refuse_transfer(
    s: Session, actor: Actor, user: User | None, transfer: Transfer, reason: str | None
) -> None:
    """Either side refuses a pending transfer; the reason is required."""
    transfer = _locked(s, transfer)
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if transfer.status not in PENDING:
        errors["status"] = _("this transfer is no longer pending")
    elif not can_see_transfer(user, transfer):
        errors["status"] = _("only the two branches of a transfer decide on it")
    if not reason:
        errors["refusal_reason"] = _("say why the transfer is refused")
    elif len(reason) > 200:
        errors["refusal_reason"] = _("at most %(n)d characters", n=200)
    if errors:
        raise TransferError(errors)
    transfer.status = "refused"
    transfer.refusal_reason = reason
    transfer.decided_by, transfer.decided_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "transfer.refuse", "member", transfer.member_id,
           after={**_values(transfer), "reason": reason})  # fmt: skip


def cancel_transfer(s: Session, actor: Actor, user: User | None, transfer: Transfer) -> None:
    """Withdraw a pending transfer (an officer of either side)."""
    transfer = _locked(s, transfer)
    if transfer.status not in PENDING:
        raise TransferError({"status": _("this transfer is no longer pending")})
    if not can_see_transfer(user, transfer):
        raise TransferError({"status": _("only the two branches of a transfer decide on it")})
    transfer.status = "cancelled"
    transfer.decided_by, transfer.decided_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "transfer.cancel", "member", transfer.member_id, after=_values(transfer))


def transfers_for(
    s: Session, user: User | None, *, pending_only: bool = True
) -> tuple[list[Transfer], list[Transfer]]:
    """(incoming, outgoing) transfers of ``user``'s scope, newest first."""
    query = select(Transfer).options(
        joinedload(Transfer.member), joinedload(Transfer.from_unit), joinedload(Transfer.to_unit)
    )
    if pending_only:
        query = query.where(Transfer.status.in_(PENDING))
    rows = s.scalars(query.order_by(Transfer.id.desc())).unique().all()
    incoming = [t for t in rows if _over(user, t.to_unit)]
    outgoing = [t for t in rows if _over(user, t.from_unit) and t not in incoming]
    return incoming, outgoing


def _branch(unit: Unit) -> Unit:
    return unit.parent if unit.kind == "group" and unit.parent is not None else unit


def set_host(s: Session, actor: Actor, member: Member, host_unit: str) -> bool:
    """The open branch with code ``host_unit`` hosts the floating ``member``; True if changed."""
    code = str(host_unit or "").strip()
    host = _open_unit(s, code) if code else None
    if not member.floating:
        raise TransferError(
            {"host_unit": _("only a floating member is hosted; mark them floating first")}
        )
    if not code:
        raise TransferError({"host_unit": _("required")})
    if host is None:
        raise TransferError({"host_unit": _("no unit with code %(code)s", code=code)})
    if host.kind != "branch":
        raise TransferError({"host_unit": _("a member is hosted by a branch")})
    if host.closed_at is not None:
        raise TransferError({"host_unit": _("this unit is closed")})
    if _branch(member.unit).id == host.id:
        raise TransferError({"host_unit": _("this is the member's own branch")})
    if member.host_unit_id == host.id:
        return False
    before = {"host": member.host_unit.code} if member.host_unit is not None else {}
    member.host_unit = host
    member.updated_at = utcnow()
    s.flush()
    record(s, actor, "member.host", "member", member.id, before=before,
           after={"host": host.code, "host_name": host.name})  # fmt: skip
    return True


def _unhost(s: Session, actor: Actor, member: Member) -> None:
    host = member.host_unit
    member.host_unit = None
    member.updated_at = utcnow()
    s.flush()
    before = {"host": host.code, "host_name": host.name} if host is not None else {}
    record(s, actor, "member.unhost", "member", member.id, before=before)


def end_host(s: Session, actor: Actor, member: Member) -> bool:
    """``member`` is no longer hosted; True if they were."""
    if member.host_unit_id is None:
        return False
    _unhost(s, actor, member)
    return True


def hosted_by(s: Session, unit: Unit) -> list[Member]:
    """The active members the branches of ``unit``'s subtree host, by number."""
    return list(
        s.scalars(
            select(Member)
            .join(Unit, Unit.id == Member.host_unit_id)
            .where(Unit.path.startswith(unit.path, autoescape=True), Member.active.is_(True))
            .order_by(Member.number)
        )
    )


def hosts_member(user: User, member: Member) -> bool:
    """Whether ``user`` is over the branch hosting ``member`` (read-only access)."""
    return member.host_unit is not None and member.host_unit.path.startswith(user.unit.path)


def import_hosting(
    units_by_code: dict[str, Unit], code: str, floating: bool, home: Unit, member: Member | None
) -> tuple[str | None, Unit | None, bool]:
    """A member list's host branch cell (活动所在支部) for one row: (problem, host, changes).

    An empty cell ends hosting; a code sets it, under the rules of ``set_host``."""
    current = member.host_unit_id if member is not None else None
    if not code:
        return None, None, current is not None
    host = units_by_code.get(code)
    if host is None:
        return _("no unit with code %(code)s", code=code), None, False
    if not floating:
        return _("only a floating member is hosted; mark them floating first"), None, False
    if host.kind != "branch":
        return _("a member is hosted by a branch"), None, False
    if host.closed_at is not None:
        return _("this unit is closed"), None, False
    if _branch(home).id == host.id:
        return _("this is the member's own branch"), None, False
    return None, host, current != host.id
