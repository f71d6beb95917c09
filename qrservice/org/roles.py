"""Offices in a branch: its committee members (支委) and its groups' leaders (党小组组长).

A branch's offices are held by active members of that branch (its own roll or one of its
groups'); a group's leader is a member of that group. A branch has at most one secretary, a
group at most one leader. A branch committee meeting (支委会) expects the branch's office
holders (``office_holders``), not the whole branch.

Plain functions: they add and flush, never commit, and raise RoleError naming each bad field.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from qrservice.audit import Actor, record
from qrservice.models import UNIT_ROLES, Member, Unit, UnitRole
from qrservice.timeutil import local_time, utcnow

#: Offices of a branch committee, in the order pages list them.
BRANCH_ROLES = (
    "secretary",
    "deputy_secretary",
    "organisation",
    "publicity",
    "discipline",
    "committee_member",
)
GROUP_ROLES = ("group_leader",)
#: Offices one person at a time holds in a unit.
SINGLE_ROLES = ("secretary", "group_leader")
assert set(BRANCH_ROLES + GROUP_ROLES) == set(UNIT_ROLES)
EARLIEST_SINCE = date(1921, 7, 1)


class RoleError(ValueError):
    """A refused change to a unit's offices: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def role_label(role: str | None) -> str:
    """An office's name in the viewer's language."""
    return {
        "secretary": _("Secretary"),
        "deputy_secretary": _("Deputy secretary"),
        "organisation": _("Organisation member"),
        "publicity": _("Publicity member"),
        "discipline": _("Discipline member"),
        "committee_member": _("Committee member"),
        "group_leader": _("Group leader"),
    }.get(role or "", role or "?")


def roles_for(unit: Unit) -> tuple[str, ...]:
    """The offices ``unit`` has: a branch's committee, a group's leader, none in a committee."""
    return {"branch": BRANCH_ROLES, "group": GROUP_ROLES}.get(unit.kind, ())


def _order(role: str) -> int:
    return UNIT_ROLES.index(role) if role in UNIT_ROLES else len(UNIT_ROLES)


def unit_roles(s: Session, units: list[Unit]) -> dict[int, list[UnitRole]]:
    """Unit id → its offices, each with its member, by office then member number."""
    if not units:
        return {}
    rows = s.scalars(
        select(UnitRole)
        .options(joinedload(UnitRole.member))
        .where(UnitRole.unit_id.in_([u.id for u in units]))
    ).all()
    found: dict[int, list[UnitRole]] = {u.id: [] for u in units}
    for row in sorted(rows, key=lambda r: (_order(r.role), r.member.number)):
        found[row.unit_id].append(row)
    return found


def eligible_members(s: Session, unit: Unit) -> list[Member]:
    """Who may hold an office of ``unit``: the active members of its branch (of the group, for
    a group's leader), by number."""
    return list(
        s.scalars(
            select(Member)
            .join(Unit, Unit.id == Member.unit_id)
            .where(Unit.path.startswith(unit.path, autoescape=True), Member.active.is_(True))
            .order_by(Member.number)
        )
    )


def _since(value: Any, errors: dict[str, str]) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        since = value
    else:
        try:
            since = date.fromisoformat(str(value).strip())
        except ValueError:
            errors["since"] = _("not a date; write it as YYYY-MM-DD")
            return None
    today = local_time(utcnow()).date()
    if not EARLIEST_SINCE <= since <= today:
        errors["since"] = _("must be between %(first)s and today", first=EARLIEST_SINCE)
        return None
    return since


def _member(s: Session, unit: Unit, number: str) -> Member | None:
    """The active member of ``unit``'s subtree with this number; nobody outside it is found."""
    return s.scalar(
        select(Member)
        .join(Unit, Unit.id == Member.unit_id)
        .where(
            Member.number == number,
            Member.active.is_(True),
            Unit.path.startswith(unit.path, autoescape=True),
        )
    )


def add_role(
    s: Session,
    actor: Actor,
    unit: Unit,
    *,
    member_number: str,
    role: str,
    since: date | str | None = None,
) -> UnitRole:
    """Record that the member with ``member_number`` holds ``role`` in ``unit``."""
    # The unit's row is locked: two secretaries recorded at once on PostgreSQL wait in turn.
    unit = s.scalar(select(Unit).where(Unit.id == unit.id).with_for_update()) or unit
    errors: dict[str, str] = {}
    offices = roles_for(unit)
    if not offices:
        raise RoleError({"unit": _("offices are recorded for branches and groups")})
    if role not in offices:
        errors["role"] = _("choose one of: %(roles)s",
                           roles=", ".join(role_label(r) for r in offices))  # fmt: skip
    number = str(member_number or "").strip()
    member = _member(s, unit, number) if number else None
    if not number:
        errors["member"] = _("required")
    elif member is None:
        where = _("group") if unit.kind == "group" else _("branch")
        errors["member"] = _("no active member of this %(where)s has the number %(number)s",
                             where=where, number=number)  # fmt: skip
    when = _since(since, errors)
    if "role" not in errors and "member" not in errors:
        assert member is not None
        held = s.scalars(
            select(UnitRole)
            .options(joinedload(UnitRole.member))
            .where(UnitRole.unit_id == unit.id, UnitRole.role == role)
        ).all()
        if any(r.member_id == member.id for r in held):
            errors["role"] = _("%(name)s already holds this office", name=member.name)
        elif role in SINGLE_ROLES and held:
            errors["role"] = _(
                "%(name)s holds this office already; remove them from it first",
                name=held[0].member.name,
            )
    if errors:
        raise RoleError(errors)
    assert member is not None
    office = UnitRole(
        unit_id=unit.id, member_id=member.id, role=role, since=when, created_by=actor.label,
        created_at=utcnow(),
    )  # fmt: skip
    s.add(office)
    s.flush()
    after: dict[str, Any] = {"member": member.number, "name": member.name, "role": role}
    if when is not None:
        after["since"] = when
    record(s, actor, "unit.role_add", "unit", unit.id, after=after)
    return office


def remove_role(s: Session, actor: Actor, unit: Unit, *, member_number: str, role: str) -> Member:
    """The member with ``member_number`` no longer holds ``role`` in ``unit``; returns them."""
    office = s.scalar(
        select(UnitRole)
        .join(Member, Member.id == UnitRole.member_id)
        .where(
            UnitRole.unit_id == unit.id,
            UnitRole.role == role,
            Member.number == str(member_number or "").strip(),
        )
    )
    if office is None:
        raise RoleError({"member": _("nobody with this number holds this office here")})
    member = office.member
    s.delete(office)
    s.flush()
    record(s, actor, "unit.role_remove", "unit", unit.id,
           before={"member": member.number, "name": member.name, "role": role})  # fmt: skip
    return member


def office_holders(s: Session, branch: Unit) -> list[Member]:
    """The active members of ``branch`` holding any of its committee's offices, by number:
    whom a branch committee meeting (支委会) expects."""
    return list(
        s.scalars(
            select(Member)
            .join(UnitRole, UnitRole.member_id == Member.id)
            .join(Unit, Unit.id == Member.unit_id)
            .where(
                UnitRole.unit_id == branch.id,
                UnitRole.role.in_(BRANCH_ROLES),
                Member.active.is_(True),
                Unit.path.startswith(branch.path, autoescape=True),
            )
            .distinct()
            .order_by(Member.number)
        )
    )
