"""The organisation tree: creating, renaming, re-coding, moving, closing and reopening units.

The tree's rules, wherever a unit is written (pages, the command line, the tree import):

- a branch sits under a committee, a group under a branch, a committee under a committee;
  only ``init-org`` (and the demo) makes the root committee;
- codes are unique, compared without case (B01 and b01 cannot both exist);
- an organiser changes units inside their own subtree only, and cannot move or close their
  own unit; nothing moves under itself or one of its own units;
- a unit closes only once no active member and no scheduled or open meeting is left in it;
  a closed unit takes no new member, meeting or unit, and can be reopened.

``path`` holds the ids from the root ("/1/4/9/"); a move rewrites the paths of the whole
subtree in one statement. Tree changes take the organisation row's lock first, so that two
moves at once on PostgreSQL cannot make a cycle (SQLite's writers queue anyway).

Plain functions: they add and flush, never commit, and raise UnitError naming each bad field.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.models import UNIT_KINDS, Meeting, Member, Organisation, Unit
from qrservice.org.members import tree_order
from qrservice.org.organisation import clean_name
from qrservice.timeutil import utcnow

#: A unit's code: letters, digits and '-', starting with a letter or digit (C01, B01-G2).
UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
#: The kind of unit each kind sits under.
PARENT_KIND = {"committee": "committee", "branch": "committee", "group": "branch"}
#: The longest ``path`` the column holds.
MAX_PATH = 255
#: Meetings still to be held or running: a unit with any of them cannot close.
LIVE_MEETINGS = ("scheduled", "open")


class UnitError(ValueError):
    """A refused change to the tree: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def kind_label(kind: str) -> str:
    return {"committee": _("Committee"), "branch": _("Branch"), "group": _("Group")}.get(kind, kind)


def clean_code(value: Any, field: str, errors: dict[str, str]) -> str:
    code = str(value or "").strip()
    if not code:
        errors.setdefault(field, _("required"))
    elif not UNIT_CODE_RE.match(code):
        errors.setdefault(field, _("1–32 letters, digits or '-', starting with a letter or digit"))
    return code


def unit_by_code(s: Session, code: str) -> Unit | None:
    """The unit with this code, written in any case."""
    return s.scalar(select(Unit).where(func.lower(Unit.code) == code.strip().lower()))


def _code_clash(s: Session, code: str, unit: Unit | None) -> str | None:
    other = unit_by_code(s, code)
    if other is None or (unit is not None and other.id == unit.id):
        return None
    if other.code == code:
        return _("code %(code)s is taken", code=code)
    return _("code %(code)s clashes with %(other)s (codes do not differ by case alone)",
             code=code, other=other.code)  # fmt: skip


def in_scope(scope: Unit | None, unit: Unit) -> bool:
    return scope is None or unit.path.startswith(scope.path)


def in_subtree(unit: Unit) -> Any:
    """SQL: a unit of ``unit``'s subtree (``unit`` itself included), by its path."""
    return Unit.path.startswith(unit.path, autoescape=True)


def open_units_in_scope(s: Session, scope: Unit) -> list[Unit]:
    """The scope's subtree without closed units, in tree order: what unit pickers offer."""
    query = select(Unit).where(in_subtree(scope), Unit.closed_at.is_(None))
    return tree_order(list(s.scalars(query)))


def lock_tree(s: Session) -> None:
    """Changes to the tree one at a time (PostgreSQL; SQLite's writers queue already), then
    read afresh: a unit loaded before the lock may have moved meanwhile."""
    s.execute(select(Organisation.id).with_for_update())
    for obj in list(s.identity_map.values()):
        if isinstance(obj, Unit):
            s.expire(obj)


def _fresh(s: Session, unit: Unit | None) -> Unit | None:
    """This session's copy of ``unit`` (an officer's scope is loaded in another session)."""
    return None if unit is None else s.get(Unit, unit.id)


def _parent_problem(kind: str, parent: Unit | None) -> str | None:
    expected = PARENT_KIND.get(kind)
    if parent is None:
        if kind == "committee":
            return None
        return _(
            "a %(kind)s sits under a %(parent)s: choose one",
            kind=kind_label(kind).lower(),
            parent=kind_label(expected or "").lower(),
        )
    if parent.kind != expected:
        return _("a %(kind)s sits under a %(parent)s, and %(unit)s is a %(other)s",
                 kind=kind_label(kind).lower(), parent=kind_label(expected or "").lower(),
                 unit=parent.code, other=kind_label(parent.kind).lower())  # fmt: skip
    if parent.closed_at is not None:
        return _("%(unit)s is closed; reopen it first", unit=parent.code)
    return None


def create_unit(
    s: Session,
    actor: Actor,
    *,
    kind: str,
    name: str,
    code: str,
    parent: Unit | None,
    scope: Unit | None = None,
) -> Unit:
    """A new unit under ``parent``. With ``scope`` (an organiser's unit) the parent must be
    inside it; without one (init-org, the demo) a committee may be the root, if there is none."""
    if scope is not None:
        lock_tree(s)
        scope, parent = _fresh(s, scope), _fresh(s, parent)
    errors: dict[str, str] = {}
    if kind not in UNIT_KINDS:
        errors["kind"] = _("committee, branch or group")
    name = clean_name(name, "name", errors)
    code = clean_code(code, "code", errors)
    if "code" not in errors and (clash := _code_clash(s, code, None)):
        errors["code"] = clash
    if "kind" not in errors:
        if parent is None and (scope is not None or _root(s) is not None):
            problem = _("choose the unit it belongs to")
        elif parent is not None and not in_scope(scope, parent):
            problem = _("choose a unit within yours")
        else:
            problem = _parent_problem(kind, parent)
        if problem:
            errors["parent"] = problem
    if errors:
        raise UnitError(errors)
    unit = Unit(kind=kind, name=name, code=code, parent=parent, path="", created_at=utcnow())
    s.add(unit)
    s.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    s.flush()
    after = {"kind": kind, "code": code, "name": name}
    if parent is not None:
        after["parent"] = parent.code
    record(s, actor, "unit.create", "unit", unit.id, after=after)
    return unit


def _root(s: Session) -> Unit | None:
    return s.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))


def _own_unit_problem(unit: Unit, scope: Unit | None) -> str | None:
    if unit.parent_id is None:
        return _("the top committee stays where it is")
    if scope is not None and unit.id == scope.id:
        return _("this is your own unit: an organiser above you can move or close it")
    return None


def edit_unit(
    s: Session,
    actor: Actor,
    unit: Unit,
    *,
    name: str | None = None,
    code: str | None = None,
    parent: Unit | None | str = "keep",
    scope: Unit | None = None,
    lock: bool = True,
) -> bool:
    """Rename, re-code or move ``unit`` (None / "keep": leave as is); True if anything
    changed. Every field is checked before anything is written. ``lock=False``: the caller
    holds the tree's lock already (an import, unit after unit)."""
    if lock:
        lock_tree(s)
    unit = _fresh(s, unit)  # type: ignore[assignment]
    scope = _fresh(s, scope)
    assert unit is not None
    if not in_scope(scope, unit):
        raise UnitError({"unit": _("choose a unit within yours")})
    errors: dict[str, str] = {}
    new_name = unit.name if name is None else clean_name(name, "name", errors)
    new_code = unit.code if code is None else clean_code(code, "code", errors)
    if "code" not in errors and new_code != unit.code and (clash := _code_clash(s, new_code, unit)):
        errors["code"] = clash
    move_to: Unit | None = None
    if not isinstance(parent, str):
        parent = _fresh(s, parent)
        if parent is None or parent.id != unit.parent_id:
            problem = _own_unit_problem(unit, scope)
            if problem is None and parent is None:
                problem = _("choose the unit it belongs to")
            if problem is None and parent is not None:
                if parent.path.startswith(unit.path):
                    problem = _("a unit cannot move under itself or one of its own units")
                elif not in_scope(scope, parent):
                    problem = _("choose a unit within yours")
                else:
                    problem = _parent_problem(unit.kind, parent)
            if problem is None and parent is not None:
                problem = _path_problem(s, unit, parent)
            if problem:
                errors["parent"] = problem
            move_to = parent
    if errors:
        raise UnitError(errors)
    changed = False
    before = {"name": unit.name, "code": unit.code}
    after = {"name": new_name, "code": new_code}
    fields = [k for k in after if before[k] != after[k]]
    if fields:
        unit.name, unit.code = new_name, new_code
        s.flush()
        record(s, actor, "unit.update", "unit", unit.id, before={k: before[k] for k in fields},
               after={k: after[k] for k in fields})  # fmt: skip
        changed = True
    if move_to is not None:
        _move(s, actor, unit, move_to)
        changed = True
    return changed


def _path_problem(s: Session, unit: Unit, parent: Unit) -> str | None:
    longest = s.scalar(select(func.max(func.length(Unit.path))).where(in_subtree(unit))) or 0
    if longest - len(unit.path) + len(parent.path) + len(f"{unit.id}/") > MAX_PATH:
        return _("the tree would grow too deep there")
    return None


def _move(s: Session, actor: Actor, unit: Unit, parent: Unit) -> None:
    """Put ``unit`` under ``parent``: one statement rewrites the paths of its whole subtree."""
    old_parent = unit.parent
    old, new = unit.path, f"{parent.path}{unit.id}/"
    unit.parent = parent
    s.flush()
    s.execute(
        update(Unit)
        .where(Unit.path.startswith(old, autoescape=True))
        .values(path=literal(new, String) + func.substr(Unit.path, len(old) + 1))
        .execution_options(synchronize_session=False)
    )
    for obj in list(s.identity_map.values()):
        if isinstance(obj, Unit) and "path" in obj.__dict__ and obj.path.startswith(old):
            s.expire(obj, ["path"])
    record(s, actor, "unit.move", "unit", unit.id,
           before={"parent": old_parent.code if old_parent else None},
           after={"parent": parent.code})  # fmt: skip


def move_unit(
    s: Session, actor: Actor, unit: Unit, parent: Unit, scope: Unit | None = None
) -> bool:
    return edit_unit(s, actor, unit, parent=parent, scope=scope)


def blockers(s: Session, unit: Unit) -> tuple[int, int]:
    """Active members and scheduled or open meetings in ``unit``'s subtree."""
    units = select(Unit.id).where(in_subtree(unit))
    members = s.scalar(
        select(func.count(Member.id)).where(Member.unit_id.in_(units), Member.active.is_(True))
    )
    meetings = s.scalar(
        select(func.count(Meeting.id)).where(
            Meeting.unit_id.in_(units), Meeting.status.in_(LIVE_MEETINGS)
        )
    )
    return members or 0, meetings or 0


def blockers_message(unit: Unit, members: int, meetings: int) -> str:
    parts = []
    if members:
        parts.append(ngettext("%(num)d active member", "%(num)d active members", members))
    if meetings:
        parts.append(
            ngettext(
                "%(num)d scheduled or open meeting", "%(num)d scheduled or open meetings", meetings
            )  # fmt: skip
        )
    return _(
        "%(unit)s still has %(what)s. Move its members to another unit and close or cancel "
        "its meetings first, then close it.",
        unit=unit.name,
        what=_(" and ").join(parts),
    )


def close_unit(s: Session, actor: Actor, unit: Unit, scope: Unit | None = None) -> int:
    """Close ``unit`` and the open units under it; how many closed (0: it was closed)."""
    lock_tree(s)
    unit = _fresh(s, unit)  # type: ignore[assignment]
    scope = _fresh(s, scope)
    assert unit is not None
    if not in_scope(scope, unit):
        raise UnitError({"unit": _("choose a unit within yours")})
    if problem := _own_unit_problem(unit, scope):
        raise UnitError({"unit": problem})
    if unit.closed_at is not None:
        return 0
    members, meetings = blockers(s, unit)
    if members or meetings:
        raise UnitError({"unit": blockers_message(unit, members, meetings)})
    now = utcnow()
    closed = s.execute(
        update(Unit)
        .where(in_subtree(unit), Unit.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    s.expire(unit)
    record(s, actor, "unit.close", "unit", unit.id, after={"units": closed})
    return closed


def reopen_unit(s: Session, actor: Actor, unit: Unit, scope: Unit | None = None) -> int:
    """Reopen ``unit`` and the units closed with it; how many reopened (0: it was open)."""
    lock_tree(s)
    unit = _fresh(s, unit)  # type: ignore[assignment]
    scope = _fresh(s, scope)
    assert unit is not None
    if not in_scope(scope, unit):
        raise UnitError({"unit": _("choose a unit within yours")})
    if unit.closed_at is None:
        return 0
    if unit.parent is not None and unit.parent.closed_at is not None:
        raise UnitError({"parent": _("%(unit)s is closed; reopen it first", unit=unit.parent.code)})
    reopened = s.execute(
        update(Unit)
        .where(in_subtree(unit), Unit.closed_at == unit.closed_at)
        .values(closed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    s.expire(unit)
    record(s, actor, "unit.reopen", "unit", unit.id, after={"units": reopened})
    return reopened


def subtree_member_counts(s: Session, units: list[Unit]) -> Counter[int]:
    """Active members in each unit's subtree, from one grouped query."""
    by_id = {u.id: u for u in units}
    rows = s.execute(
        select(Member.unit_id, func.count())
        .where(Member.active.is_(True), Member.unit_id.in_(list(by_id)))
        .group_by(Member.unit_id)
    )
    totals: Counter[int] = Counter()
    for unit_id, n in rows:
        for ancestor in by_id[unit_id].path.strip("/").split("/"):
            totals[int(ancestor)] += n
    return totals
