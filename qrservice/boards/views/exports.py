"""Exports for the committee: roster, attendance, points and dues ledgers, warnings (CSV/XLSX).

One page lists the six exports with their parameters; each file is read without the write
lock (a GET's plain read transaction: check-ins go on meanwhile) and its leaving the service
is recorded in the trail by qrservice.web.send_export.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.boards import exports
from qrservice.boards.periods import period_of
from qrservice.models import Unit
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.org.units import open_units_in_scope
from qrservice.tables import table_bytes
from qrservice.timeutil import local_today
from qrservice.web import send_export

bp = Blueprint("exports", __name__, url_prefix="/exports")


def _lang() -> str:
    return "zh" if str(get_locale()).startswith("zh") else "en"


def _page(
    errors: dict[str, str] | None = None, kind: str | None = None, status: int = 200
) -> tuple[str, int]:
    s = db.session()
    today = local_today()
    return render_template(
        "exports/index.html",
        kinds=exports.KINDS,
        period_kinds=exports.PERIOD_KINDS,
        units=open_units_in_scope(s, current_user.unit),
        this_month=period_of("month", today).key,
        last_quarter=period_of("quarter", today).previous().key,
        errors=errors or {},
        failed_kind=kind,
        args=request.args,
    ), status


@bp.route("/")
@officer_required
def index() -> Any:
    return _page()


def _unit() -> Unit:
    """The scope asked for (default: the officer's own unit): text that is no unit number is
    ExportError; a unit that does not exist or lies outside the officer's scope is a 404."""
    raw = request.args.get("unit", "").strip()
    if not raw:
        return current_user.unit
    unit_id = db.parse_id(raw)
    if unit_id is None:
        raise exports.ExportError({"unit": _("unit: not a unit number")})
    unit = db.session().get(Unit, unit_id)
    if unit is None or not can_see_unit(current_user, unit):
        abort(404)
    return unit


@bp.route("/<kind>")
@officer_required
def export(kind: str) -> Any:
    if kind not in exports.KINDS:
        abort(404)
    s = db.session()
    today = local_today()
    errors: dict[str, str] = {}
    try:
        unit = _unit()
    except exports.ExportError as exc:
        errors, unit = exc.errors, current_user.unit
    try:
        choice = exports.check_choice(
            s, kind, unit, request.args.get("format"), request.args.get("period"),
            request.args.get("meeting"), today,
        )  # fmt: skip
    except exports.ExportError as exc:
        errors = {**errors, **exc.errors}
    except LookupError:
        abort(404)
    if errors:
        # Every bad parameter named at once; nothing read, nothing in the trail.
        return _page(errors, kind, 400)
    headers, rows = exports.export_table(s, choice, _lang(), today)
    data = table_bytes(headers, rows, choice.fmt, choice.kind)
    return send_export(
        data, choice.fmt, choice.filename, "export.table", choice.unit,
        choice.audit_after(len(rows)),
    )  # fmt: skip
