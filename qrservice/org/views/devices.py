"""Scanner devices for officers: list a branch's devices, create one and show its pairing code,
make a new pairing code, revoke (after a confirmation that says what will happen).

The secretary of the branch or an organiser above it may do each of these. A pairing code is
stored hashed, so it is shown once, in the answer to the form that made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from cards.qr import encode, to_svg
from qrservice import db
from qrservice.audit import Actor
from qrservice.life.meetings import meeting_time_problem
from qrservice.models import Meeting, ScannerDevice, Unit
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.org.devices import (
    PAIRING_TTL,
    DeviceError,
    check_fields,
    create_device,
    device_state,
    devices_in,
    format_code,
    new_pairing_code,
    pairing_payload,
    revoke_device,
    scans_of,
)
from qrservice.org.units import open_units_in_scope
from qrservice.timeutil import from_local, utcnow

bp = Blueprint("devices", __name__, url_prefix="/devices")


def _branches() -> list[Unit]:
    return [u for u in open_units_in_scope(db.session(), current_user.unit) if u.kind == "branch"]


def _meetings(branches: list[Unit]) -> list[Meeting]:
    """Meetings a device may be limited to: not closed, of the officer's branches."""
    if not branches:
        return []
    paths = [b.path for b in branches]
    candidates = db.session().scalars(
        select(Meeting)
        .join(Meeting.unit)
        .options(joinedload(Meeting.unit))
        .where(Meeting.status != "closed", Unit.path.startswith(current_user.unit.path))
        .order_by(Meeting.starts_at.desc())
        .limit(200)
    )
    return [m for m in candidates if any(m.unit.path.startswith(p) for p in paths)]


def _device_or_404(device_id: int) -> ScannerDevice:
    device = db.session().get(ScannerDevice, device_id)
    if device is None or not can_see_unit(current_user, device.unit):
        abort(404)
    return device


@bp.route("/")
@officer_required
def index() -> Any:
    rows = devices_in(db.session(), current_user.unit.path)
    return render_template("devices/index.html", rows=rows)


def _pairing_page(device: ScannerDevice, code: str, created: bool) -> Any:
    """The answer to the form that made a code: shown once, never kept by the browser."""
    base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    svg = to_svg(encode(pairing_payload(base_url, code), error="m"), module_px=6)
    response = make_response(
        render_template(
            "devices/pairing.html",
            device=device,
            code=format_code(code),
            svg=svg,
            pair_url=base_url + url_for("scan.pair_page"),
            created=created,
            minutes=int(PAIRING_TTL.total_seconds() // 60),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _expiry(value: str, errors: dict[str, str]) -> datetime | None:
    if not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        errors["expires_at"] = _("Enter a date and time.")
        return None
    if problem := meeting_time_problem(at):  # the same sane range as meetings' times
        errors["expires_at"] = problem
        return None
    return from_local(at)


@bp.route("/new", methods=["GET", "POST"])
@officer_required
def new() -> Any:
    branches = _branches()
    meetings = _meetings(branches)
    form = request.form
    if request.method == "GET":
        return render_template("devices/new.html", branches=branches, meetings=meetings,
                               form={}, errors={})  # fmt: skip
    errors: dict[str, str] = {}
    unit = next((b for b in branches if str(b.id) == form.get("unit_id")), None)
    if unit is None:
        errors["unit"] = _("Choose a branch.")
    meeting = None
    if form.get("meeting_id"):
        meeting = next((m for m in meetings if str(m.id) == form.get("meeting_id")), None)
        if meeting is None:
            errors["meeting_id"] = _("Choose a meeting of this branch that is not closed.")
    expires_at = _expiry(form.get("expires_at", ""), errors)
    if unit is not None:
        try:  # every bad field is named at once
            check_fields(unit, form.get("name", ""), meeting, expires_at, utcnow())
        except DeviceError as exc:
            errors = {**exc.errors, **errors}
    if errors or unit is None:
        return render_template(
            "devices/new.html", branches=branches, meetings=meetings, form=form, errors=errors
        ), 422  # fmt: skip
    device, code = create_device(
        db.session(), Actor.of(current_user), unit=unit, name=form.get("name", ""),
        meeting=meeting, expires_at=expires_at,
    )  # fmt: skip
    return _pairing_page(device, code, created=True)


@bp.route("/<int:device_id>/pairing-code", methods=["POST"])
@officer_required
def pairing_code(device_id: int) -> Any:
    """A new pairing code for the same device; the token it had stops at once."""
    device = _device_or_404(device_id)
    if device_state(device, utcnow()) == "expired":
        flash(_("This device's time is over; create a new device instead."), "error")
        return redirect(url_for("devices.index"))
    code = new_pairing_code(db.session(), Actor.of(current_user), device)
    return _pairing_page(device, code, created=False)


@bp.route("/<int:device_id>/revoke", methods=["GET", "POST"])
@officer_required
def revoke(device_id: int) -> Any:
    """GET asks for confirmation, saying what will happen; POST does it."""
    device = _device_or_404(device_id)
    if request.method == "GET":
        return render_template(
            "devices/confirm_revoke.html", device=device, scans=scans_of(db.session(), device.id)
        )
    if revoke_device(db.session(), Actor.of(current_user), device):
        flash(_("%(name)s was unpaired: its next call is refused.", name=device.name), "notice")
    return redirect(url_for("devices.index"))


@bp.app_template_global()
def device_state_names() -> dict[str, str]:
    return {
        "paired": _("paired"),
        "waiting": _("waiting for pairing"),
        "unpaired": _("not paired"),
        "revoked": _("unpaired (revoked)"),
        "expired": _("expired"),
    }
