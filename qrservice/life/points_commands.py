"""CLI commands for points, under ``qrservice points``: add an officer's line, correct one,
show or set the rules per meeting kind, print a unit's monthly assessment. Changes are audited
as done by the command line ("cli"); a refused change names the field and its option, exits
non-zero and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: A points error's field → the option that gave the value.
_OPTIONS = {
    "kind": "--source", "points": "--points", "reason": "--reason", "on": "--on",
    "entry": "ENTRY_ID",
}  # fmt: skip


@click.group("points")
def points() -> None:
    """Points: officers' lines and corrections, rules per meeting kind, monthly assessment."""


COMMANDS.append(points)


@contextmanager
def _points(options: dict[str, str] | None = None) -> Iterator[Session]:
    """The app's context and one transaction; a PointsError names each field and option."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.points_ledger import PointsError

    names = {**_OPTIONS, **(options or {})}
    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            yield s
    except PointsError as exc:
        for field, message in exc.errors.items():
            click.echo(f"{field} ({names.get(field, field)}): {message}", err=True)
        raise click.ClickException("Nothing was changed.") from None


def _actor() -> Any:
    from qrservice.audit import Actor

    return Actor.system()


@points.command("add")
@click.argument("number")
@click.option("--points", "value", required=True, help="Points, 1 to 100 (a deduction takes them).")
@click.option(
    "--source", "kind", required=True,
    type=click.Choice(["volunteer", "study", "award", "deduction"]),
    help="Where the points come from.",
)  # fmt: skip
@click.option("--reason", default="", help="Why (required).")
@click.option("--on", "day", default=None, help="The day it happened, YYYY-MM-DD (default today).")
def add(number: str, value: str, kind: str, reason: str, day: str | None) -> None:
    """Record an officer's points line for the member with NUMBER."""
    from qrservice.life.points_ledger import add_entry
    from qrservice.models import Member
    from qrservice.timeutil import local_today

    with _points() as s:
        member = s.scalar(select(Member).where(Member.number == number.strip()))
        if member is None:
            raise click.ClickException(f"number (NUMBER): no member with number {number!r}")
        entry = add_entry(s, _actor(), member, kind=kind, points=value, reason=reason,
                          on=day or local_today())  # fmt: skip
        line = f"#{entry.id} {number}: {entry.points:+d} ({kind}) {entry.reason}"
    click.echo(line)


@points.command("correct")
@click.argument("entry_id", type=int)
@click.option("--reason", default="", help="Why the line was wrong (required).")
def correct(entry_id: int, reason: str) -> None:
    """Reverse the mistaken line ENTRY_ID with a correction line."""
    from qrservice.life.points_ledger import correct_entry
    from qrservice.models import PointsEntry

    with _points() as s:
        entry = s.get(PointsEntry, entry_id)
        if entry is None:
            raise click.ClickException(f"entry (ENTRY_ID): no points line #{entry_id}")
        line = correct_entry(s, _actor(), entry, reason)
        text = f"#{line.id}: {line.points:+d} reverses #{entry_id}"
    click.echo(text)


@points.command("rules")
@click.option("--kind", default=None, help="Meeting kind whose default points to set.")
@click.option("--points", "value", default=None, help="Its points, 0 to 100.")
def rules_command(kind: str | None, value: str | None) -> None:
    """Show the default points per meeting kind, or set one with --kind and --points."""
    from qrservice.life.points_ledger import PointsError, rules, set_rule

    if (kind is None) != (value is None):
        raise click.UsageError("give both --kind and --points, or neither")
    with _points({"kind": "--kind"}) as s:
        if kind is not None:
            try:
                set_rule(s, _actor(), kind, value)
            except PointsError as exc:
                if "kind" in exc.errors:
                    exc.errors["kind"] += " (" + ", ".join(rules(s)) + ")"
                raise
        held = rules(s)
    for k, points_ in held.items():
        click.echo(f"{k}\t{'—' if points_ is None else points_}")


@points.command("assessment")
@click.option("--unit", "code", required=True, help="Unit code, e.g. B01.")
@click.option("--month", default=None, help="YYYY-MM (default this month).")
def assessment(code: str, month: str | None) -> None:
    """Print a unit's monthly assessment: branches, groups, members and who needs follow-up."""
    from qrservice.life.assessment import assess
    from qrservice.models import Unit
    from qrservice.timeutil import local_today, month_start, parse_month

    try:
        first: date = parse_month(month) if month else month_start(local_today())
    except ValueError as exc:
        raise click.ClickException(f"month (--month): {exc}") from None
    with _points() as s:
        unit = s.scalar(select(Unit).where(Unit.code == code.strip()))
        if unit is None:
            raise click.ClickException(f"unit (--unit): no unit with code {code!r}")
        result = assess(s, unit, first)
        lines = [f"{unit.code} {unit.name} {first:%Y-%m}: score {_score(result.overall.score)} "
                 f"({result.overall.members} active members)"]  # fmt: skip
        trend = " ".join(f"{m:%Y-%m}={_score(v)}" for m, v in result.overall.trend)
        lines.append(f"trend: {trend}")
        for title, rows in (("branch", result.branches), ("group", result.groups)):
            for row in rows:
                rank = f"#{row.rank} " if result.rankings and row.rank else ""
                lines.append(f"{title}\t{rank}{row.unit.code}\t{_score(row.score)}")
        for m in result.members:
            rank = f"#{m.rank} " if result.rankings and m.rank else ""
            lines.append(f"member\t{rank}{m.number}\t{m.name}\t{m.score}")
        below = [b.unit.code for b in result.follow_up_branches] + [
            m.number for m in result.follow_up_members
        ]
        lines.append(f"follow-up (below {result.threshold}): {', '.join(below) or 'none'}")
    click.echo("\n".join(lines))


def _score(value: Any) -> str:
    return "—" if value is None else str(value)


@points.command("settings")
@click.option("--dues-on-time", "dues_on_time_points", default=None,
              help="Points per month of dues paid on time, 0 to 100.")  # fmt: skip
@click.option("--makeup-points", "makeup_points", default=None, help="Points for make-up, 0–100.")
@click.option("--threshold", "assessment_threshold", default=None,
              help="Follow-up threshold of the monthly assessment, 0 to 1000.")  # fmt: skip
@click.option("--rankings/--no-rankings", "rankings_enabled", default=None,
              help="Show rankings within and between branches.")  # fmt: skip
def settings(**given: Any) -> None:
    """Show the organisation's points settings, or change those given."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.organisation import (
        OrganisationError,
        current_organisation,
        update_organisation,
    )

    options = {
        "dues_on_time_points": "--dues-on-time", "makeup_points": "--makeup-points",
        "assessment_threshold": "--threshold", "rankings_enabled": "--rankings",
    }  # fmt: skip
    chosen = {k: v for k, v in given.items() if v is not None}
    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            if chosen:
                update_organisation(s, _actor(), settings=chosen)
            org = current_organisation(s)
            if org is None:
                raise click.ClickException("no organisation: run init-org first")
            lines = [f"{key}\t{getattr(org, key)}" for key in options]
    except OrganisationError as exc:
        for field, message in exc.errors.items():
            click.echo(f"{field} ({options.get(field, field)}): {message}", err=True)
        raise click.ClickException("Nothing was changed.") from None
    click.echo("\n".join(lines))
