"""CLI commands for attendance after a meeting: the list, corrections, reopening check-in."""

from __future__ import annotations

import click

from qrservice.commands import local_text, meeting_or_fail

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


@click.group()
def attendance() -> None:
    """Attendance of a meeting after check-in: list it, correct it, reopen check-in."""


@attendance.command("list")
@click.argument("meeting_id", type=int)
def attendance_list(meeting_id: int) -> None:
    """Everyone MEETING_ID expects and every visitor: status, how recorded, corrections."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.attendance import attendance_lines

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        meeting = meeting_or_fail(s, meeting_id)
        lines = attendance_lines(s, meeting)
        click.echo(f"{meeting.title} ({local_text(meeting.starts_at)}, {meeting.status}): "
                   f"{len(lines)} members")  # fmt: skip
        for line in lines:
            status = line.status or "not recorded"
            how = f"{line.via}, {local_text(line.checked_in_at)}" if line.checked_in_at else ""
            guest = "" if line.expected else " [not expected]"
            click.echo(f"{line.member.number}\t{line.member.name}{guest}\t{status}\t{how}")
            for c in line.corrections:
                click.echo(f"\t  corrected {c.from_status} -> {c.to_status} by {c.corrected_by} "
                           f"at {local_text(c.corrected_at)}: {c.reason}")  # fmt: skip


@attendance.command("correct")
@click.argument("meeting_id", type=int)
@click.option("--member", "number", required=True, help="Member number.")
@click.option(
    "--status",
    type=click.Choice(["present", "late", "excused", "absent"]),
    required=True,
    help="The attendance it should be (excused: on approved leave).",
)
@click.option("--reason", required=True, help="Why (1 to 200 characters), kept with it.")
def attendance_correct(meeting_id: int, number: str, status: str, reason: str) -> None:
    """Correct a member's attendance at a closed meeting; their points follow."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _member, _require_current_schema
    from qrservice.life.attendance import AttendanceError, correct_attendance
    from qrservice.life.points import attendance_points

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            meeting = meeting_or_fail(s, meeting_id)
            member = _member(s, number)
            correction = correct_attendance(s, Actor.system(), meeting, member, status, reason)
            before, after = correction.from_status, correction.to_status
            points = attendance_points(s, meeting, member.id)
    except AttendanceError as exc:
        raise click.ClickException(
            "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
        ) from None
    click.echo(f"{number}: {before} -> {after}; {points} attendance points for this meeting.")


@attendance.command("reopen")
@click.argument("meeting_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask before reopening.")
def attendance_reopen(meeting_id: int, yes: bool) -> None:
    """Reopen check-in of a closed meeting; closing it again settles points, never twice."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.attendance import AttendanceError, reopen_checkin

    app = _app()
    _require_current_schema(app)
    if not yes:  # asked before the transaction, so that no lock is held while waiting
        with db.transaction(app) as s:
            title = meeting_or_fail(s, meeting_id).title
        click.confirm(f"Reopen check-in of “{title}”? Scanners check members in again.", abort=True)
    try:
        with app.app_context(), db.transaction(app) as s:
            meeting = meeting_or_fail(s, meeting_id)
            reopen_checkin(s, Actor.system(), meeting)
            title = meeting.title
    except AttendanceError as exc:
        raise click.ClickException(
            "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
        ) from None
    click.echo(f"Check-in of “{title}” is open again; close it to settle points.")


COMMANDS.append(attendance)
