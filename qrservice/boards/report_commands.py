"""CLI commands for the monthly PDF reports, under ``qrservice reports``: a branch's and a
committee's. Each report is recorded in the trail as made by the command line ("cli"). The
committee's report reads every board first (a progress bar), closes the database, then draws
its pages (another bar): check-ins are never kept waiting by it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask_babel import force_locale
from sqlalchemy import select

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


@click.group("reports")
def reports() -> None:
    """Monthly PDF reports: a branch's board on paper, a committee's report."""


COMMANDS.append(reports)

_UNIT = click.option("--unit", "unit_code", required=True, help="The unit's code.")
_PERIOD = click.option(
    "--period", default="", help="A month 2026-10, a quarter 2026-Q3 or a year 2026 (default: "
    "last month).",
)  # fmt: skip
_LANGUAGE = click.option(
    "--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
    help="The report's language.",
)  # fmt: skip
_OUTPUT = click.option(
    "-o", "--output", "output", required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path), help="The PDF file to write.",
)  # fmt: skip


def _unit(s: Any, code: str, kind: str) -> Any:
    from qrservice.models import Unit

    unit = s.scalar(select(Unit).where(Unit.code == code.strip()))
    if unit is None:
        raise click.ClickException(f"unit (--unit): no unit with code {code!r}")
    if unit.kind != kind:
        raise click.ClickException(f"unit (--unit): {code} is a {unit.kind}, not a {kind}")
    return unit


def _period(raw: str) -> Any:
    from qrservice.boards.periods import PeriodError
    from qrservice.boards.views.reports import report_period
    from qrservice.timeutil import local_today

    try:
        return report_period(raw, local_today())
    except PeriodError as exc:
        raise click.ClickException(f"period (--period): {exc.errors['period']}") from None


def _audit(app: Any, action: str, unit_id: int, code: str, period: Any, size: int) -> None:
    from qrservice import db
    from qrservice.audit import Actor, record

    with db.transaction(app) as s:
        record(s, Actor.system(), action, "unit", unit_id,
               after={"unit": code, "period": period.key, "bytes": size})  # fmt: skip


@reports.command("branch")
@_UNIT
@_PERIOD
@_LANGUAGE
@_OUTPUT
def branch(unit_code: str, period: str, language: str, output: Path) -> None:
    """Write a branch's report for a period (its board on paper) to a PDF file."""
    from qrservice import db
    from qrservice.boards.board import branch_board
    from qrservice.boards.reports import branch_report_pdf, ready
    from qrservice.cli import _app, _organisation_name, _require_current_schema
    from qrservice.timeutil import local_today

    app = _app()
    _require_current_schema(app)
    with app.app_context(), force_locale(language):
        chosen = _period(period)
        with db.transaction(app) as s:
            unit = _unit(s, unit_code, "branch")
            unit_id, code = unit.id, unit.code
            board = ready(branch_board(s, unit, chosen, local_today()))
        data = branch_report_pdf(board, _organisation_name())
        output.write_bytes(data)
        _audit(app, "report.branch", unit_id, code, chosen, len(data))
    click.echo(f"Wrote {output} ({len(data)} bytes): {code}, {chosen.key}.")


@reports.command("committee")
@_UNIT
@_PERIOD
@_LANGUAGE
@_OUTPUT
def committee(unit_code: str, period: str, language: str, output: Path) -> None:
    """Write a committee's report for a period: a summary of its branches, then each
    branch's board."""
    from qrservice import db
    from qrservice.boards.reports import committee_report_pdf, gather_committee
    from qrservice.cli import _app, _organisation_name, _require_current_schema
    from qrservice.timeutil import local_today

    app = _app()
    _require_current_schema(app)
    with app.app_context(), force_locale(language):
        chosen = _period(period)
        with db.transaction(app) as s:
            unit = _unit(s, unit_code, "committee")
            unit_id, code = unit.id, unit.code
            with click.progressbar(length=1, label="Reading boards") as bar:

                def read(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                overview, boards = gather_committee(s, unit, chosen, local_today(), read)
        name = _organisation_name()
        with click.progressbar(length=max(len(boards), 1), label="Drawing pages") as bar:

            def drawn(done: int, total: int) -> None:
                bar.update(done - bar.pos)

            data = committee_report_pdf(overview, boards, name, drawn)
        output.write_bytes(data)
        _audit(app, "report.committee", unit_id, code, chosen, len(data))
    click.echo(f"Wrote {output} ({len(data)} bytes): {code}, {chosen.key}, {len(boards)} branches.")
