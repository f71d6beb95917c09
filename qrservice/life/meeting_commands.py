"""CLI commands for meetings: list, create, plan, edit, cancel, delete (``qrservice meetings``).

Times are read and shown in the organisation's zone (Beijing time), as on the pages. A
refused change names the option to correct and writes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import click

from qrservice.commands import meeting_or_fail

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: A field of a meeting or a plan → the option that sets it.
OPTIONS = {
    "unit": "--unit",
    "kind": "--kind",
    "title": "--title",
    "starts_at": "--starts",
    "ends_at": "--ends",
    "place": "--place",
    "points": "--points",
    "late_after_min": "--late-after",
    "opens_before_min": "--opens-before",
    "closes_after_min": "--closes-after",
    "remote_allowed": "--remote",
    "reason": "--reason",
    "first": "--first",
    "minutes": "--minutes",
    "repeat": "--repeat",
    "occurrences": "--times",
    "month": "--month",
}


def _refused(errors: dict[str, str]) -> click.ClickException:
    return click.ClickException(
        "; ".join(f"{OPTIONS.get(field, field)}: {message}" for field, message in errors.items())
    )


def _local(value: str, field: str) -> datetime:
    """A local date and time given on the command line, as stored (naive UTC)."""
    from qrservice.life.meetings import meeting_time_problem
    from qrservice.timeutil import from_local

    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _refused({field: "enter a date and time as YYYY-MM-DD HH:MM"}) from None
    if problem := meeting_time_problem(at):
        raise _refused({field: problem})
    return from_local(at)


def _unit(s: Any, code: str) -> Any:
    from sqlalchemy import select

    from qrservice.models import Unit

    unit = s.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise _refused({"unit": f"no unit with code {code!r}"})
    return unit


def _line(meeting: Any) -> str:
    from qrservice.timeutil import local_time

    start = local_time(meeting.starts_at).strftime("%Y-%m-%d %H:%M")
    end = local_time(meeting.ends_at).strftime("%H:%M")
    return (
        f"{meeting.id:>6}  {start}-{end}  {meeting.unit.code:<10} {meeting.kind:<16} "
        f"{meeting.status:<9}  {meeting.title}"
    )


def _kinds() -> click.Choice:
    from qrservice.models import MEETING_KINDS

    return click.Choice(MEETING_KINDS)


@click.group("meetings")
def meetings() -> None:
    """List, create, plan, change, cancel and delete meetings (times in Beijing time)."""


COMMANDS.append(meetings)


@meetings.command("list")
@click.option("--unit", "unit_code", default=None, help="Only this unit's subtree.")
@click.option("--month", default=None, help="YYYY-MM; default: this month.")
@click.option(
    "--state", type=click.Choice(["scheduled", "open", "closed", "cancelled"]), default=None
)
@click.option("--kind", type=_kinds(), default=None)
def meetings_list(
    unit_code: str | None, month: str | None, state: str | None, kind: str | None
) -> None:
    """The meetings of a month, in the order they start."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema, _scope
    from qrservice.life.meetings import MeetingFilter, meetings_between, month_bounds, parse_month
    from qrservice.timeutil import local_time, utcnow

    first = parse_month(month) if month else local_time(utcnow()).date().replace(day=1)
    if first is None:
        raise _refused({"month": "enter a month as YYYY-MM"})
    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        scope = _unit(s, unit_code) if unit_code else _scope(s, None)
        starts_from, starts_before = month_bounds(first)
        found = meetings_between(
            s, scope, MeetingFilter(kind=kind, state=state, starts_from=starts_from,
                                    starts_before=starts_before),
        )  # fmt: skip
        for meeting in found:
            click.echo(_line(meeting))
        click.echo(f"{len(found)} meetings in {first:%Y-%m}.")


def _created_fields(
    unit: Any, kind: str, title: str, starts: str, ends: str | None, minutes: int | None,
    place: str | None, remote: bool, points: int, late_after: int,
) -> Any:  # fmt: skip
    from qrservice.life.meetings import MeetingFields

    starts_at = _local(starts, "starts_at")
    if ends is not None:
        ends_at = _local(ends, "ends_at")
    elif minutes is not None:
        ends_at = starts_at + timedelta(minutes=minutes)
    else:
        raise click.UsageError("give --ends or --minutes")
    return MeetingFields(
        unit=unit, kind=kind, title=title, starts_at=starts_at, ends_at=ends_at, place=place,
        remote_allowed=remote, points=points, late_after_min=late_after,
    )  # fmt: skip


@meetings.command("create")
@click.option("--unit", "unit_code", required=True, help="A branch or group code.")
@click.option("--kind", type=_kinds(), required=True)
@click.option("--title", required=True)
@click.option("--starts", required=True, help='"YYYY-MM-DD HH:MM", Beijing time.')
@click.option("--ends", default=None, help='"YYYY-MM-DD HH:MM"; or give --minutes.')
@click.option("--minutes", type=int, default=None, help="Duration, instead of --ends.")
@click.option("--place", default=None)
@click.option("--remote/--no-remote", default=False, help="Remote attendance allowed.")
@click.option("--points", type=int, default=None,
              help="Default: the points rule of the kind, else 1.")  # fmt: skip
@click.option("--late-after", type=int, default=10, show_default=True, help="Minutes.")
def meetings_create(
    unit_code: str, kind: str, title: str, starts: str, ends: str | None, minutes: int | None,
    place: str | None, remote: bool, points: int | None, late_after: int,
) -> None:  # fmt: skip
    """Create one meeting."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.meetings import MeetingError, create_meeting

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            if points is None:
                from qrservice.life.points_ledger import default_meeting_points

                points = default_meeting_points(s, kind)
            fields = _created_fields(
                _unit(s, unit_code), kind, title, starts, ends, minutes, place, remote,
                points, late_after,
            )  # fmt: skip
            meeting = create_meeting(s, Actor.system(), fields)
            line = _line(meeting)
    except MeetingError as exc:
        raise _refused(exc.errors) from None
    click.echo(f"Created: {line}")


@meetings.command("plan")
@click.option("--unit", "unit_code", required=True, help="A branch or group, or a committee "
              "(one meeting for each of its open branches).")  # fmt: skip
@click.option("--kind", type=_kinds(), required=True)
@click.option("--title", required=True, help="May hold {month} and {quarter}.")
@click.option("--first", required=True, help='The first start, "YYYY-MM-DD HH:MM" Beijing time.')
@click.option("--minutes", type=int, default=90, show_default=True, help="Duration of each.")
@click.option("--repeat", type=click.Choice(["once", "monthly", "quarterly"]), default="once",
              show_default=True)  # fmt: skip
@click.option("--times", type=int, default=1, show_default=True, help="How many (1-24).")
@click.option("--place", default=None)
@click.option("--remote/--no-remote", default=False, help="Remote attendance allowed.")
@click.option("--points", type=int, default=1, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the meetings; create nothing.")
def meetings_plan(
    unit_code: str, kind: str, title: str, first: str, minutes: int, repeat: str, times: int,
    place: str | None, remote: bool, points: int, dry_run: bool,
) -> None:  # fmt: skip
    """Plan meetings: every one is created, or none."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.meeting_plans import PlanFields, create_plan, plan_meetings
    from qrservice.life.meetings import MeetingError, meeting_time_problem
    from qrservice.timeutil import local_time

    try:
        first_at = datetime.fromisoformat(first.strip())
    except ValueError:
        raise _refused({"first": "enter a date and time as YYYY-MM-DD HH:MM"}) from None
    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            if problem := meeting_time_problem(first_at):
                raise MeetingError({"first": problem})
            fields = PlanFields(
                unit=_unit(s, unit_code), kind=kind, title=title, first=first_at,
                minutes=minutes, place=place, remote_allowed=remote, points=points,
                repeat=repeat, occurrences=times,
            )  # fmt: skip
            planned = plan_meetings(s, fields)
            for p in planned:
                end = local_time(p.fields.ends_at).strftime("%H:%M")
                click.echo(
                    f"{p.local_start:%Y-%m-%d %H:%M}-{end}  {p.fields.unit.code:<10} "
                    f"{p.fields.title}"
                )
            if dry_run:
                click.echo(f"{len(planned)} meetings would be created (dry run: nothing written).")
                return
            plan, made = create_plan(s, Actor.system(), fields)
            plan_id = plan.id
    except MeetingError as exc:
        raise _refused(exc.errors) from None
    click.echo(f"{len(made)} meetings created (plan {plan_id}).")


@meetings.command("edit")
@click.argument("meeting_id", type=int)
@click.option("--title", default=None)
@click.option("--starts", default=None, help='"YYYY-MM-DD HH:MM", Beijing time.')
@click.option("--ends", default=None, help='"YYYY-MM-DD HH:MM", Beijing time.')
@click.option("--place", default=None, help='"" clears it.')
@click.option("--unit", "unit_code", default=None, help="Move it to this branch or group.")
@click.option("--kind", type=_kinds(), default=None)
@click.option("--remote/--no-remote", default=None, help="Remote attendance allowed.")
@click.option("--points", type=int, default=None)
@click.option("--late-after", type=int, default=None, help="Minutes.")
@click.option("--opens-before", type=int, default=None, help="Minutes.")
@click.option("--closes-after", type=int, default=None, help="Minutes.")
def meetings_edit(
    meeting_id: int, title: str | None, starts: str | None, ends: str | None,
    place: str | None, unit_code: str | None, kind: str | None, remote: bool | None,
    points: int | None, late_after: int | None, opens_before: int | None,
    closes_after: int | None,
) -> None:  # fmt: skip
    """Change a meeting: anything before check-in opens, then only --title and --place."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.meetings import MeetingError, fields_of, update_meeting

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            meeting = meeting_or_fail(s, meeting_id)
            given: dict[str, Any] = {
                "title": title, "place": place, "kind": kind, "remote_allowed": remote,
                "points": points, "late_after_min": late_after,
                "opens_before_min": opens_before, "closes_after_min": closes_after,
            }  # fmt: skip
            if starts is not None:
                given["starts_at"] = _local(starts, "starts_at")
            if ends is not None:
                given["ends_at"] = _local(ends, "ends_at")
            if unit_code is not None:
                given["unit"] = _unit(s, unit_code)
            changes = {k: v for k, v in given.items() if v is not None}
            changed = update_meeting(
                s, Actor.system(), meeting, replace(fields_of(meeting), **changes)
            )
            line = _line(meeting)
    except MeetingError as exc:
        raise _refused(exc.errors) from None
    if not changed:
        click.echo(f"Nothing changed: {line}")
    else:
        click.echo(f"Changed {', '.join(sorted(changed))}: {line}")


@meetings.command("cancel")
@click.argument("meeting_id", type=int)
@click.option("--reason", required=True, help="Why (1-200 characters), kept with the meeting.")
def meetings_cancel(meeting_id: int, reason: str) -> None:
    """Cancel a scheduled or open meeting: it then expects no one and counts for nothing."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.meetings import MeetingError, cancel_meeting

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            meeting = meeting_or_fail(s, meeting_id)
            cancel_meeting(s, Actor.system(), meeting, reason)
            line = _line(meeting)
    except MeetingError as exc:
        raise _refused(exc.errors) from None
    click.echo(f"Cancelled: {line}")


@meetings.command("delete")
@click.argument("meeting_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def meetings_delete(meeting_id: int, yes: bool) -> None:
    """Delete a meeting that never opened (any other is cancelled instead)."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.meetings import MeetingError, delete_meeting, deletion_problem

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            meeting = meeting_or_fail(s, meeting_id)
            if problem := deletion_problem(s, meeting):
                raise MeetingError({"meeting": problem})
            line = _line(meeting)
            if not yes:
                click.confirm(f"Delete {line.strip()}?", abort=True)
            delete_meeting(s, Actor.system(), meeting)
    except MeetingError as exc:
        raise _refused(exc.errors) from None
    click.echo(f"Deleted: {line}")
