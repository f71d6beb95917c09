"""Member lists in and out, for organisers: upload, dry run, apply; export as CSV or XLSX.

An upload is checked in full and shown as a report before anything is written. A clean file is
kept under ``<instance>/imports/<token>`` (owner-only) so that "Apply" writes exactly the bytes
that were checked, then it is deleted.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from .. import db, members_io
from ..accounts import organiser_required
from ..audit import Actor, record
from ..members_io import ImportFileError, ImportRejected, ImportReport, RowError

bp = Blueprint("members_io", __name__)

#: Tokens are secrets.token_urlsafe(24): 32 characters of this alphabet, nothing else.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
#: A checked upload not applied within this many seconds is thrown away.
UPLOAD_TTL = 24 * 3600
#: A report shows at most this many rows of each table; the counts are always complete.
SHOWN = 500
MIMETYPES = {"csv": "text/csv; charset=utf-8", "xlsx": members_io.XLSX_MIMETYPE}


def _field_labels() -> dict[str, str]:
    return {
        "number": _("Member number"),
        "name": _("Name"),
        "gender": _("Gender"),
        "phone": _("Phone"),
        "joined_on": _("Date joined"),
        "status": _("Status"),
        "unit": _("Home unit"),
        "floating": _("Floating member"),
        "floating_location": _("Where (city)"),
        "floating_since": _("Floating since"),
        "active": _("On the roll"),
        "national_id": _("ID number"),
    }


def _shown(value: Any) -> str:
    """A stored value as the report shows it."""
    if value is None or value == "":
        return "—"
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if isinstance(value, date):
        return value.isoformat()
    labels = {
        "male": _("Male"),
        "female": _("Female"),
        "full": _("Full member"),
        "probationary": _("Probationary member"),
        "(hidden)": _("(hidden)"),
        "(changed)": _("(changed)"),
    }
    return labels.get(str(value), str(value))


def _changes(report: ImportReport) -> list[dict[str, Any]]:
    labels = _field_labels()
    return [
        {
            "number": number,
            "name": report.names.get(number, ""),
            "fields": [
                (labels.get(field, field), _shown(before), _shown(after))
                for field, (before, after) in diff.items()
            ],
        }
        for number, diff in list(report.updated.items())[:SHOWN]
    ]


def _report_page(
    filename: str,
    report: ImportReport | None = None,
    problem: str | None = None,
    errors: list[RowError] | None = None,
    token: str | None = None,
) -> Any:
    errors = report.errors if report is not None else (errors or [])
    failed = bool(problem or errors)
    page = render_template(
        "members_io/report.html",
        filename=filename,
        report=report,
        problem=problem,
        errors=errors[:SHOWN],
        error_count=len(errors),
        changes=_changes(report) if report is not None else [],
        token=token,
        shown=SHOWN,
    )
    # 422 also makes the request roll back, so nothing from a refused file is kept.
    return page, 422 if failed else 200


# Checked uploads waiting for "Apply"


def _imports_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _store_upload(data: bytes, filename: str) -> str:
    folder = _imports_dir()
    _forget_stale(folder)
    token = secrets.token_urlsafe(24)
    meta = {"user_id": current_user.id, "filename": filename, "at": int(time.time())}
    _write_private(folder / token, data)
    _write_private(folder / f"{token}.json", json.dumps(meta).encode())
    return token


def _take_upload(token: str) -> tuple[bytes, str] | None:
    """The bytes and file name stored under ``token`` by this user, removed from the store.

    Renaming first makes taking atomic: of two "Apply" clicks, only one gets the file.
    """
    if not TOKEN_RE.match(token):
        return None
    folder = _imports_dir()
    meta_path, data_path = folder / f"{token}.json", folder / token
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != current_user.id:
        return None
    taken = folder / f"{token}.taken"
    try:
        data_path.rename(taken)
    except OSError:
        return None
    try:
        data = taken.read_bytes()
    finally:
        taken.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
    if time.time() - meta.get("at", 0) > UPLOAD_TTL:
        return None
    return data, str(meta.get("filename", ""))


def _forget_stale(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_TTL
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # another request removed it first


# Views


@bp.route("/members/import", methods=["GET", "POST"])
@organiser_required
def import_members() -> Any:
    if request.method == "GET":
        return render_template("members_io/import.html", columns=members_io.COLUMNS)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file to import."), "error")
        return render_template("members_io/import.html", columns=members_io.COLUMNS), 400
    filename = Path(upload.filename).name[:200]
    data = upload.read()
    try:
        rows = members_io.read_table(data, filename, current_app.config["IMPORT_MAX_ROWS"])
    except ImportFileError as exc:
        return _report_page(filename, problem=exc.message, errors=exc.errors)
    report = members_io.plan_import(
        db.session(), current_user.unit, rows, current_app.config["ID_HASH_KEY"]
    )
    token = None
    if report.ok and (report.created or report.updated):
        token = _store_upload(data, filename)
    return _report_page(filename, report, token=token)


@bp.route("/members/import/<token>/apply", methods=["POST"])
@organiser_required
def apply_import(token: str) -> Any:
    stored = _take_upload(token)
    if stored is None:
        flash(_("This upload has expired or was already applied; upload the file again."), "error")
        return redirect(url_for(".import_members"))
    data, filename = stored
    try:
        rows = members_io.read_table(data, filename, current_app.config["IMPORT_MAX_ROWS"])
        report = members_io.apply_import(
            db.session(),
            Actor.of(current_user),
            current_user.unit,
            rows,
            current_app.config["ID_HASH_KEY"],
        )
    except ImportFileError as exc:
        return _report_page(filename, problem=exc.message, errors=exc.errors)
    except ImportRejected as exc:
        # The records changed since the dry run; show what stands in the way now.
        return _report_page(filename, exc.report)
    flash(
        _(
            "Import applied: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            created=len(report.created),
            updated=len(report.updated),
            unchanged=report.unchanged,
        ),
        "notice",
    )
    return redirect(url_for("members.index"))


@bp.route("/members/export.<any(csv, xlsx):fmt>")
@organiser_required
def export_members(fmt: str) -> Any:
    lang = "zh" if str(get_locale()).startswith("zh") else "en"
    data = members_io.export_members(db.session(), current_user.unit, fmt, lang)
    # Personal data leaving the system is part of the trace too. A GET reads without the
    # write lock; the audit row is then a short write of its own, committed before the data
    # leaves (a read transaction turned writer would fail if a check-in committed meanwhile).
    with db.write_transaction() as w:
        record(
            w,
            Actor.of(current_user),
            "member.export",
            "unit",
            current_user.unit.id,
            after={"format": fmt},
        )
    filename = f"members-{date.today():%Y%m%d}.{fmt}"
    return Response(
        data,
        content_type=MIMETYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",
        },
    )
