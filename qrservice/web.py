"""What every page shares: the blueprints registered, errors, language, headers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

from qrservice import db
from qrservice.audit import Actor, record
from qrservice.db import MAX_ID
from qrservice.i18n import LANGUAGE_NAMES
from qrservice.models import Unit
from qrservice.tables import MIMETYPES
from qrservice.timeutil import local_offset, local_time


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in this app: a whole number from 0 to the largest row id (MAX_ID)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    from qrservice.boards.views import boards, exports, reports, targets
    from qrservice.life.views import attendance, attention, dues, meetings, points, requests, trace
    from qrservice.org.organisation import cached_organisation_name
    from qrservice.org.views import (
        auth,
        cards,
        devices,
        members,
        members_io,
        setup,
        transfers,
        units,
        users,
    )
    from scan import api as scan_api
    from scan import views as scan_views

    # Every <int:...> of every blueprint is a row id: one converter bounds them all, so that a
    # number past what the database holds is a 404, never a driver's OverflowError.
    app.url_map.converters["int"] = RowIdConverter
    for module in (auth, setup, units, members, users, members_io, cards, meetings, attendance,
                   dues, attention, requests, points, transfers, trace, boards, targets, exports,
                   reports, devices, scan_views, scan_api):  # fmt: skip
        app.register_blueprint(module.bp)

    @app.template_filter("local")
    def _local(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A stored (UTC) time in the organisation's zone; nothing for no time."""
        return local_time(at).strftime(fmt) if at is not None else ""

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "languages": LANGUAGE_NAMES,
            "current_language": str(get_locale()),
            "org_name": cached_organisation_name(),
            "local_offset": local_offset(),
        }

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; media-src 'self' blob:; frame-ancestors 'none'",
        )
        response.vary.add("Cookie")
        return response

    @app.route("/healthz")
    def healthz() -> Any:
        """Liveness for load balancers; also the benchmarks' reference route."""
        return "ok", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)


def http_error_message(code: int) -> str:
    """What an HTTP error means for the person who met it, in their language (the scanner shows
    an API error's message as it is)."""
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("There is nothing here, or it is outside your units."),
        405: _("That action is not allowed here."),
        413: _("The file is too large."),
        429: _("Too many attempts. Wait a minute and try again."),
    }.get(code, _("Something went wrong on our side. Nothing was saved; try again."))


def _error_page(exc: Any) -> Any:
    code = getattr(exc, "code", 500) or 500
    if request.path.startswith("/api/"):
        message = http_error_message(code)
        return jsonify(status="error", reason=f"http_{code}", message=message), code
    return render_template("error.html", code=code), code


def _csrf_error(exc: CSRFError) -> Any:
    if request.path.startswith("/api/"):
        message = _("This page has expired: reload it and try again.")
        return jsonify(status="error", reason="csrf", message=message), 400
    return render_template("error.html", code=400, csrf=True), 400


#: What a download is, by its format: tables and the PDF reports.
DOWNLOAD_TYPES = {**MIMETYPES, "pdf": "application/pdf"}


def send_export(data: bytes, fmt: str, filename: str, action: str, unit: Unit,
                after: dict[str, Any]) -> Response:  # fmt: skip
    """A table or report leaving the service as a download, recorded in the trail first.

    The export was read without the write lock; the audit row is a short write of its own,
    committed before the data leaves (a read transaction turned writer would fail if a
    check-in committed meanwhile).
    """
    from flask_login import current_user

    with db.write_transaction() as w:
        record(w, Actor.of(current_user), action, "unit", unit.id, after=after)
    return Response(
        data,
        content_type=DOWNLOAD_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",
        },
    )
