"""Planning meetings in one step: a meeting repeated monthly or quarterly, for one branch or
group or for every open branch under a committee.

``plan_meetings`` works out every meeting and checks it as creation would, without writing;
``create_plan`` writes them all (one MeetingPlan row, the meetings pointing to it) or, on any
error, nothing. A title may hold ``{month}`` and ``{quarter}``, filled in per meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.life.meetings import (
    LONGEST_MEETING,
    MeetingError,
    MeetingFields,
    check_fields,
    meeting_time_problem,
    new_meeting,
)
from qrservice.models import MEETING_KINDS, PLAN_REPEATS, Meeting, MeetingPlan, Unit
from qrservice.timeutil import from_local, same_day_months_later, utcnow

#: The most meetings one plan repeats (two years of monthly meetings).
MOST_OCCURRENCES = 24
#: Months between two meetings of a plan.
STEP_MONTHS = {"once": 0, "monthly": 1, "quarterly": 3}


@dataclass(frozen=True)
class PlanFields:
    """What the plan form and ``meetings plan`` ask for."""

    unit: Unit
    kind: str
    #: May hold {month} (2027年01月) and {quarter} (2027年第1季度).
    title: str
    #: The first meeting's start, as local wall-clock time (no zone).
    first: datetime
    #: How long each meeting lasts.
    minutes: int
    place: str | None = None
    remote_allowed: bool = False
    points: int = 1
    repeat: str = "once"
    occurrences: int = 1


@dataclass(frozen=True)
class PlannedMeeting:
    """One meeting a plan will create; ``local_start`` is what the preview shows."""

    fields: MeetingFields
    local_start: datetime


def fill_title(template: str, day: date) -> str:
    """The title of the meeting on ``day``: {month} and {quarter} filled in."""
    quarter = (day.month - 1) // 3 + 1
    return (
        template.replace("{month}", f"{day.year}年{day.month:02d}月")
        .replace("{quarter}", f"{day.year}年第{quarter}季度")
        .strip()
    )


def plan_units(s: Session, unit: Unit) -> list[Unit]:
    """The units a plan for ``unit`` makes meetings for: a committee means each open branch
    under it; a branch or a group, itself."""
    if unit.kind != "committee":
        return [unit]
    return list(
        s.scalars(
            select(Unit)
            .where(
                Unit.kind == "branch",
                Unit.closed_at.is_(None),
                Unit.path.startswith(unit.path, autoescape=True),
            )
            .order_by(Unit.code)
        )
    )


def plan_meetings(s: Session, f: PlanFields) -> list[PlannedMeeting]:
    """Every meeting of the plan, checked; raises MeetingError naming the plan's fields."""
    errors: dict[str, str] = {}
    if f.kind not in MEETING_KINDS:
        errors["kind"] = _("Choose a kind of meeting.")
    if not f.title.strip() or len(f.title) > 200:
        errors["title"] = _("A title of 1 to 200 characters is required.")
    if f.repeat not in PLAN_REPEATS:
        errors["repeat"] = _("Choose once, monthly or quarterly.")
    if not 1 <= f.occurrences <= MOST_OCCURRENCES:
        errors["occurrences"] = _("Between 1 and %(n)d meetings.", n=MOST_OCCURRENCES)
    elif f.repeat == "once" and f.occurrences != 1:
        errors["occurrences"] = _("A meeting held once happens one time.")
    longest = int(LONGEST_MEETING.total_seconds() // 60)
    if not 1 <= f.minutes <= longest:
        errors["minutes"] = _("Between 1 and %(n)d minutes.", n=longest)
    if problem := meeting_time_problem(f.first):
        errors["first"] = problem
    if not 0 <= f.points <= 100:
        errors["points"] = _("Points must be between 0 and 100.")
    if len(f.place or "") > 200:
        errors["place"] = _("At most 200 characters.")
    if f.unit.closed_at is not None:
        errors["unit"] = _("This unit is closed.")
    units = plan_units(s, f.unit)
    if not units and "unit" not in errors:
        errors["unit"] = _("This committee has no open branch.")
    if errors:
        raise MeetingError(errors)

    step = STEP_MONTHS[f.repeat]
    planned = []
    for i in range(f.occurrences):
        day = same_day_months_later(f.first.date(), i * step)
        local_start = datetime.combine(day, f.first.time())
        starts = from_local(local_start)
        title = fill_title(f.title, day)
        for unit in units:
            fields = MeetingFields(
                unit=unit, kind=f.kind, title=title, starts_at=starts,
                ends_at=starts + timedelta(minutes=f.minutes), place=f.place,
                remote_allowed=f.remote_allowed, points=f.points,
            )  # fmt: skip
            try:
                check_fields(fields)
            except MeetingError as exc:
                raise MeetingError(_plan_errors(exc.errors, day)) from None
            planned.append(PlannedMeeting(fields, local_start))
    return planned


def _plan_errors(errors: dict[str, str], day: date) -> dict[str, str]:
    """A generated meeting's errors on the plan's own fields, saying which meeting it was."""
    where = {"starts_at": "occurrences", "ends_at": "minutes"}
    return {
        where.get(name, name): _("%(day)s: %(problem)s", day=day.isoformat(), problem=message)
        for name, message in errors.items()
    }


def create_plan(
    s: Session, actor: Actor, f: PlanFields
) -> tuple[MeetingPlan, list[Meeting]]:  # fmt: skip
    """Create every meeting of the plan, or none; audited once (meeting.plan)."""
    planned = plan_meetings(s, f)
    plan = MeetingPlan(
        unit_id=f.unit.id, unit=f.unit, kind=f.kind, title=f.title.strip(), repeat=f.repeat,
        occurrences=f.occurrences, created_by=actor.label, created_at=utcnow(),
    )  # fmt: skip
    s.add(plan)
    s.flush()
    meetings = [new_meeting(actor, p.fields, plan_id=plan.id) for p in planned]
    s.add_all(meetings)
    s.flush()
    record(
        s, actor, "meeting.plan", "meeting_plan", plan.id,
        after={
            "title": plan.title, "unit": f.unit.code, "repeat": f.repeat,
            "occurrences": f.occurrences, "count": len(meetings),
            "first": meetings[0].starts_at,
        },
    )  # fmt: skip
    return plan, meetings
