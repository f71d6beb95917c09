"""The monthly PDF reports: one per branch, one for a committee.

A report is read without the write lock (a GET's read transaction), drawn, and recorded in
the trail by a short write of its own committed before the bytes leave, as table exports are
(web.send_export).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from qrservice import db
from qrservice.boards.periods import Period, PeriodError, parse_period, period_of
from qrservice.models import Unit
from qrservice.org.accounts import officer_required, organiser_required, unit_or_404
from qrservice.timeutil import add_months, local_today, month_start
from qrservice.web import send_export

bp = Blueprint("reports", __name__, url_prefix="/reports")


def default_period(today: Any) -> Period:
    """Last month: the month a monthly report is about."""
    return period_of("month", add_months(month_start(today), -1))


def report_period(raw: str | None, today: Any) -> Period:
    """The period asked for (2026-10, 2026-Q3, 2026), last month when none. PeriodError."""
    if not (raw or "").strip():
        return default_period(today)
    return parse_period(raw, today)


def _bad_period(unit: Unit, exc: PeriodError) -> Any:
    message = _("period: %(problem)s", problem=exc.errors["period"])
    return render_template("boards/bad_request.html", unit=unit, message=message), 400


def _send_pdf(data: bytes, filename: str, action: str, unit: Unit, period: Period) -> Response:
    after = {"unit": unit.code, "period": period.key, "bytes": len(data)}
    return send_export(data, "pdf", filename, action, unit, after)


@bp.route("/branch/<int:unit_id>.pdf")
@officer_required
def branch(unit_id: int) -> Any:
    from qrservice.boards.board import branch_board
    from qrservice.boards.reports import branch_report_pdf, report_filename
    from qrservice.org.organisation import cached_organisation_name

    unit = unit_or_404(unit_id, "branch")
    today = local_today()
    try:
        period = report_period(request.args.get("period"), today)
    except PeriodError as exc:
        return _bad_period(unit, exc)
    board = branch_board(db.session(), unit, period, today)
    data = branch_report_pdf(board, cached_organisation_name(fresh=True))
    return _send_pdf(data, report_filename(unit, period), "report.branch", unit, period)


@bp.route("/committee/<int:unit_id>.pdf")
@organiser_required
def committee(unit_id: int) -> Any:
    from qrservice.boards.reports import committee_report_pdf, gather_committee, report_filename
    from qrservice.org.organisation import cached_organisation_name

    unit = unit_or_404(unit_id, "committee")
    today = local_today()
    try:
        period = report_period(request.args.get("period"), today)
    except PeriodError as exc:
        return _bad_period(unit, exc)
    overview, boards = gather_committee(db.session(), unit, period, today)
    data = committee_report_pdf(overview, boards, cached_organisation_name(fresh=True))
    return _send_pdf(data, report_filename(unit, period), "report.committee", unit, period)
