"""Branch targets (必达 must-reach, 挑战 stretch) per board measure, their check each period,
and the plan–do–check–act note a branch writes on a measure for a period.

Targets are the committee's: organisers over a branch set them (one branch, or every branch
under a committee in one action); the branch's secretary reads them and writes the notes.
For members warned lower is better; for the other measures higher is. Plain functions on a
session: they add and flush, never commit; bad input raises ``TargetError`` with ``errors``
by field, a change the actor may not make raises ``TargetRefused``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.boards.figures import PERCENT_MEASURES, BranchMeasures, TargetCheck
from qrservice.boards.overview import branches_under
from qrservice.boards.periods import Period, PeriodError, parse_period
from qrservice.models import BOARD_MEASURES, BoardTarget, TargetNote, Unit
from qrservice.timeutil import half_width, local_today, utcnow

#: Measures given in percent (at most 100).
#: Measures where fewer is better.
LOWER_IS_BETTER = frozenset({"warnings"})
#: The largest target accepted (the column holds 8 digits, one after the point).
MAX_TARGET = Decimal("999999.9")
#: The longest text of each part of a note.
NOTE_LENGTH = 2000
NOTE_FIELDS = ("plan", "do", "check", "act")


class TargetError(ValueError):
    """Refused input: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class TargetRefused(PermissionError):
    """The actor may read but not make this change (a secretary setting targets), or the
    branch is outside their scope."""


def measure_name(measure: str) -> str:
    return {
        "compliance": _("3+1 meetings held"),
        "attendance": _("attendance rate"),
        "dues": _("dues settled"),
        "points": _("average points"),
        "warnings": _("members warned"),
    }.get(measure, measure)


def measure_unit(measure: str) -> str:
    """The unit a measure's value and targets are written in: %, pts or members."""
    if measure in PERCENT_MEASURES:
        return "%"
    if measure == "points":
        return _("pts")
    if measure == "warnings":
        return _("members")
    return ""


def state_names() -> dict[str, str]:
    return {
        "stretch": _("stretch target reached"),
        "met": _("must-reach target met"),
        "missed": _("target missed"),
        "none": _("no target"),
    }


def _in_scope(actor: Actor, unit: Unit) -> bool:
    user = actor.user
    return user is None or unit.path.startswith(user.unit.path)


def may_set_targets(actor: Actor, unit: Unit) -> bool:
    """The command line, or an organiser whose scope holds the branch."""
    user = actor.user
    return user is None or (user.role == "organiser" and _in_scope(actor, unit))


def _number(value: Any, measure: str, field: str, errors: dict[str, str]) -> Decimal | None:
    text = half_width(value).rstrip("%％").strip()
    if text == "":
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        errors[field] = _("a number, such as 85 or 4.5")
        return None
    if not number.is_finite() or number < 0:
        errors[field] = _("a number of 0 or more")
    elif number != number.quantize(Decimal("0.1")):
        errors[field] = _("at most one decimal")
    elif measure in PERCENT_MEASURES and number > 100:
        errors[field] = _("a percentage: at most 100")
    elif number > MAX_TARGET:
        errors[field] = _("at most %(max)s", max=MAX_TARGET)
    else:
        return number.quantize(Decimal("0.1"))
    return None


def clean_target(
    measure: Any, must_reach: Any, stretch: Any
) -> tuple[str, Decimal | None, Decimal | None]:
    """Checked values (measure, must_reach, stretch); both None means "remove". Raises
    TargetError with fields measure, must_reach, stretch."""
    measure = half_width(measure)
    errors: dict[str, str] = {}
    if measure not in BOARD_MEASURES:
        errors["measure"] = _("unknown measure")
        raise TargetError(errors)
    must = _number(must_reach, measure, "must_reach", errors)
    high = _number(stretch, measure, "stretch", errors)
    if not errors and must is not None and high is not None:
        if measure in LOWER_IS_BETTER and high > must:
            errors["stretch"] = _("fewer is better here: the stretch target is at most the "
                                  "must-reach one")  # fmt: skip
        elif measure not in LOWER_IS_BETTER and high < must:
            errors["stretch"] = _("the stretch target is at least the must-reach one")
    if errors:
        raise TargetError(errors)
    return measure, must, high


def _values(target: BoardTarget | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {
        "measure": target.measure,
        "must_reach": None if target.must_reach is None else str(target.must_reach),
        "stretch": None if target.stretch is None else str(target.stretch),
    }


def _check_branch(actor: Actor, unit: Unit) -> None:
    if unit.kind != "branch":
        raise TargetError({"unit": _("targets are set for branches")})
    if not may_set_targets(actor, unit):
        raise TargetRefused(_("targets are set by the organisers over the branch"))


def _apply(
    s: Session, actor: Actor, unit: Unit, measure: str, must: Decimal | None,
    high: Decimal | None, held: BoardTarget | None,
) -> BoardTarget | None:  # fmt: skip
    before = _values(held)
    if must is None and high is None:
        if held is None:
            return None
        s.delete(held)
        s.flush()
        record(s, actor, "target.remove", "unit", unit.id, before=before)
        return None
    if held is not None and (held.must_reach, held.stretch) == (must, high):
        return held
    if held is None:
        held = BoardTarget(unit_id=unit.id, measure=measure)
        s.add(held)
    held.must_reach, held.stretch = must, high
    held.updated_by, held.updated_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "target.set", "unit", unit.id, before=before, after=_values(held))
    return held


def set_target(
    s: Session, actor: Actor, unit: Unit, measure: Any, must_reach: Any, stretch: Any
) -> BoardTarget | None:
    """Set a branch's targets for ``measure`` (at least one of the two; both blank removes
    them). Returns the target, None once removed."""
    _check_branch(actor, unit)
    measure, must, high = clean_target(measure, must_reach, stretch)
    held = s.scalar(
        select(BoardTarget).where(BoardTarget.unit_id == unit.id, BoardTarget.measure == measure)
    )
    return _apply(s, actor, unit, measure, must, high, held)


def set_target_under(
    s: Session, actor: Actor, committee: Unit, measure: Any, must_reach: Any, stretch: Any
) -> int:
    """The same targets for every open branch under ``committee`` in one action (one audit
    row per branch changed). Returns how many branches changed."""
    if committee.kind != "committee":
        raise TargetError({"unit": _("choose a committee")})
    user = actor.user
    if user is not None and (user.role != "organiser" or not _in_scope(actor, committee)):
        raise TargetRefused(_("targets are set by the organisers over the branch"))
    measure, must, high = clean_target(measure, must_reach, stretch)
    branches = branches_under(s, committee)
    held = {
        target.unit_id: target
        for target in s.scalars(
            select(BoardTarget).where(
                BoardTarget.measure == measure,
                BoardTarget.unit_id.in_([b.id for b in branches]),
            )
        )
    }
    changed = 0
    for branch in branches:
        target = held.get(branch.id)
        before = (target.must_reach, target.stretch) if target is not None else (None, None)
        _apply(s, actor, branch, measure, must, high, target)
        changed += before != (must, high)
    return changed


def targets_of(s: Session, unit_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """unit id → measure → its target (a row with the table's columns), in one statement.
    Rows, not ORM objects: the overview reads thousands."""
    ids = list(unit_ids)
    out: dict[int, dict[str, Any]] = {unit_id: {} for unit_id in ids}
    if not ids:
        return out
    table = BoardTarget.__table__
    for target in s.execute(select(table).where(table.c.unit_id.in_(ids))):
        out.setdefault(target.unit_id, {})[target.measure] = target
    return out


def check(measure: str, value: Decimal | int | None, target: BoardTarget | None) -> str:
    """stretch (the stretch target reached), met (the must-reach one), missed, or none (no
    target, or no value to judge)."""
    if target is None or value is None or (target.must_reach is None and target.stretch is None):
        return "none"
    number = Decimal(value)

    def reached(goal: Decimal | None) -> bool:
        if goal is None:
            return False
        return number <= goal if measure in LOWER_IS_BETTER else number >= goal

    if reached(target.stretch):
        return "stretch"
    if reached(target.must_reach):
        return "met"
    return "missed"


def target_checks(s: Session, rows: dict[int, BranchMeasures], period: Period) -> None:
    """Fill each row's ``targets`` with a TargetCheck per measure that has a target, with
    the period's note: one statement for the targets, one for the notes."""
    if not rows:
        return
    targets = targets_of(s, rows)
    notes: dict[tuple[int, str], TargetNote] = {
        (note.unit_id, note.measure): note
        for note in s.scalars(
            select(TargetNote).where(
                TargetNote.unit_id.in_(list(rows)), TargetNote.period == period.key
            )
        )
    }
    for unit_id, row in rows.items():
        checks: dict[str, TargetCheck] = {}
        for measure in BOARD_MEASURES:
            target = targets.get(unit_id, {}).get(measure)
            if target is None:
                continue
            value = row.value(measure)
            checks[measure] = TargetCheck(
                measure=measure, value=value, must_reach=target.must_reach,
                stretch=target.stretch, state=check(measure, value, target),
                note=notes.get((unit_id, measure)),
            )  # fmt: skip
        row.targets = checks


def may_write_note(actor: Actor, unit: Unit) -> bool:
    """The command line, or an officer whose scope holds the branch (its secretary, the
    organisers over it)."""
    return _in_scope(actor, unit)


def clean_period_key(value: Any, today: date | None = None) -> str:
    """A period key (2026-08, 2026-Q3, 2026) as Period.key writes it; TargetError (period)."""
    if not half_width(value):
        raise TargetError({"period": _("required")})
    try:
        return parse_period(value, today or local_today()).key
    except PeriodError as exc:
        raise TargetError(exc.errors) from None


def note_of(s: Session, unit_id: int, measure: str, period_key: str) -> TargetNote | None:
    return s.scalar(
        select(TargetNote).where(
            TargetNote.unit_id == unit_id,
            TargetNote.measure == measure,
            TargetNote.period == period_key,
        )
    )


def write_note(
    s: Session, actor: Actor, unit: Unit, measure: Any, period_key: Any,
    plan: Any, do: Any, check: Any, act: Any,
) -> TargetNote:  # fmt: skip
    """Write (or rewrite) the branch's plan–do–check–act note on ``measure`` for the period:
    each part optional, at least one, each at most NOTE_LENGTH characters. Raises TargetError
    (fields unit, measure, period, plan, do, check, act, note) or TargetRefused."""
    if unit.kind != "branch":
        raise TargetError({"unit": _("notes are written for branches")})
    if not may_write_note(actor, unit):
        raise TargetRefused(_("the branch is not in your scope"))
    errors: dict[str, str] = {}
    measure = half_width(measure)
    if measure not in BOARD_MEASURES:
        errors["measure"] = _("unknown measure")
    key = None
    try:
        key = clean_period_key(period_key)
    except TargetError as exc:
        errors.update(exc.errors)
    texts: dict[str, str | None] = {}
    for name, value in zip(NOTE_FIELDS, (plan, do, check, act), strict=True):
        text = "" if value is None else str(value).replace("\r\n", "\n").strip()
        if len(text) > NOTE_LENGTH:
            errors[name] = _("at most %(max)d characters", max=NOTE_LENGTH)
        texts[name] = text or None
    if not any(texts.values()) and not any(name in errors for name in NOTE_FIELDS):
        errors["note"] = _("write at least one of plan, do, check and act")
    if errors:
        raise TargetError(errors)
    assert key is not None
    note = note_of(s, unit.id, measure, key)
    before = None
    if note is None:
        note = TargetNote(unit_id=unit.id, measure=measure, period=key)
        s.add(note)
    else:
        held = {name: getattr(note, f"{name}_text") for name in NOTE_FIELDS}
        if held == texts:
            return note
        before = {name: value for name, value in held.items() if value != texts[name]}
    for name in NOTE_FIELDS:
        setattr(note, f"{name}_text", texts[name])
    note.written_by, note.written_at = actor.label, utcnow()
    s.flush()
    after: dict[str, Any] = {"measure": measure, "period": key}
    after.update({name: value for name, value in texts.items() if before is None or name in before})
    record(s, actor, "target.note", "unit", unit.id, before=before, after=after)
    return note
