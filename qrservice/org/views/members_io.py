"""Member lists in and out, for organisers: upload, dry run, apply; export as CSV or XLSX.

An upload is checked in full and shown as a report before anything is written; the dry run
only reads, without the write lock. The upload itself is never kept: what "Apply" needs is
kept instead, the checked rows with every ID number already replaced by its keyed hash, under
``<instance>/imports/<token>.checked.json`` (owner-only), until it is applied or expires.
Expired and abandoned files are swept every few minutes by whichever request comes.

"Apply" plans again, read-only and outside the write lock, against the records as they are
now, then writes in one short transaction (all the rows or none); if a member of the file
changed in between, it plans again.
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
from sqlalchemy.exc import OperationalError

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import field_names
from qrservice.org import members_io
from qrservice.org.accounts import organiser_required
from qrservice.org.members_io import (
    CheckedImport,
    ImportFileError,
    ImportRejected,
    ImportReport,
    ImportStale,
    RowError,
)
from qrservice.web import send_export

bp = Blueprint("members_io", __name__)

#: Tokens are secrets.token_urlsafe(24): 32 characters of this alphabet, nothing else.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
#: A checked upload not applied within this many seconds is thrown away.
UPLOAD_TTL = 2 * 3600
#: Stale files are swept at most this often per process, on any request.
SWEEP_EVERY = 300
#: How a kept checked upload is named; anything else in the folder is swept at once.
CHECKED_SUFFIX = ".checked.json"
#: Times "Apply" plans again when the members changed between its plan and its write.
APPLY_ATTEMPTS = 3
#: A report shows at most this many rows of each table; the counts are always complete.
SHOWN = 500


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
    labels = field_names()
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


def _store_checked(checked: CheckedImport, filename: str) -> str:
    """Keep what "Apply" needs: the checked rows (ID numbers as hashes), who, where, when."""
    token = secrets.token_urlsafe(24)
    meta = {
        "user_id": current_user.id,
        "unit_id": current_user.unit.id,
        "filename": filename,
        "at": int(time.time()),
    }
    document = json.dumps({"meta": meta, "checked": checked.to_dict()}, ensure_ascii=False)
    _write_private(_imports_dir() / f"{token}{CHECKED_SUFFIX}", document.encode())
    return token


def _claim(token: str) -> tuple[Path, CheckedImport, str] | None:
    """Take this user's checked upload out of the store: (claim file, rows, file name).

    Renaming first makes taking atomic: of two "Apply" clicks, only one gets the file. The
    claim is deleted once applied, or put back (``_unclaim``) if the apply fails.
    """
    if not TOKEN_RE.match(token):
        return None
    folder = _imports_dir()
    path = folder / f"{token}{CHECKED_SUFFIX}"
    claim = folder / f"{token}.{secrets.token_hex(4)}.claimed"
    try:
        path.rename(claim)
    except OSError:
        return None
    try:
        document = json.loads(claim.read_text())
        meta = document["meta"]
        mine = (meta.get("user_id"), meta.get("unit_id")) == (current_user.id, current_user.unit.id)
        fresh = time.time() - meta.get("at", 0) <= UPLOAD_TTL
        if mine and fresh:
            checked = CheckedImport.from_dict(document["checked"])
            return claim, checked, str(meta.get("filename", ""))
    except (OSError, ValueError, KeyError, TypeError):
        claim.unlink(missing_ok=True)  # unreadable: of no use to anyone
        return None
    if mine:
        claim.unlink(missing_ok=True)  # expired
    else:
        _unclaim(claim, token)  # someone else's: leave it to them
    return None


def _unclaim(claim: Path, token: str) -> None:
    try:
        claim.rename(claim.parent / f"{token}{CHECKED_SUFFIX}")
    except OSError:
        claim.unlink(missing_ok=True)


def sweep_imports(folder: Path, now: float | None = None) -> int:
    """Delete expired checked uploads, claims left by a crash, and anything else in the folder
    at once (uploads kept in full by earlier versions held ID numbers in clear)."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.iterdir():
        try:
            kept = path.name.endswith((CHECKED_SUFFIX, ".claimed"))
            if not kept or path.stat().st_mtime < now - UPLOAD_TTL:
                path.unlink()
                removed += 1
        except OSError:
            pass  # another process removed it first
    return removed


_last_sweep: dict[str, float] = {}


@bp.before_app_request
def _sweep_now_and_then() -> None:
    """Sweep on some request every SWEEP_EVERY seconds, so that abandoned uploads go even when
    nobody uploads again. Costs a clock read on other requests, and never a database query."""
    now = time.monotonic()
    folder = Path(current_app.instance_path) / "imports"
    if now - _last_sweep.get(str(folder), -SWEEP_EVERY) < SWEEP_EVERY:
        return
    _last_sweep[str(folder)] = now
    if folder.is_dir():
        sweep_imports(folder)


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
    key = current_app.config["ID_HASH_KEY"]
    try:
        rows = members_io.read_table(upload.read(), filename, current_app.config["IMPORT_MAX_ROWS"])
    except ImportFileError as exc:
        return _report_page(filename, problem=exc.message, errors=exc.errors)
    # A dry run only reads: a session of its own, never the request's writer (a POST).
    with db.new_session() as s:
        checked = members_io.check_rows(s, rows, key)
        plan = members_io.plan_checked(s, current_user.unit, checked, key)
    token = None
    if plan.report.ok and plan.changes:
        token = _store_checked(checked, filename)
    return _report_page(filename, plan.report, token=token)


@bp.route("/members/import/<token>/apply", methods=["POST"])
@organiser_required
def apply_import(token: str) -> Any:
    claimed = _claim(token)
    if claimed is None:
        flash(_("This upload has expired or was already applied; upload the file again."), "error")
        return redirect(url_for(".import_members"))
    claim, checked, filename = claimed
    try:
        outcome = _apply_checked(checked, filename)
    except BaseException:
        _unclaim(claim, token)  # nothing was written: the same upload can be applied again
        raise
    if not isinstance(outcome, ImportReport):
        _unclaim(claim, token)
        return outcome
    claim.unlink(missing_ok=True)
    flash(
        _(
            "Import applied: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            created=len(outcome.created),
            updated=len(outcome.updated),
            unchanged=outcome.unchanged,
        ),
        "notice",
    )
    return redirect(url_for("members.index"))


def _apply_checked(checked: CheckedImport, filename: str) -> Any:
    """Plan outside the write lock, then write briefly; the committed report, or a page."""
    key = current_app.config["ID_HASH_KEY"]
    for _attempt in range(APPLY_ATTEMPTS):
        with db.new_session() as reader:
            plan = members_io.plan_checked(reader, current_user.unit, checked, key)
        if not plan.report.ok:
            # The records changed since the dry run; show what stands in the way now.
            return _report_page(filename, plan.report)
        s = db.session()  # a POST: its first use takes the write lock
        if not s.in_transaction():
            db.begin_write(s)
        try:
            report = members_io.write_plan(s, Actor.of(current_user), plan)
            # Committed here, not after the response: the kept rows are deleted only once
            # the members are saved, and put back if the commit fails.
            s.commit()
            return report
        except ImportStale:
            s.rollback()  # lets the lock go: plan again outside it
        except ImportRejected as exc:
            return _report_page(filename, exc.report)
        except OperationalError:
            s.rollback()
            raise
    flash(_("Members of this file changed while it was being applied; apply it again."), "error")
    return redirect(url_for(".import_members"))


@bp.route("/members/export.<any(csv, xlsx):fmt>")
@organiser_required
def export_members(fmt: str) -> Any:
    lang = "zh" if str(get_locale()).startswith("zh") else "en"
    data = members_io.export_members(db.session(), current_user.unit, fmt, lang)
    # Personal data leaving the system is part of the trace too.
    return send_export(
        data, fmt, f"members-{date.today():%Y%m%d}.{fmt}", "member.export",
        current_user.unit, {"format": fmt},
    )  # fmt: skip
