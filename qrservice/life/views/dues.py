"""Dues pages: a member's amounts, exemptions and payments; a branch's dues list with its
export; payments imported from a bank or WeChat transfer list.

A member's page and a unit's list are for the officers whose scope holds them (the branch's
secretary, the organisers above); anyone else gets 404. Every change goes through the rules
in qrservice/life/dues.py; a refused form is shown again with its errors by field (422, and the
request rolls back). Voids ask for confirmation first.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import months_from
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life import dues_io
from qrservice.life.dues import (
    MAX_MONTHS,
    DuesError,
    add_exemption,
    clean_payment,
    dues_months,
    end_exemption,
    first_unpaid_month,
    member_ledger,
    parse_yuan,
    record_payment,
    set_dues_rate,
    status_of,
    void_exemption,
    void_payment,
    yuan,
)
from qrservice.models import DuesExemption, DuesPayment, DuesRate, Member, Unit
from qrservice.org.accounts import can_see_member, officer_required, unit_or_404
from qrservice.org.issuance import branch_of
from qrservice.org.members_io import ROW, ImportFileError, RowError
from qrservice.timeutil import (
    add_months,
    local_today,
    month_start,
    month_text,
    months_between,
    parse_month,
)
from qrservice.web import send_export

bp = Blueprint("dues", __name__, url_prefix="/dues")

#: A dues list or an import shows at most this many rows of problems.
SHOWN = 500


@bp.app_template_filter("dues_yuan")
def yuan_filter(fen: int | None) -> str:
    return yuan(fen) if fen is not None else "—"


@bp.app_template_filter("dues_month")
def month_filter(d: date | None) -> str:
    return month_text(d) if d else "—"


def state_names() -> dict[str, str]:
    return dues_io.state_names()


def method_names() -> dict[str, str]:
    return {"cash": _("cash"), "transfer": _("bank transfer"), "online": _("online (WeChat)")}


def _member_or_404(member_id: int) -> Member:
    member = db.session().get(Member, member_id)
    if member is None or not can_see_member(current_user, member):
        abort(404)
    return member


def _int_arg(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def _pay_prefill(ledger: Any, today: date) -> dict[str, str]:
    """The record-payment form as first shown: from the first unpaid month, for the months up
    to this one (or those asked for by ?first=&months=), for what they still owe."""
    this_month = month_start(today)
    try:
        first = parse_month(request.args["first"]) if request.args.get("first") else None
    except ValueError:
        first = None
    first = first or first_unpaid_month(ledger, today)
    months = _int_arg(request.args.get("months"))
    if months is None or not 1 <= months <= MAX_MONTHS:
        months = max(1, min(MAX_MONTHS, months_between(first, this_month) + 1))
    owed = ledger.still_owed(first, months)
    return {
        "first_month": month_text(first),
        "months": str(months),
        "amount": yuan(owed) if owed else "",
        "method": "cash",
        "paid_on": today.isoformat(),
    }


def _member_page(
    member: Member, errors: dict[str, dict[str, str]] | None = None, form: str | None = None
) -> Any:
    """The member's dues page; a refused form (``form``) is shown again with its errors."""
    s = db.session()
    today = local_today()
    ledger = member_ledger(s, member)
    status = status_of(ledger, today)
    rates = s.scalars(
        select(DuesRate)
        .where(DuesRate.member_id == member.id)
        .order_by(DuesRate.effective_from.desc())
    ).all()
    exemptions = s.scalars(
        select(DuesExemption)
        .where(DuesExemption.member_id == member.id)
        .order_by(DuesExemption.first_month.desc(), DuesExemption.id.desc())
    ).all()
    payments = s.scalars(
        select(DuesPayment)
        .where(DuesPayment.member_id == member.id)
        .order_by(DuesPayment.id.desc())
    ).all()
    forms: dict[str, MultiDict[str, str] | dict[str, str]] = {
        "rate": {"effective_from": month_text(month_start(today))},
        "exempt": {"first_month": month_text(month_start(today))},
        "pay": _pay_prefill(ledger, today),
    }
    if form is not None:
        forms[form] = request.form
    page = render_template(
        "dues/member.html",
        member=member,
        branch=branch_of(member.unit),
        status=status,
        months=dues_months(ledger, today),
        rates=rates,
        exemptions=exemptions,
        payments=payments,
        forms=forms,
        errors=errors or {},
        states=state_names(),
        methods=method_names(),
        this_month=month_start(today),
        max_months=MAX_MONTHS,
        months_from=months_from,
    )
    return page, 422 if errors else 200


def _back(member: Member) -> Any:
    return redirect(url_for(".member", member_id=member.id) + "#top", code=303)


@bp.route("/members/<int:member_id>")
@officer_required
def member(member_id: int) -> Any:
    return _member_page(_member_or_404(member_id))


def _month_field(name: str, errors: dict[str, str], required: bool = True) -> date | None:
    text = request.form.get(name, "").strip()
    if not text:
        if required:
            errors[name] = _("required")
        return None
    try:
        return parse_month(text)
    except ValueError as exc:
        errors[name] = str(exc)
        return None


@bp.route("/members/<int:member_id>/rates", methods=["POST"])
@officer_required
def set_rate(member_id: int) -> Any:
    member = _member_or_404(member_id)
    errors: dict[str, str] = {}
    month = _month_field("effective_from", errors)
    amount = None
    try:
        amount = parse_yuan(request.form.get("amount", ""))
    except ValueError as exc:
        errors["amount"] = str(exc) if request.form.get("amount", "").strip() else _("required")
    try:
        if errors:
            raise DuesError(errors)
        assert month is not None and amount is not None
        set_dues_rate(db.session(), Actor.of(current_user), member, month, amount)
    except DuesError as exc:
        return _member_page(member, {"rate": exc.errors}, "rate")
    flash(_("Monthly dues of %(amount)s yuan from %(month)s saved.", amount=yuan(amount),
            month=month_text(month)), "notice")  # fmt: skip
    return _back(member)


@bp.route("/members/<int:member_id>/exemptions", methods=["POST"], endpoint="exempt")
@officer_required
def add_exemption_(member_id: int) -> Any:
    member = _member_or_404(member_id)
    errors: dict[str, str] = {}
    first = _month_field("first_month", errors)
    last = _month_field("last_month", errors, required=False)
    try:
        if errors:
            raise DuesError(errors)
        assert first is not None
        add_exemption(db.session(), Actor.of(current_user), member, first, last,
                      request.form.get("reason", ""))  # fmt: skip
    except DuesError as exc:
        return _member_page(member, {"exempt": exc.errors}, "exempt")
    flash(_("Exemption recorded."), "notice")
    return _back(member)


def _exemption_or_404(exemption_id: int) -> tuple[DuesExemption, Member]:
    s = db.session()
    exemption = s.get(DuesExemption, exemption_id)
    if exemption is None:
        abort(404)
    return exemption, _member_or_404(exemption.member_id)


@bp.route("/exemptions/<int:exemption_id>/end", methods=["POST"], endpoint="end_exemption")
@officer_required
def end_exemption_(exemption_id: int) -> Any:
    exemption, member = _exemption_or_404(exemption_id)
    errors: dict[str, str] = {}
    last = _month_field("last_month", errors)
    try:
        if errors:
            raise DuesError(errors)
        assert last is not None
        end_exemption(db.session(), Actor.of(current_user), exemption, last)
    except DuesError as exc:
        return _member_page(member, {f"end-{exemption.id}": exc.errors}, f"end-{exemption.id}")
    flash(_("Exemption ends with %(month)s; the month after is owed again.",
            month=month_text(last)), "notice")  # fmt: skip
    return _back(member)


@bp.route("/exemptions/<int:exemption_id>/void", methods=["POST"], endpoint="void_exemption")
@officer_required
def void_exemption_(exemption_id: int) -> Any:
    exemption, member = _exemption_or_404(exemption_id)
    reason = request.form.get("reason", "")
    key = f"void-exemption-{exemption.id}"
    if exemption.voided_at is not None or not reason.strip():
        try:
            void_exemption(db.session(), Actor.of(current_user), exemption, reason)
        except DuesError as exc:
            return _member_page(member, {key: exc.errors}, key)
    if not confirmed():
        span = month_text(exemption.first_month) + (
            f" – {month_text(exemption.last_month)}" if exemption.last_month else ""
        )
        return ask_to_confirm(
            _("Void the exemption %(span)s of %(name)s?", span=span, name=member.name),
            [
                _("Its months are owed again as if it had never been recorded; those before "
                  "this month become arrears unless paid."),
                _("It stays listed as voided, with your reason: %(reason)s", reason=reason),
            ],
            _("Void the exemption"),
            url_for(".member", member_id=member.id),
        )  # fmt: skip
    void_exemption(db.session(), Actor.of(current_user), exemption, reason)
    flash(_("Exemption voided."), "notice")
    return _back(member)


@bp.route("/members/<int:member_id>/payments", methods=["POST"])
@officer_required
def pay(member_id: int) -> Any:
    member = _member_or_404(member_id)
    try:
        fields = clean_payment(request.form.to_dict())
        record_payment(db.session(), Actor.of(current_user), member, **fields.as_kwargs())
    except DuesError as exc:
        return _member_page(member, {"pay": exc.errors}, "pay")
    flash(_("Payment of %(amount)s yuan recorded, receipt %(receipt)s.",
            amount=yuan(fields.amount_fen), receipt=fields.receipt_no), "notice")  # fmt: skip
    return _back(member)


@bp.route("/payments/<int:payment_id>/void", methods=["POST"], endpoint="void_payment")
@officer_required
def void_payment_(payment_id: int) -> Any:
    s = db.session()
    payment = s.get(DuesPayment, payment_id)
    if payment is None:
        abort(404)
    member = _member_or_404(payment.member_id)
    reason = request.form.get("reason", "")
    key = f"void-payment-{payment.id}"
    if payment.voided_at is not None or not reason.strip():
        try:
            void_payment(s, Actor.of(current_user), payment, reason)
        except DuesError as exc:
            return _member_page(member, {key: exc.errors}, key)
    if not confirmed():
        return ask_to_confirm(
            _("Void the payment with receipt %(receipt)s?", receipt=payment.receipt_no),
            [
                _("%(amount)s yuan for %(name)s counts for nothing any more: the months it "
                  "paid are owed again.", amount=yuan(payment.amount_fen), name=member.name),
                _("The payment stays listed as voided, and its receipt number cannot be used "
                  "again."),
                _("Your reason: %(reason)s", reason=reason),
            ],
            _("Void the payment"),
            url_for(".member", member_id=member.id),
        )  # fmt: skip
    void_payment(s, Actor.of(current_user), payment, reason)
    flash(_("Payment %(receipt)s voided.", receipt=payment.receipt_no), "notice")
    return _back(member)


# A unit's dues list


def _listing(unit: Unit) -> Any:
    """The unit's dues list for ?month= (default this month), or a 400 page naming the month."""
    text = request.args.get("month", "").strip()
    month = month_start(local_today())
    if text:
        try:
            month = parse_month(text)
        except ValueError as exc:
            return None, _bad_month(unit, str(exc))
        if not date(2000, 1, 1) <= month <= add_months(month_start(local_today()), 12):
            return None, _bad_month(unit, _("between 2000-01 and a year from now"))
    arrears_only = request.args.get("arrears") in ("1", "yes", "on")
    return dues_io.dues_list(db.session(), unit, month, arrears_only), None


def _bad_month(unit: Unit, message: str) -> Any:
    return render_template(
        "dues/bad_request.html", unit=unit, message=_("month: %(problem)s", problem=message)
    ), 400


@bp.route("/units/<int:unit_id>")
@officer_required
def unit_list(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    listing, refusal = _listing(unit)
    if refusal is not None:
        return refusal
    return render_template(
        "dues/unit.html", listing=listing, unit=unit, states=state_names(),
        previous=add_months(listing.month, -1), next=add_months(listing.month, 1),
        this_month=month_start(local_today()),
    )  # fmt: skip


@bp.route("/units/<int:unit_id>/export.<any(csv, xlsx):fmt>")
@officer_required
def unit_export(unit_id: int, fmt: str) -> Any:
    unit = unit_or_404(unit_id)
    listing, refusal = _listing(unit)
    if refusal is not None:
        return refusal
    lang = "zh" if str(get_locale()).startswith("zh") else "en"
    data = dues_io.export_dues_list(listing, fmt, lang)
    # Like the member export: a GET reads without the write lock; the audit row is a short
    # write of its own, committed before the data leaves.
    return send_export(
        data, fmt, f"dues-{unit.code}-{listing.month:%Y%m}.{fmt}", "dues.export", unit,
        {"format": fmt, "month": month_text(listing.month), "rows": len(listing.rows)},
    )  # fmt: skip


# Importing payments


def _import_page(
    filename: str = "",
    report: dues_io.PaymentsReport | None = None,
    problem: str | None = None,
    errors: list[RowError] | None = None,
    status: int = 200,
) -> Any:
    errors = report.errors if report is not None else (errors or [])
    rows_json = ""
    if report is not None and report.ok and report.rows:
        rows_json = json.dumps(report.canonical_rows(), ensure_ascii=False)
    failed = bool(problem or errors)
    page = render_template(
        "dues/import.html",
        filename=filename,
        report=report,
        problem=problem,
        errors=errors[:SHOWN],
        error_count=len(errors),
        rows_json=rows_json,
        columns=dues_io.PAYMENT_COLUMNS,
        methods=method_names(),
        scope=current_user.unit,
        max_rows=dues_io.MAX_ROWS,
    )
    # 422 also makes the request roll back: nothing of a refused file is kept.
    return page, 422 if failed else status


@bp.route("/import", methods=["GET", "POST"])
@officer_required
def import_payments() -> Any:
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file to import."), "error")
        return _import_page(status=400)
    filename = Path(upload.filename).name[:200]
    try:
        rows = dues_io.read_payments(upload.read(), filename)
    except ImportFileError as exc:
        return _import_page(filename, problem=exc.message, errors=exc.errors)
    # A dry run only reads: a session of its own, never the request's writer (a POST).
    with db.new_session() as s:
        report = dues_io.plan_payments(s, current_user.unit, rows)
    return _import_page(filename, report)


@bp.route("/import/apply", methods=["POST"])
@officer_required
def apply_import() -> Any:
    """Record the rows the dry run showed: sent back by the page, checked again in full."""
    filename = request.form.get("filename", "")[:200]
    try:
        rows = json.loads(request.form.get("rows", ""))
        if not isinstance(rows, list) or not rows or len(rows) > dues_io.MAX_ROWS:
            raise ValueError("no rows")
        if not all(isinstance(r, dict) and isinstance(r.get(ROW), int) for r in rows):
            raise ValueError("not rows")
    except ValueError:
        flash(_("Nothing to apply: upload the file again."), "error")
        return redirect(url_for(".import_payments"))
    try:
        report = dues_io.apply_payments(db.session(), Actor.of(current_user), current_user.unit,
                                        rows)  # fmt: skip
    except dues_io.PaymentsRejected as exc:
        return _import_page(filename, exc.report)
    flash(
        _("%(n)d payments recorded, %(amount)s yuan in all.", n=len(report.rows),
          amount=yuan(report.amount_fen)),
        "notice",
    )  # fmt: skip
    return redirect(url_for(".import_payments"), code=303)
