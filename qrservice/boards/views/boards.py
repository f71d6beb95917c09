"""The branch board, the organiser's overview and the quarterly activity record."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.boards.board import branch_board
from qrservice.boards.compliance import slot_label
from qrservice.boards.figures import value_text
from qrservice.boards.overview import SORTS, activity_record, sorted_rows
from qrservice.boards.overview import overview as overview_of
from qrservice.boards.periods import Period, PeriodError, parse_period, period_of
from qrservice.boards.targets import measure_name
from qrservice.life.attention import cause_text, warning_name
from qrservice.models import BOARD_MEASURES, Unit
from qrservice.org.accounts import officer_required, unit_or_404
from qrservice.org.units import open_units_in_scope
from qrservice.timeutil import local_today

bp = Blueprint("boards", __name__, url_prefix="/boards")


def _unit_or_404(raw: Any, default: Unit) -> Unit:
    """The unit a query string names, if the officer may see it; else 404 (it may not exist
    for them)."""
    raw = str(raw or "").strip()
    if not raw:
        return default
    if not (raw.isdigit() and len(raw) < 10):
        abort(404)
    return unit_or_404(int(raw))


def _period(default_kind: str) -> Period | str:
    """The period the query string asks for, or the message for a bad one."""
    try:
        return parse_period(request.args.get("period", ""), local_today(), default_kind)
    except PeriodError as exc:
        return str(exc)


def _bad_period(message: str, unit: Unit) -> Any:
    return render_template(
        "boards/bad_request.html", unit=unit, message=_("period: %(problem)s", problem=message)
    ), 400


def _choices(today: Any) -> list[Period]:
    """Periods offered as quick links: this and last month, quarter, and this year."""
    month, quarter = period_of("month", today), period_of("quarter", today)
    return [month, month.previous(), quarter, quarter.previous(), period_of("year", today)]


@bp.app_template_global("measure_name")
def _measure_name(measure: str) -> str:
    return measure_name(measure)


bp.add_app_template_global(value_text, "value_text")


@bp.app_template_global("target_text")
def target_text(check: Any) -> str:
    """A target's outcome in words (the colour says it too)."""
    if check is None or check.state == "none":
        return ""
    return {
        "stretch": _("stretch reached"),
        "met": _("must-reach met"),
        "missed": _("missed"),
    }[check.state]


@bp.app_template_global("slot_label")
def _slot_label(slot: Any) -> str:
    return slot_label(slot)


@bp.route("/")
@officer_required
def overview() -> Any:
    unit = _unit_or_404(request.args.get("unit"), current_user.unit)
    if unit.kind == "branch":
        return redirect(url_for("boards.board", unit_id=unit.id, period=request.args.get("period")))
    if unit.kind == "group":
        abort(404)
    period = _period("quarter")
    if isinstance(period, str):
        return _bad_period(period, unit)
    sort = request.args.get("sort", "code")
    sort = sort if sort in SORTS else "code"
    descending = request.args.get("order") == "desc"
    today = local_today()
    found = overview_of(db.session(), unit, period, today)
    rows = sorted_rows(found.rows, sort, descending)
    # Each row's cells worked out here: a thousand rows render in a fraction of the time.
    board_url = url_for("boards.board", unit_id=0, period=period.key).replace("/0?", "/{}?", 1)
    cells = [[(value_text(m, r.value(m)), r.targets.get(m)) for m in BOARD_MEASURES] for r in rows]
    return render_template(
        "boards/overview.html", unit=unit, overview=found, rows=rows, sort=sort,
        cells=cells, board_url=board_url,
        descending=descending, measures=BOARD_MEASURES, choices=_choices(today),
        units=[u for u in open_units_in_scope(db.session(), current_user.unit)
               if u.kind == "committee"],
    )  # fmt: skip


@bp.route("/<int:unit_id>")
@officer_required
def board(unit_id: int) -> Any:
    unit = _unit_or_404(unit_id, current_user.unit)
    if unit.kind == "group":
        unit = unit.parent
    elif unit.kind == "committee":
        return redirect(url_for("boards.overview", unit=unit.id, **request.args))
    period = _period("month")
    if isinstance(period, str):
        return _bad_period(period, unit)
    # reportlab draws the charts: loaded here, not at start-up (workers that only serve scans
    # never load it).
    from qrservice.boards import charts

    today = local_today()
    found = branch_board(db.session(), unit, period, today)
    return render_template(
        "boards/board.html", board=found, unit=unit, period=period, choices=_choices(today),
        charts=charts, measures=BOARD_MEASURES, cause_text=cause_text,
        warning_name=warning_name,
    )  # fmt: skip


@bp.route("/activity")
@officer_required
def activity() -> Any:
    unit = _unit_or_404(request.args.get("unit"), current_user.unit)
    today = local_today()
    try:
        quarter = parse_period(request.args.get("quarter", ""), today, "quarter")
        if quarter.kind != "quarter":
            raise PeriodError(_("choose a quarter, written 2026-Q3"))
    except PeriodError as exc:
        message = _("quarter: %(problem)s", problem=str(exc))
        return render_template("boards/bad_request.html", unit=unit, message=message), 400
    rows = activity_record(db.session(), unit, quarter)
    return render_template(
        "boards/activity.html", unit=unit, quarter=quarter, rows=rows,
        units=open_units_in_scope(db.session(), current_user.unit),
        quarters=[period_of("quarter", today), period_of("quarter", today).previous()],
    )  # fmt: skip
