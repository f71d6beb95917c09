"""Pages of the scan loop: the member's card page (what a scan of a card opens), the
secretary's scanner, and the meeting's rotating on-screen code.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select

from cards.qr import encode, to_png, to_svg
from cards.tokens import TokenError, card_url, sign_meeting, verify_meeting
from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import months_from
from qrservice.life.meetings import card_meetings
from qrservice.life.points_ledger import source_names as points_source_names
from qrservice.life.standing import member_standing
from qrservice.life.views.meetings import attendance_status_names
from qrservice.models import Attendance, Card, DuesPayment, Meeting, Member, PointsEntry
from qrservice.org.accounts import can_see_member, can_see_unit, csrf, limiter, officer_required
from qrservice.org.issuance import (
    CardRefused,
    branch_of,
    card_view,
    kept_code,
    resolve_card,
    try_pin,
)
from qrservice.signing_keys import key_ring
from qrservice.timeutil import local_time, utcnow
from scan.checkin import MeetingNotFound, redeem

bp = Blueprint("scan", __name__, static_folder="static", static_url_path="/scan/static")

#: The cookie that keeps a phone unlocked for one card version, and remembers that card.
CARD_COOKIE = "qrcard"
CARD_COOKIE_AGE = 365 * 24 * 3600
#: How long after the on-screen code's rotation a member's phone may still use it.
SCREEN_ROTATION_SECONDS = 15


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="qrservice.card-unlock")


def unlocked_card_ids() -> dict[int, int]:
    """member id → card version unlocked on this phone (from the signed cookie)."""
    raw = request.cookies.get(CARD_COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return {}
    return {int(k): int(v) for k, v in data.get("u", {}).items()}


def remembered_token() -> str | None:
    raw = request.cookies.get(CARD_COOKIE)
    if not raw:
        return None
    try:
        return _serializer().loads(raw).get("t")
    except BadSignature:
        return None


def _with_unlocked(response: Response, card: Card) -> Response:
    unlocked = unlocked_card_ids()
    unlocked[card.member_id] = card.version
    value = _serializer().dumps({"u": {str(k): v for k, v in unlocked.items()}, "t": card.token})
    response.set_cookie(
        CARD_COOKIE, value, max_age=CARD_COOKIE_AGE, httponly=True, samesite="Lax",
        secure=current_app.config["ENV"] == "production", path="/",
    )  # fmt: skip
    return response


def _viewer(card: Card) -> str:
    """officer, member (unlocked on this phone) or stranger."""
    if current_user.is_authenticated and can_see_member(current_user, card.member):
        return "officer"
    if unlocked_card_ids().get(card.member_id) == card.version:
        return "member"
    return "stranger"


def _local_when(at: datetime | None) -> str:
    """A lock's end as the member reads it: the time today, or the date and time."""
    if at is None:
        return "?"
    local = local_time(at)
    same_day = local.date() == local_time(utcnow()).date()
    return local.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M")


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


@bp.route("/c/<token>")
def card_page(token: str) -> Any:
    s = db.session()
    try:
        card = card_view(s, key_ring(), token)
    except CardRefused as exc:
        code = 404 if exc.card is None else 200
        return render_template("scan/card_refused.html", reason=exc.reason,
                               message=exc.message, card=exc.card), code  # fmt: skip
    member = card.member
    viewer = _viewer(card)
    privacy = current_app.config["CARD_PRIVACY"]
    today = local_time(utcnow()).date()
    full = viewer in ("officer", "member")
    context: dict[str, Any] = {
        "card": card, "member": member, "viewer": viewer, "privacy": privacy, "full": full,
        "name": member.name if full or privacy == "summary" else mask_name(member.name),
        "branch": branch_of(member.unit).name,
    }  # fmt: skip
    if full or privacy == "summary":
        context["standing"] = member_standing(s, member, today)
    if full:
        context.update(_history(s, member))
        now = utcnow()
        found = card_meetings(s, member, now)  # one query: open now, and the next 30 days
        meetings = found.open_now
        context["upcoming"] = found.upcoming
        context["remote_meetings"] = [m for m in meetings if m.remote_allowed]
        context["checked_in"] = _checked_in(s, member.id, [m.id for m in meetings])
        if viewer == "member":
            from qrservice.life.views.requests import card_requests

            context.update(card_requests(s, member))
        if viewer == "officer":
            context["officer_meetings"] = [
                m for m in meetings if can_see_unit(current_user, m.unit)
            ]
    if viewer == "member":
        from qrservice.life.birthdays import card_greeting

        context["birthday_greeting"] = card_greeting(member, today)
    response = make_response(render_template("scan/card.html", **context))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _checked_in(s: Any, member_id: int, meeting_ids: list[int]) -> dict[int, Attendance]:
    """meeting id → this member's check-in, among these open meetings (no query without any)."""
    if not meeting_ids:
        return {}
    rows = s.scalars(
        select(Attendance).where(
            Attendance.member_id == member_id,
            Attendance.meeting_id.in_(meeting_ids),
            Attendance.status.in_(("present", "late", "visitor", "made_up")),
        )
    )
    return {row.meeting_id: row for row in rows}


# The member's history, built once and read as Core rows (a row per line of the page, where
# ORM objects cost a third of the unlocked page's time); the member is a parameter.
_ATTENDANCE_HISTORY = (
    select(Attendance.status, Meeting.starts_at, Meeting.title)
    .join(Meeting, Meeting.id == Attendance.meeting_id)
    .where(
        Attendance.member_id == bindparam("member_id"),
        Attendance.status != "undone",
        Meeting.status != "cancelled",  # a cancelled meeting is on no card
    )
    .order_by(Meeting.starts_at.desc())
    .limit(200)
)
_POINTS_HISTORY = (
    select(PointsEntry.at, PointsEntry.reason, PointsEntry.points, PointsEntry.kind)
    .where(PointsEntry.member_id == bindparam("member_id"))
    .order_by(PointsEntry.at.desc())
    .limit(200)
)
_PAYMENTS_HISTORY = (
    select(
        DuesPayment.paid_on, DuesPayment.months, DuesPayment.first_month,
        DuesPayment.amount_fen, DuesPayment.receipt_no,
    )
    .where(DuesPayment.member_id == bindparam("member_id"), DuesPayment.voided_at.is_(None))
    .order_by(DuesPayment.first_month.desc())
    .limit(60)
)  # fmt: skip


def _day(at: datetime) -> str:
    return local_time(at).strftime("%Y-%m-%d")


def _history(s: Any, member: Member) -> dict[str, Any]:
    """The member's lines of history, ready to show: dates, statuses and amounts written here,
    once per line, where a template's calls cost several times more (a year is 60 lines)."""
    conn = s.connection()
    params = {"member_id": member.id}
    names = attendance_status_names()
    attendance = [
        (_day(row.starts_at), row.title, row.status, names.get(row.status, row.status))
        for row in conn.execute(_ATTENDANCE_HISTORY, params)
    ]
    sources = points_source_names()  # each line says where its points come from
    points = [
        (_day(row.at), f"{sources.get(row.kind, row.kind)} · {row.reason}", f"{row.points:+d}")
        for row in conn.execute(_POINTS_HISTORY, params)
    ]
    payments = [
        (
            row.paid_on.isoformat(),
            months_from(row.months, row.first_month.strftime("%Y-%m")),
            f"{row.amount_fen / 100:.2f}",
            row.receipt_no,
        )
        for row in conn.execute(_PAYMENTS_HISTORY, params)
    ]
    return {"attendance": attendance, "points": points, "payments": payments}


def from_our_pages() -> bool:
    """Whether a form POST comes from a page of this site, by the headers browsers add and a
    page cannot set: Sec-Fetch-Site, else Origin (the check of Go's CrossOriginProtection).

    A request with neither header is not from a browser's cross-site form (browsers have
    sent one of them on every cross-origin POST since 2020), so it passes, like curl or a
    test client. See bench/README.md for why the stranger's unlock form uses this instead of
    a CSRF token in the session.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {request.host, urlsplit(current_app.config["PUBLIC_BASE_URL"]).netloc}
    return urlsplit(origin).netloc in ours  # "null" (an opaque origin) is never ours


@bp.route("/c/<token>/unlock", methods=["POST"])
@csrf.exempt  # checked by from_our_pages: a stranger's card page makes no session
@limiter.limit("60 per minute")  # a meeting room shares one address; cards lock themselves
def unlock(token: str) -> Any:
    if not from_our_pages():
        raise CSRFError(_("This form was sent from another site."))
    s = db.session()
    try:
        card = resolve_card(s, key_ring(), token)
    except CardRefused:
        abort(404)
    known = card.member_id in unlocked_card_ids()
    outcome = try_pin(s, Actor("visitor"), card, current_app.config["SECRET_KEY"],
                      request.form.get("pin", ""), known_browser=known)  # fmt: skip
    if outcome.result == "unlocked":
        flash(_("Unlocked. This phone now shows your full card."), "notice")
        return _with_unlocked(redirect(url_for("scan.card_page", token=token), 303), card)
    if outcome.result == "no_pin":
        flash(_("No PIN was printed for this card yet; ask the organiser for a letter."), "error")
    elif outcome.result == "locked":
        flash(_("Too many wrong PINs: the PIN can be tried again at %(time)s. "
                "Your branch secretary or organiser can give you a new card letter.",
                time=_local_when(outcome.until)), "error")  # fmt: skip
    elif outcome.until is not None:
        flash(_("Wrong PIN. The next try is possible at %(time)s.",
                time=_local_when(outcome.until)), "error")  # fmt: skip
    else:
        flash(_("Wrong PIN."), "error")
    # 303 keeps the commit (a redirect is a success) so the failure count is saved.
    return redirect(url_for("scan.card_page", token=token), 303)


@bp.route("/c/<token>/checkin/<int:meeting_id>", methods=["POST"])
def self_checkin(token: str, meeting_id: int) -> Any:
    """The member checks in remotely, or an officer checks the member in from the card page."""
    s = db.session()
    try:
        card = resolve_card(s, key_ring(), token)
    except CardRefused:
        abort(404)
    viewer = _viewer(card)
    if viewer == "stranger":
        abort(403)
    officer = viewer == "officer"
    try:
        result = redeem(
            s, ring=key_ring(), meeting_id=meeting_id, code=token,
            via="manual" if officer else "remote",
            recorded_by=f"user:{current_user.username}" if officer else "member",
            scope_path=current_user.unit.path if officer else None,
            nonce=request.form.get("nonce") or None,
        )  # fmt: skip
    except (MeetingNotFound, ValueError):
        abort(404)
    # Already checked in is the outcome the member wanted: said plainly, not as an error.
    done = result.status == "ok" or result.reason == "already_checked_in"
    flash(result.message, "notice" if done else "error")
    return redirect(url_for("scan.card_page", token=token), 303)


@bp.route("/c/<token>/card.<fmt>")
def card_image(token: str, fmt: str) -> Any:
    """The card's code as an image, to save in the phone's photo album."""
    if fmt not in ("svg", "png"):
        abort(404)
    try:
        card = resolve_card(db.session(), key_ring(), token)
    except CardRefused:
        abort(404)
    # Read, encode, then keep the code in a short write of its own: no lock held meanwhile.
    matrix = kept_code(card, current_app.config["PUBLIC_BASE_URL"])
    if fmt == "svg":
        return Response(to_svg(matrix), mimetype="image/svg+xml")
    if fmt == "png":
        name = f"card-{card.member.number}.png"
        return Response(to_png(matrix, scale=12), mimetype="image/png",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})  # fmt: skip
    abort(404)


@bp.route("/scan/meetings/<int:meeting_id>")
def scanner(meeting_id: int) -> Any:
    """The scanner of one meeting, for an officer's session or a paired device.

    Without a session (a paired phone has none: its token is in the browser's storage) the
    page is the same shell for every meeting id: it says nothing about the meeting, and the
    script reads what the device may see through the API with its token.
    """
    meeting = None
    if current_user.is_authenticated:
        meeting = db.session().get(Meeting, meeting_id)
        if meeting is None or not can_see_unit(current_user, meeting.unit):
            abort(404)
    return render_template(
        "scan/scanner.html", meeting=meeting, mode="officer" if meeting else "device",
        api_base=f"/api/v1/meetings/{meeting_id}",
    )  # fmt: skip


@bp.route("/scan/pair")
def pair_page() -> Any:
    """Where a helper's phone types the pairing code (or scans the pairing QR)."""
    return render_template("scan/pair.html")


@bp.route("/scan/device")
def device_home() -> Any:
    """A paired phone's start page: the branch's open meetings, read with its token."""
    return render_template("scan/device.html")


@bp.route("/scan/sw.js")
def service_worker() -> Any:
    response = send_from_directory(bp.static_folder, "sw.js", mimetype="text/javascript")  # type: ignore[arg-type]
    response.headers["Service-Worker-Allowed"] = "/scan/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/meetings/<int:meeting_id>/screen")
@officer_required
def screen_code(meeting_id: int) -> Any:
    """A projector page: a QR code that changes every 15 seconds, signed with a short expiry."""
    meeting = db.session().get(Meeting, meeting_id)
    if meeting is None or not can_see_unit(current_user, meeting.unit):
        abort(404)
    token = sign_meeting(key_ring(), meeting.id, int(time.time()), meeting.screen_code_ttl)
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/m/" + token
    svg = to_svg(encode(url, error="m"), module_px=10)
    response = make_response(
        render_template(
            "scan/screen.html", meeting=meeting, svg=svg, refresh=SCREEN_ROTATION_SECONDS
        )  # fmt: skip
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/m/<token>")
def screen_checkin(token: str) -> Any:
    """A member's phone scanned the meeting's on-screen code: check in the remembered card.

    A GET, because a phone's camera opens the code's URL; it writes only with the card
    remembered on this phone (a cookie that link previews do not have).
    """
    s = db.session()
    db.begin_write(s)  # a room full of phones arrives at once
    now = int(time.time())
    try:
        claim = verify_meeting(key_ring(), token, now, ttl_seconds=24 * 3600)
    except TokenError:
        return render_template("scan/screen_result.html", state="not_ours"), 404
    meeting = s.get(Meeting, claim.meeting_id)
    if meeting is None:
        abort(404)
    if now - claim.issued_at > meeting.screen_code_ttl:
        return render_template("scan/screen_result.html", state="expired", meeting=meeting), 410
    card_token = remembered_token()
    if card_token is None:
        return render_template("scan/screen_result.html", state="need_card", meeting=meeting)
    try:
        result = redeem(
            s, ring=key_ring(), meeting_id=meeting.id, code=card_token, via="screen_code",
            recorded_by="member",
        )  # fmt: skip
    except MeetingNotFound:
        abort(404)
    return render_template(
        "scan/screen_result.html", state="result", result=result, meeting=meeting,
        card_path=card_url("", card_token),
    )  # fmt: skip
