"""三会一课 compliance: the rules (data the top committee's organisers change) and, for any
number of branches and a period, each required meeting slot held, missed or still due.

A rule asks for at least ``minimum`` meetings of a kind in every month, quarter or year, in
each branch or in each of its groups. A slot is one such calendar month, quarter or year that
overlaps the period read and has begun by ``today``: a quarterly rule read for August is the
whole third quarter. A meeting counts when it was held (check-in opened: open or closed; a
cancelled one, or one still scheduled, does not) and its local start falls in the slot.

``compliance_of`` costs the same few statements for one branch or a thousand: the rules, the
groups, and the meetings of the slots' whole span, bucketed in Python by local month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.boards.figures import Compliance, ComplianceSlot
from qrservice.boards.periods import Period, period_of
from qrservice.models import (
    COMPLIANCE_FREQUENCIES,
    COMPLIANCE_UNITS,
    MEETING_KINDS,
    ComplianceRule,
    Meeting,
    Unit,
)
from qrservice.timeutil import add_months, from_local, half_width, utcnow

#: Meetings that were held: check-in was opened.
HELD_STATUSES = ("open", "closed")
MINIMUM_RANGE = (1, 31)


class ComplianceError(ValueError):
    """A refused rule: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class RuleChangeRefused(PermissionError):
    """Only the top committee's organisers change the organisation-wide rules."""


def may_change_rules(actor: Actor) -> bool:
    """The command line, or an organiser of the top committee."""
    user = actor.user
    if user is None:
        return True
    return user.role == "organiser" and user.unit.parent_id is None


def frequency_names() -> dict[str, str]:
    return {"month": _("every month"), "quarter": _("every quarter"), "year": _("every year")}


def per_unit_names() -> dict[str, str]:
    return {"branch": _("in each branch"), "group": _("in each group")}


def kind_name(kind: str) -> str:
    from qrservice.life.views.meetings import meeting_kind_names  # on use: no import cycle

    return meeting_kind_names().get(kind, kind)


def rules(s: Session) -> list[ComplianceRule]:
    """Every rule, in the order of MEETING_KINDS."""
    order = {kind: index for index, kind in enumerate(MEETING_KINDS)}
    held = s.scalars(select(ComplianceRule)).all()
    return sorted(held, key=lambda rule: order.get(rule.meeting_kind, len(order)))


def _rule_values(rule: ComplianceRule) -> dict[str, Any]:
    return {
        "kind": rule.meeting_kind,
        "frequency": rule.frequency,
        "per_unit": rule.per_unit,
        "minimum": rule.minimum,
    }


def _minimum(value: Any, errors: dict[str, str]) -> int | None:
    text = half_width(value)
    low, high = MINIMUM_RANGE
    message = _("a whole number from %(low)d to %(high)d", low=low, high=high)
    if not text.isdigit():
        errors["minimum"] = message
        return None
    number = int(text)
    if not low <= number <= high:
        errors["minimum"] = message
        return None
    return number


def set_rule(
    s: Session, actor: Actor, kind: Any, frequency: Any, per_unit: Any, minimum: Any
) -> ComplianceRule:
    """Create or change the rule for meetings of ``kind``. Raises ComplianceError (fields
    kind, frequency, per_unit, minimum) or RuleChangeRefused."""
    if not may_change_rules(actor):
        raise RuleChangeRefused(_("only the top committee's organisers change these rules"))
    kind, frequency, per_unit = (half_width(v) for v in (kind, frequency, per_unit))
    errors: dict[str, str] = {}
    if kind not in MEETING_KINDS:
        errors["kind"] = _("unknown meeting kind")
    if frequency not in COMPLIANCE_FREQUENCIES:
        errors["frequency"] = _("choose month, quarter or year")
    if per_unit not in COMPLIANCE_UNITS:
        errors["per_unit"] = _("choose branch or group")
    number = _minimum(minimum, errors)
    if errors:
        raise ComplianceError(errors)
    assert number is not None
    rule = s.scalar(select(ComplianceRule).where(ComplianceRule.meeting_kind == kind))
    before = None if rule is None else _rule_values(rule)
    if rule is None:
        rule = ComplianceRule(
            meeting_kind=kind, frequency=frequency, per_unit=per_unit, minimum=number,
            updated_by=actor.label, updated_at=utcnow(),
        )  # fmt: skip
        s.add(rule)
    else:
        if (rule.frequency, rule.per_unit, rule.minimum) == (frequency, per_unit, number):
            return rule
        rule.frequency, rule.per_unit, rule.minimum = frequency, per_unit, number
        rule.updated_by, rule.updated_at = actor.label, utcnow()
    s.flush()
    record(s, actor, "compliance_rule.set", "compliance_rule", rule.id, before=before,
           after=_rule_values(rule))  # fmt: skip
    return rule


def remove_rule(s: Session, actor: Actor, kind: Any) -> None:
    """Stop requiring meetings of ``kind``. Raises ComplianceError (kind) if there is no such
    rule, or RuleChangeRefused."""
    if not may_change_rules(actor):
        raise RuleChangeRefused(_("only the top committee's organisers change these rules"))
    kind = half_width(kind)
    rule = s.scalar(select(ComplianceRule).where(ComplianceRule.meeting_kind == kind))
    if rule is None:
        raise ComplianceError({"kind": _("no rule for this meeting kind")})
    before = _rule_values(rule)
    rule_id = rule.id
    s.delete(rule)
    s.flush()
    record(s, actor, "compliance_rule.remove", "compliance_rule", rule_id, before=before)


def slots_of(frequency: str, period: Period, today: date) -> list[Period]:
    """The calendar months, quarters or years that overlap ``period`` and have begun by
    ``today``."""
    out: list[Period] = []
    slot = period_of(frequency, period.start)
    while slot.start < period.end and slot.start <= today:
        out.append(slot)
        slot = slot.following()
    return out


def _utc(day: date) -> datetime:
    return from_local(datetime.combine(day, datetime.min.time()))


def compliance_of(
    s: Session, branches: Sequence[Unit], period: Period, today: date
) -> dict[int, Compliance]:
    """Each branch's 三会一课 slots for ``period`` (branch id → Compliance), in the order of
    the rules, then groups by code, then time."""
    out = {branch.id: Compliance() for branch in branches}
    held_rules = rules(s)
    plan = [(rule, slots_of(rule.frequency, period, today)) for rule in held_rules]
    plan = [(rule, slots) for rule, slots in plan if slots]
    if not branches or not plan:
        return out
    branch_ids = [branch.id for branch in branches]
    first = min(slots[0].start for _rule, slots in plan)
    last = max(slots[-1].end for _rule, slots in plan)

    groups: dict[int, list[Any]] = defaultdict(list)
    if any(rule.per_unit == "group" for rule, _slots in plan):
        for group in s.execute(
            select(Unit.id, Unit.parent_id, Unit.name, Unit.closed_at)
            .where(Unit.kind == "group", Unit.parent_id.in_(branch_ids))
            # Not by when the group's row was made: a tree is often recorded after the fact.
            .where(or_(Unit.closed_at.is_(None), Unit.closed_at >= _utc(first)))
            .order_by(Unit.code)
        ):
            assert group.parent_id is not None
            groups[group.parent_id].append(group)

    kinds = {rule.meeting_kind for rule, _slots in plan}
    unit = Unit.__table__.alias("held_unit")
    # Counted in the database by local month (a CASE over the months' UTC bounds): the rows
    # are then one per unit, kind and month, not one per meeting.
    months = []
    month = first
    while month < last:
        months.append(month)
        month = add_months(month, 1)
    bucket = (
        case(
            *((Meeting.starts_at < _utc(m), k) for k, m in enumerate(months[1:])),
            else_=len(months) - 1,
        )
        if len(months) > 1
        else literal(0)
    )
    meetings = (
        select(Meeting.unit_id, Meeting.kind, bucket.label("month"))
        .join(unit, unit.c.id == Meeting.unit_id)
        .where(or_(unit.c.id.in_(branch_ids), unit.c.parent_id.in_(branch_ids)))
        .where(Meeting.kind.in_(sorted(kinds)), Meeting.status.in_(HELD_STATUSES))
        .where(Meeting.starts_at >= _utc(first), Meeting.starts_at < _utc(last))
        .subquery()
    )
    rows = s.execute(
        select(meetings.c.unit_id, meetings.c.kind, meetings.c.month, func.count()).group_by(
            meetings.c.unit_id, meetings.c.kind, meetings.c.month
        )
    ).all()
    frequency_of = {rule.meeting_kind: rule.frequency for rule, _slots in plan}
    held: Counter[tuple[int, str, date]] = Counter()
    slot_start = {
        (frequency, k): period_of(frequency, month).start
        for frequency in set(frequency_of.values())
        for k, month in enumerate(months)
    }
    for unit_id, kind, k, count in rows:
        held[(unit_id, kind, slot_start[(frequency_of[kind], k)])] += count

    slot_begins = {slot.start: _utc(slot.start) for _rule, slots in plan for slot in slots}
    # Plain values: this loop runs for every slot of every branch (tens of thousands).
    steps = [(r.meeting_kind, r.per_unit == "group", r.minimum, slots) for r, slots in plan]
    for branch in branches:
        found: list[ComplianceSlot] = []
        own = [branch]
        for kind, per_group, minimum, slots in steps:
            for slot in slots:
                units = own
                if per_group:
                    begins = slot_begins[slot.start]
                    units = [
                        g
                        for g in groups.get(branch.id, ())
                        if g.closed_at is None or g.closed_at >= begins
                    ]
                ended = slot.end <= today
                for each in units:
                    count = held[(each.id, kind, slot.start)]
                    state = "met" if count >= minimum else "missed" if ended else "due"
                    found.append(
                        ComplianceSlot(
                            kind=kind, unit_id=each.id, unit_name=each.name, slot=slot,
                            required=minimum, held=count, state=state,
                        )
                    )  # fmt: skip
        out[branch.id] = Compliance(tuple(found))
    return out


def slot_label(slot: ComplianceSlot, period: Period | None = None) -> str:
    """The slot for people: "党小组会 · 第一党小组 · 2026-08". Read for ``period``, a slot that
    extends beyond it says so ("2026 Q3, the whole quarter")."""
    when = slot.slot.label()
    if period is not None and (slot.slot.start < period.start or slot.slot.end > period.end):
        whole = {
            "month": _("%(slot)s, the whole month", slot=when),
            "quarter": _("%(slot)s, the whole quarter", slot=when),
            "year": _("%(slot)s, the whole year", slot=when),
        }
        when = whole.get(slot.slot.kind, when)
    return " · ".join((kind_name(slot.kind), slot.unit_name, when))
