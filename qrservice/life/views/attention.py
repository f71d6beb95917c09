"""Who needs attention: warnings with their causes, floating members not seen for months,
members in arrears; for a branch's secretary and the organisers above, with exports."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from qrservice import db
from qrservice.life.attention import (
    FLOATING_MONTHS,
    SHOWS,
    AttentionFilter,
    attention_list,
    cause_text,
    export_headers,
    export_row,
    reason_name,
    warning_name,
)
from qrservice.models import Unit
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.org.units import open_units_in_scope
from qrservice.tables import table_bytes
from qrservice.timeutil import local_time, utcnow
from qrservice.web import send_export

bp = Blueprint("attention", __name__, url_prefix="/attention")


def _chosen() -> tuple[Unit, AttentionFilter]:
    """The unit and filter the query string asks for; a unit outside the officer's scope is
    a 404 (it may not exist for them), a bad filter value falls back to the default."""
    s = db.session()
    unit = current_user.unit
    if raw := request.args.get("unit", "").strip():
        chosen = s.get(Unit, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if chosen is None or not can_see_unit(current_user, chosen):
            abort(404)
        unit = chosen
    show = request.args.get("show", "all")
    raw_months = request.args.get("months", "")
    months = int(raw_months) if raw_months.isdigit() and len(raw_months) < 3 else FLOATING_MONTHS
    return unit, AttentionFilter(
        show=show if show in SHOWS else "all", months=min(max(months, 1), 24)
    )


@bp.app_template_filter("cause_text")
def _cause_text(cause: Any) -> str:
    return cause_text(cause)


@bp.route("/")
@officer_required
def index() -> Any:
    unit, filt = _chosen()
    today = local_time(utcnow()).date()
    listing = attention_list(db.session(), unit, filt, today)
    return render_template(
        "attention/index.html", unit=unit, filt=filt, listing=listing, shows=SHOWS,
        units=open_units_in_scope(db.session(), current_user.unit), reason_name=reason_name,
        warning_name=warning_name, today=today,
    )  # fmt: skip


@bp.route("/export.<any(csv, xlsx):fmt>")
@officer_required
def export(fmt: str) -> Any:
    unit, filt = _chosen()
    today = local_time(utcnow()).date()
    listing = attention_list(db.session(), unit, filt, today)
    data = table_bytes(export_headers(), [export_row(r) for r in listing.rows], fmt, "attention")
    # The list names members and their arrears: its leaving the system is in the trail.
    return send_export(
        data, fmt, f"attention-{unit.code}-{date.today():%Y%m%d}.{fmt}", "attention.export",
        unit, {"format": fmt, "show": filt.show, "rows": len(listing.rows)},
    )  # fmt: skip
