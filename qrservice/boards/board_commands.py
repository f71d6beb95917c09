"""CLI commands for boards: a branch's board, the overview of a committee's branches and the
quarterly activity record, as text."""

from __future__ import annotations

from typing import Any

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


def _unit(s: Any, code: str) -> Any:
    from qrservice.org.units import unit_by_code

    unit = unit_by_code(s, code)
    if unit is None:
        raise click.ClickException(f"unit: no unit with code {code}")
    return unit


def _period(value: str, default_kind: str) -> Any:
    from qrservice.boards.periods import PeriodError, parse_period
    from qrservice.timeutil import local_today

    try:
        return parse_period(value, local_today(), default_kind)
    except PeriodError as exc:
        raise click.ClickException(f"period: {exc}") from None


def _value(measure: str, value: Any) -> str:
    if value is None:
        return "-"
    return f"{value}%" if measure in ("compliance", "attendance", "dues") else str(value)


def _target(check: Any) -> str:
    return "" if check is None or check.state == "none" else f" [{check.state}]"


@click.group()
def boards() -> None:
    """Boards (电子方针管理板): a branch's measures, the overview, the activity record."""


@boards.command("show")
@click.option("--unit", "code", required=True, help="The branch's code, e.g. B01.")
@click.option("--period", default="", help="2026-08, 2026-Q3 or 2026 (default: this month).")
def boards_show(code: str, period: str) -> None:
    """A branch's board for a period."""
    from qrservice import db
    from qrservice.boards.board import branch_board
    from qrservice.boards.compliance import slot_label
    from qrservice.boards.targets import measure_name
    from qrservice.cli import _app, _require_current_schema
    from qrservice.models import BOARD_MEASURES
    from qrservice.timeutil import local_today

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        unit = _unit(s, code)
        if unit.kind != "branch":
            raise click.ClickException(f"unit: {code} is not a branch")
        b = branch_board(s, unit, _period(period, "month"), local_today())
        m = b.measures
        click.echo(f"{unit.name} ({unit.code}), {b.period.key}: {m.members} members")
        for measure in BOARD_MEASURES:
            check = m.targets.get(measure)
            click.echo(f"  {measure_name(measure)}: {_value(measure, m.value(measure))}"
                       f"{_target(check)}")  # fmt: skip
        for slot in m.compliance.missed:
            click.echo(f"  missing: {slot_label(slot)} (held {slot.held} of {slot.required})")
        d = m.dues
        owed = (d.owed_fen or 0) / 100
        click.echo(f"  dues: {d.settled}/{d.owing} settled, collected {d.collected_fen / 100:.2f}"
                   f", owed today {owed:.2f}, in arrears {d.in_arrears}")  # fmt: skip
        click.echo(f"  warnings: red {m.red}, yellow {m.yellow}")
        for row in b.warned:
            click.echo(f"    {row.member.number}\t{row.member.name}\t{row.standing.warning}")
        click.echo(f"  pending: leave {len(b.pending_leave)}, make-up {len(b.pending_makeup)}, "
                   f"transfers {len(b.pending_transfers)}; meetings without trace "
                   f"{len(b.untraced)}; birthdays this month {len(b.birthdays)}")  # fmt: skip


@boards.command("overview")
@click.option("--unit", "code", required=True, help="The committee's code, e.g. C01.")
@click.option("--period", default="", help="2026-08, 2026-Q3 or 2026 (default: this quarter).")
def boards_overview(code: str, period: str) -> None:
    """Every open branch under a committee with its measures, one line each (tab-separated)."""
    from qrservice import db
    from qrservice.boards.overview import overview
    from qrservice.cli import _app, _require_current_schema
    from qrservice.models import BOARD_MEASURES
    from qrservice.timeutil import local_today

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        found = overview(s, _unit(s, code), _period(period, "quarter"), local_today())
        click.echo("\t".join(["branch", "members", *BOARD_MEASURES, "missed", "arrears"]))
        for r in found.rows:
            values = [_value(m, r.value(m)) + _target(r.targets.get(m)) for m in BOARD_MEASURES]
            counts = [str(len(r.compliance.missed)), str(r.dues.in_arrears)]
            click.echo("\t".join([r.code, str(r.members), *values, *counts]))


@boards.command("activity")
@click.option("--unit", "code", required=True, help="A unit's code, e.g. C01.")
@click.option("--quarter", default="", help="2026-Q3 (default: this quarter).")
def boards_activity(code: str, quarter: str) -> None:
    """Each unit's quarter: meetings held, traces filed, updates recorded."""
    from qrservice import db
    from qrservice.boards.overview import activity_record
    from qrservice.cli import _app, _require_current_schema

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        q = _period(quarter, "quarter")
        if q.kind != "quarter":
            raise click.ClickException("quarter: choose a quarter, written 2026-Q3")
        click.echo("unit\tmeetings\ttraces\tupdates")
        for r in activity_record(s, _unit(s, code), q):
            click.echo(f"{r.code}\t{r.meetings}\t{r.traces}\t{r.updates}")


COMMANDS.append(boards)
