"""CLI commands for 三会一课 rules (``qrservice rules``), branch targets and their
plan–do–check–act notes (``qrservice targets``). Changes are audited as done by the command
line ("cli"); a refused change names the field and its option, exits non-zero and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []

#: An error's field → the option that gave the value.
_OPTIONS = {
    "kind": "KIND", "frequency": "--every", "per_unit": "--per", "minimum": "--minimum",
    "unit": "--unit", "measure": "--measure", "must_reach": "--must", "stretch": "--stretch",
    "period": "--period", "plan": "--plan", "do": "--do", "check": "--check", "act": "--act",
    "note": "--plan/--do/--check/--act",
}  # fmt: skip


@contextmanager
def _session() -> Iterator[Session]:
    """The app's context and one transaction; a refused change names each field and option."""
    from qrservice import db
    from qrservice.boards.compliance import ComplianceError
    from qrservice.boards.targets import TargetError
    from qrservice.cli import _app, _require_current_schema

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            yield s
    except (ComplianceError, TargetError) as exc:
        for field, message in exc.errors.items():
            click.echo(f"{field} ({_OPTIONS.get(field, field)}): {message}", err=True)
        raise click.ClickException("Nothing was changed.") from None


def _actor() -> Any:
    from qrservice.audit import Actor

    return Actor.system()


def _unit(s: Session, code: str) -> Any:
    from qrservice.models import Unit

    unit = s.scalar(select(Unit).where(Unit.code == code.strip()))
    if unit is None:
        raise click.ClickException(f"unit (--unit): no unit with code {code!r}")
    return unit


# 三会一课 rules.


@click.group("rules")
def rules_group() -> None:
    """三会一课 rules: how many meetings of each kind every branch or group must hold."""


COMMANDS.append(rules_group)


@rules_group.command("list")
def rules_list() -> None:
    """Print every rule."""
    from qrservice.boards.compliance import rules

    with _session() as s:
        held = rules(s)
        if not held:
            click.echo("No rules.")
        for rule in held:
            click.echo(
                f"{rule.meeting_kind:<18} at least {rule.minimum} every {rule.frequency} "
                f"per {rule.per_unit}"
            )


@rules_group.command("set")
@click.argument("kind")
@click.option("--every", "frequency", required=True, help="month, quarter or year.")
@click.option("--per", "per_unit", default="branch", show_default=True, help="branch or group.")
@click.option("--minimum", required=True, help="Meetings required in each period, 1 to 31.")
def rules_set(kind: str, frequency: str, per_unit: str, minimum: str) -> None:
    """Require meetings of KIND (branch_general, branch_committee, group, lecture, theme_day,
    org_life, volunteer, other)."""
    from qrservice.boards.compliance import set_rule

    with _session() as s:
        rule = set_rule(s, _actor(), kind, frequency, per_unit, minimum)
        click.echo(
            f"{rule.meeting_kind}: at least {rule.minimum} every {rule.frequency} "
            f"per {rule.per_unit}."
        )


@rules_group.command("remove")
@click.argument("kind")
def rules_remove(kind: str) -> None:
    """Stop requiring meetings of KIND."""
    from qrservice.boards.compliance import remove_rule

    with _session() as s:
        remove_rule(s, _actor(), kind)
        click.echo(f"{kind}: no longer required.")


# Targets and notes.


@click.group("targets")
def targets_group() -> None:
    """Branch targets (must-reach, stretch) per measure, and plan–do–check–act notes."""


COMMANDS.append(targets_group)


def _number(value: Any) -> str:
    return "-" if value is None else str(value)


@targets_group.command("list")
@click.option("--unit", "unit_code", required=True, help="A branch, or a committee: its branches.")
@click.option("--period", default=None, help="Also check them for 2026-08, 2026-Q3 or 2026.")
def targets_list(unit_code: str, period: str | None) -> None:
    """Print the targets of a branch (or of every branch under a committee)."""
    from qrservice.boards.measures import branch_measures
    from qrservice.boards.overview import branches_under
    from qrservice.boards.periods import PeriodError, parse_period
    from qrservice.boards.targets import targets_of
    from qrservice.models import BOARD_MEASURES
    from qrservice.timeutil import local_today

    with _session() as s:
        unit = _unit(s, unit_code)
        if unit.kind == "branch":
            branches = [unit]
        elif unit.kind == "committee":
            branches = branches_under(s, unit)
        else:
            raise click.ClickException("unit (--unit): targets are set for branches")
        checks: dict[int, Any] = {}
        if period:
            try:
                chosen = parse_period(period, local_today())
            except PeriodError as exc:
                raise click.ClickException(f"period (--period): {exc.errors['period']}") from None
            if branches:
                rows = branch_measures(s, branches, chosen, local_today(), within=unit)
                checks = {unit_id: row.targets for unit_id, row in rows.items()}
        held = targets_of(s, [b.id for b in branches])
        shown = 0
        for branch in branches:
            for measure in BOARD_MEASURES:
                target = held[branch.id].get(measure)
                if target is None:
                    continue
                line = (
                    f"{branch.code:<10} {measure:<11} must {_number(target.must_reach):>7} "
                    f"stretch {_number(target.stretch):>7}"
                )
                found = checks.get(branch.id, {}).get(measure)
                if found is not None:
                    line += f"  value {_number(found.value):>7}  {found.state}"
                    if found.note is not None:
                        line += "  (note written)"
                click.echo(line)
                shown += 1
        if not shown:
            click.echo("No targets.")


@targets_group.command("set")
@click.option("--unit", "unit_code", default=None, help="The branch's code.")
@click.option(
    "--all-under", "committee_code", default=None,
    help="A committee's code: the same targets for every open branch under it.",
)  # fmt: skip
@click.option("--measure", required=True, help="compliance, attendance, dues, points, warnings.")
@click.option("--must", "must_reach", default="", help="Must-reach target (blank: none).")
@click.option("--stretch", default="", help="Stretch target (blank: none).")
def targets_set(
    unit_code: str | None, committee_code: str | None, measure: str, must_reach: str,
    stretch: str,
) -> None:  # fmt: skip
    """Set (or, with neither --must nor --stretch, remove) a branch's targets for a measure."""
    from qrservice.boards.targets import set_target, set_target_under

    if bool(unit_code) == bool(committee_code):
        raise click.ClickException("unit (--unit/--all-under): give exactly one of the two")
    with _session() as s:
        if committee_code:
            changed = set_target_under(s, _actor(), _unit(s, committee_code), measure, must_reach,
                                       stretch)  # fmt: skip
            click.echo(f"Targets for {measure} set under {committee_code}: {changed} changed.")
            return
        assert unit_code is not None
        target = set_target(s, _actor(), _unit(s, unit_code), measure, must_reach, stretch)
        if target is None:
            click.echo(f"{unit_code} {measure}: no targets.")
        else:
            click.echo(
                f"{unit_code} {measure}: must {_number(target.must_reach)}, "
                f"stretch {_number(target.stretch)}."
            )


@targets_group.command("note")
@click.option("--unit", "unit_code", required=True, help="The branch's code.")
@click.option("--measure", required=True, help="compliance, attendance, dues, points, warnings.")
@click.option("--period", required=True, help="2026-08, 2026-Q3 or 2026.")
@click.option("--plan", default=None, help="What will be done.")
@click.option("--do", "do_", default=None, help="What was done.")
@click.option("--check", default=None, help="What it gave.")
@click.option("--act", default=None, help="What is kept or changed next period.")
def targets_note(
    unit_code: str, measure: str, period: str, plan: str | None, do_: str | None,
    check: str | None, act: str | None,
) -> None:  # fmt: skip
    """Write a branch's plan–do–check–act note; parts not given keep what was written."""
    from qrservice.boards.targets import TargetError, clean_period_key, note_of, write_note

    with _session() as s:
        unit = _unit(s, unit_code)
        given = {"plan": plan, "do": do_, "check": check, "act": act}
        held = None
        try:
            held = note_of(s, unit.id, measure.strip(), clean_period_key(period))
        except TargetError:  # write_note names the bad field
            held = None
        if held is not None:
            for name, value in given.items():
                if value is None:
                    given[name] = getattr(held, f"{name}_text")
        note = write_note(s, _actor(), unit, measure, period, *given.values())
        click.echo(f"Note written: {unit.code} {note.measure} {note.period}.")
