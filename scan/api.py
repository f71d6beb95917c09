"""The check-in JSON API, used by the scanner page and any other client, with its OpenAPI text.

Every door answers with the same fields and reasons as ``scan.checkin.redeem``. Officers
authenticate with their login session (POSTs carry the CSRF token in ``X-CSRFToken``); paired
scanner devices with ``Authorization: Bearer <device token>`` and no CSRF token (scan/auth.py).
A device reaches these calls only, for its branch's meetings, and sees the expected list only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import joinedload

from qrservice import db
from qrservice.life.meetings import counts, missing_rows, recent_rows, undo_last
from qrservice.models import Attendance, Meeting, Member, ScannerDevice, Unit
from qrservice.org.accounts import csrf, limiter
from qrservice.org.devices import PairingRefused, pair_device
from qrservice.org.devices import open_meetings as device_meetings
from qrservice.signing_keys import key_ring
from qrservice.timeutil import utcnow
from scan.auth import current_scanner, device_required, scanner_required
from scan.checkin import NONCE_RE, CheckinResult, MeetingNotFound, redeem
from scan.lists import expected_list, find_expected

bp = Blueprint("scan_api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
MAX_SYNC = 500
#: A client clock may be wrong, but a scan's time further than this from the server's is
#: refused as such (a scanner whose clock was reset to 1970, a typo, a year 0001 or 9999).
CLIENT_TIME_RANGE = timedelta(days=366)


class BadRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _error(status: int, reason: str, message: str, field: str | None = None) -> Any:
    body = {"status": "error", "reason": reason, "message": message}
    if field:
        body["field"] = field
    return jsonify(body), status


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest("client_time", _("client_time must be an ISO 8601 time"))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            # Near year 1 or 9999 the conversion itself overflows.
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadRequest("client_time", _("client_time must be an ISO 8601 time")) from None
    now = utcnow()
    if not now - CLIENT_TIME_RANGE <= parsed <= now + CLIENT_TIME_RANGE:
        raise BadRequest("client_time", _("client_time must be within a year of the server's time"))
    return parsed


def parse_scan(item: Any, default_via: str, nonce_required: bool) -> dict[str, Any]:
    """Validate one scan of a request body; raises BadRequest naming the field."""
    if not isinstance(item, dict):
        raise BadRequest("body", _("a scan must be a JSON object"))
    code, member_id = item.get("code"), item.get("member_id")
    if (code is None) == (member_id is None):
        raise BadRequest("code", _("give either code or member_id"))
    if code is not None and (not isinstance(code, str) or not 0 < len(code) <= 512):
        raise BadRequest("code", _("code must be the scanned text (at most 512 characters)"))
    if member_id is not None and (not isinstance(member_id, int) or db.parse_id(member_id) is None):
        raise BadRequest("member_id", _("member_id must be a member's id, a positive whole number"))
    nonce = item.get("nonce")
    if nonce is None and nonce_required:
        raise BadRequest("nonce", _("every queued scan needs its nonce"))
    if nonce is not None and (not isinstance(nonce, str) or not NONCE_RE.match(nonce)):
        raise BadRequest("nonce", _("nonce must be 16-64 letters, digits, '-' or '_'"))
    via = item.get("via", default_via)
    if via not in ("scan", "manual", "offline"):
        raise BadRequest("via", _("via must be scan, manual or offline"))
    confirm = item.get("confirm_visitor", False)
    if not isinstance(confirm, bool):
        raise BadRequest("confirm_visitor", _("confirm_visitor must be true or false"))
    return {
        "code": code,
        "member_id": member_id,
        "nonce": nonce,
        "via": via,
        "client_time": _parse_time(item.get("client_time")),
        "confirm_visitor": confirm,
    }


def _redeem(meeting_id: int, scan: dict[str, Any]) -> CheckinResult:
    scanner = current_scanner()
    device: dict[str, Any] = {}
    if scanner.is_device:
        # A device sees the meeting's expected list and no one else: its scope is the meeting.
        meeting = _meeting_or_404(meeting_id, write=True)
        device = {"member_scope": meeting.unit.path, "active_only": True,
                  "device_id": scanner.device_id}  # fmt: skip
    return redeem(
        db.session(),
        ring=key_ring(),
        meeting_id=meeting_id,
        recorded_by=scanner.label,
        scope_path=scanner.scope_path,
        **device,
        **scan,
    )


def _json_body() -> Any:
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # json.loads recurses per level: 10,000 nested brackets exhaust the stack.
        raise BadRequest("body", _("the JSON is nested too deeply")) from None
    if body is None:
        raise BadRequest("body", _("the body must be JSON"))
    return body


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Any:
    return _error(400, "bad_request", f"{exc.field}: {exc.message}", exc.field)


@bp.errorhandler(MeetingNotFound)
def _no_meeting(exc: MeetingNotFound) -> Any:
    return _error(404, "no_meeting", _("There is no such meeting among your units."))


@bp.route("/meetings/<int:meeting_id>/checkins", methods=["POST"])
@scanner_required
def checkin(meeting_id: int) -> Any:
    scan = parse_scan(_json_body(), "scan", nonce_required=False)
    return jsonify(_redeem(meeting_id, scan).as_dict())


@bp.route("/meetings/<int:meeting_id>/sync", methods=["POST"])
@scanner_required
def sync(meeting_id: int) -> Any:
    """A queue of offline scans, each decided on its own, one result per scan, in order.

    A malformed scan, or one that fails, is answered with its own ``error`` (its reason, its
    field and its nonce) and never holds back the others: the scanner drops every answered
    scan from its queue, so one bad item cannot stall the queue behind it.
    """
    body = _json_body()
    items = body.get("scans") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_SYNC:
        raise BadRequest("scans", _("scans must be a list of 1 to %(n)d scans", n=MAX_SYNC))
    meeting = _meeting_or_404(meeting_id, write=True)
    results = [_sync_one(meeting_id, index, item) for index, item in enumerate(items)]
    return jsonify(results=results, counts=counts(db.session(), meeting).as_dict())


def _sync_one(meeting_id: int, index: int, item: Any) -> dict[str, Any]:
    nonce = item.get("nonce") if isinstance(item, dict) else None
    nonce = nonce if isinstance(nonce, str) and len(nonce) <= 64 else None
    try:
        scan = parse_scan(item, "offline", nonce_required=True)
    except BadRequest as exc:
        field = f"scans[{index}].{exc.field}"
        return _item_error("bad_request", f"{field}: {exc.message}", nonce, field)
    s = db.session()
    try:
        # A savepoint per scan: a scan that fails takes back only its own writes.
        with s.begin_nested():
            result = _redeem(meeting_id, scan).as_dict()
    except (MeetingNotFound, OperationalError):
        raise  # the meeting went away, or the database is busy: the whole sync, again later
    except (SQLAlchemyError, ValueError):
        log.exception("offline scan %d of meeting %d could not be recorded", index, meeting_id)
        message = _("This scan could not be recorded; scan the card again.")
        return _item_error("failed", message, nonce, f"scans[{index}]")
    result["nonce"] = scan["nonce"]
    return result


def _item_error(reason: str, message: str, nonce: str | None, field: str) -> dict[str, Any]:
    return {"status": "error", "reason": reason, "message": message, "field": field,
            "nonce": nonce, "member": None, "attendance": None, "replayed": False}  # fmt: skip


#: Built once: every scanner call reads it (building a select costs more than running it).
_MEETING_WITH_UNIT = (
    select(Meeting).options(joinedload(Meeting.unit)).where(Meeting.id == bindparam("meeting_id"))
)


def _meeting_or_404(meeting_id: int, write: bool = False) -> Meeting:
    """The meeting, if this officer or device may reach it (read once per request)."""
    meeting = g.get("scan_meeting")
    if meeting is None or meeting.id != meeting_id:
        meeting = db.session().scalar(_MEETING_WITH_UNIT, {"meeting_id": meeting_id})
        g.scan_meeting = meeting
    if meeting is None or not current_scanner().may_use(meeting, utcnow(), write):
        raise MeetingNotFound(meeting_id)
    return meeting


def _meeting_json(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id, "title": meeting.title, "status": meeting.status,
        "kind": meeting.kind, "unit": meeting.unit.name, "place": meeting.place,
        "starts_at": meeting.starts_at.isoformat() + "Z",
        "ends_at": meeting.ends_at.isoformat() + "Z",
        "scanner": f"/scan/meetings/{meeting.id}",
    }  # fmt: skip


def _member_json(member: Member) -> dict[str, Any]:
    return {"id": member.id, "name": member.name, "number": member.number,
            "unit": member.unit.name}  # fmt: skip


@bp.route("/meetings/<int:meeting_id>/status")
@scanner_required
def status(meeting_id: int) -> Any:
    s = db.session()
    meeting = _meeting_or_404(meeting_id)
    recent = recent_rows(s, meeting)
    if current_scanner().is_device:
        # A device sees the meeting's expected list and no one else: no visitors' names.
        recent = [a for a in recent if a.status != "visitor"]
    return jsonify(
        meeting=_meeting_json(meeting),
        counts=counts(s, meeting).as_dict(),
        # Rows, not ORM objects: the scanner asks after every scan.
        missing=[
            {"id": m.id, "name": m.name, "number": m.number, "unit": m.unit}
            for m in missing_rows(s, meeting)
        ],
        recent=[
            {
                "name": a.name,
                "number": a.number,
                "status": a.status,
                "checked_in_at": a.checked_in_at.isoformat() + "Z",
                "via": a.via,
            }
            for a in recent
        ],  # fmt: skip
    )


@bp.route("/meetings/<int:meeting_id>/undo", methods=["POST"])
@scanner_required
def undo(meeting_id: int) -> Any:
    s = db.session()
    scanner = current_scanner()
    meeting = _meeting_or_404(meeting_id)
    # A device takes back only what it recorded itself.
    mine = scanner.label if scanner.is_device else None
    undone = undo_last(s, scanner.actor, meeting, recorded_by=mine)
    if undone is None:
        return jsonify(status="refused", reason="nothing_to_undo",
                       message=_("There is no check-in to undo."))  # fmt: skip
    return jsonify(
        status="ok",
        message=_("Check-in of %(name)s taken back.", name=undone.member.name),
        member=_member_json(undone.member),
        counts=counts(s, meeting).as_dict(),
    )


@bp.route("/meetings/<int:meeting_id>/lookup")
@scanner_required
def lookup(meeting_id: int) -> Any:
    s = db.session()
    scanner = current_scanner()
    meeting = _meeting_or_404(meeting_id)
    q = request.args.get("q", "").strip()[:64]
    if not q:
        return jsonify(members=[])
    if scanner.is_device:
        members = find_expected(s, meeting, q)
    else:
        members = s.scalars(
            select(Member)
            .join(Member.unit)
            .where(
                Member.active.is_(True),
                Unit.path.startswith(scanner.scope_path, autoescape=True),
                or_(
                    Member.name.contains(q, autoescape=True),
                    Member.number.contains(q, autoescape=True),
                ),
            )
            .order_by(Member.number)
            .limit(20)
        ).all()
    seen = set(
        s.scalars(
            select(Attendance.member_id).where(
                Attendance.meeting_id == meeting.id,
                Attendance.status.in_(("present", "late", "visitor", "made_up")),
            )
        )
    )
    return jsonify(members=[{**_member_json(m), "checked_in": m.id in seen} for m in members])


@bp.route("/meetings/<int:meeting_id>/expected")
@scanner_required
def expected(meeting_id: int) -> Any:
    """The expected list a scanner keeps for offline use (scan/lists.py)."""
    meeting = _meeting_or_404(meeting_id)
    response = jsonify(
        meeting=_meeting_json(meeting),
        at=utcnow().isoformat() + "Z",
        members=expected_list(db.session(), meeting),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _device_json() -> dict[str, Any]:
    scanner = current_scanner()
    return {"id": scanner.device_id, "name": scanner.device_name, "unit": scanner.unit_name,
            "meeting_id": scanner.meeting_id}  # fmt: skip


@bp.route("/device")
@device_required
def device() -> Any:
    """A paired device: what it is, and the open meetings whose scanner it may open."""
    s = db.session()
    found = s.get(ScannerDevice, current_scanner().device_id)
    assert found is not None
    meetings = [_meeting_json(m) for m in device_meetings(s, found)]
    return jsonify(
        device={
            **_device_json(),
            "expires_at": found.expires_at.isoformat() + "Z" if found.expires_at else None,
        },
        meetings=meetings,
    )


@bp.route("/devices/pair", methods=["POST"])
@csrf.exempt  # no session is involved: the one-time code is the credential
@limiter.limit("20 per minute")
def pair() -> Any:
    """A phone pairs with a one-time code and receives its device token (once)."""
    body = _json_body()
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not 0 < len(code) <= 32:
        raise BadRequest("code", _("code must be the pairing code"))
    try:
        found, token = pair_device(db.session(), code)
    except PairingRefused as exc:
        return _error(400, exc.reason, exc.message)
    return jsonify(
        status="ok",
        token=token,
        device={
            "id": found.id,
            "name": found.name,
            "unit": found.unit.name,
            "meeting_id": found.meeting_id,
        },
    )


OPENAPI = Path(__file__).with_name("openapi.json")


@bp.route("/openapi.json")
def openapi() -> Any:
    """The API's OpenAPI 3.1 description (a test keeps its reasons in step with the code)."""
    return Response(OPENAPI.read_bytes(), mimetype="application/json")
