"""Dues payments in from CSV or XLSX (bank and WeChat transfer lists), and a branch's dues list
out.

An import is all-or-nothing, like the member import (``qrservice.org.members_io``): the file is
read (``read_payments``, bounded like a member list), every row is checked against the
database read-only (``plan_payments``: a dry run), and only a file without a single problem is
written (``apply_payments``), in one short transaction with one audit event. Problems are named
by spreadsheet row and by the column as the file wrote it. A member number outside the
importer's units reads exactly like an unknown one, so that an import tells nothing about other
branches. Rows are checked in file order: two rows for the same months of one member may
together pay no more than those months owe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from qrservice.audit import Actor, record
from qrservice.life.dues import (
    DuesError,
    DuesStatus,
    PaymentFields,
    above_owed_message,
    clean_payment,
    dues_statuses,
    facts_of,
    ledger_from,
    org_dues_start,
    receipt_taken_message,
    yuan,
)
from qrservice.life.dues_settled import refresh_settled
from qrservice.models import DuesPayment, Member, Unit
from qrservice.org.members_io import ROW, Column, RowError, read_table
from qrservice.tables import table_bytes
from qrservice.timeutil import add_months, local_today, month_start, month_text, utcnow

#: Rows of one payments file: a month's transfer list of a large committee fits.
MAX_ROWS = 2000

#: The columns of a payments file (header in Chinese; the English header is the field name).
PAYMENT_COLUMNS = (
    Column("number", "党员编号", aliases=("编号", "member", "member_number")),
    Column("amount", "金额", aliases=("金额(元)", "金额（元）", "amount_yuan", "yuan")),
    Column("first_month", "起始月份", aliases=("起始月", "first", "from")),
    Column("months", "月数", required=False),
    Column("method", "方式", required=False, aliases=("缴费方式", "支付方式")),
    Column("receipt_no", "收据号", aliases=("流水号", "收据编号", "交易单号", "receipt")),
    Column("paid_on", "缴费日期", aliases=("日期", "date")),
    Column("note", "备注", required=False),
)


def _header_key(header: str) -> str:
    return "".join(header.split()).replace("_", "").casefold()


_FIELD_BY_HEADER = {
    _header_key(name): column.field
    for column in PAYMENT_COLUMNS
    for name in (column.field, column.zh, *column.aliases)
}


def header_errors(header: list[str]) -> list[RowError]:
    """Unknown, repeated and missing columns of a payments file, each as an error in row 1."""
    errors = []
    seen: dict[str, str] = {}
    for name in header:
        if not name:
            continue
        found = _FIELD_BY_HEADER.get(_header_key(name))
        if found is None:
            errors.append(RowError(1, name, _("unknown column")))
        elif found in seen:
            errors.append(RowError(1, name, _("the same column as %(other)s", other=seen[found])))
        else:
            seen[found] = name
    for column in PAYMENT_COLUMNS:
        if column.required and column.field not in seen:
            errors.append(RowError(1, f"{column.zh} ({column.field})", _("missing column")))
    return errors


def read_payments(data: bytes, filename: str, max_rows: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The rows of a payments file keyed by the headers as written (``ROW``: the spreadsheet
    row). Raises members_io.ImportFileError for a file that cannot be read as one."""
    return read_table(data, filename, max_rows=max_rows, header_errors=header_errors)


@dataclass(frozen=True)
class PaymentRow:
    """One good row: the member it pays for and the payment."""

    row: int
    member_id: int
    number: str
    name: str
    payment: PaymentFields


@dataclass
class PaymentsReport:
    """What an import did, or would do."""

    total: int = 0
    rows: list[PaymentRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def amount_fen(self) -> int:
        return sum(r.payment.amount_fen for r in self.rows)

    def canonical_rows(self) -> list[dict[str, Any]]:
        """The good rows as plain values under the English headers: what "Apply" sends back
        (checked again in full before anything is written)."""
        return [
            {
                ROW: r.row,
                "number": r.number,
                "amount": yuan(r.payment.amount_fen),
                "first_month": month_text(r.payment.first_month),
                "months": r.payment.months,
                "method": r.payment.method,
                "receipt_no": r.payment.receipt_no,
                "paid_on": r.payment.paid_on.isoformat(),
                "note": r.payment.note or "",
            }
            for r in self.rows
        ]


class PaymentsRejected(ValueError):
    """An import refused for the errors in ``report``; nothing was written."""

    def __init__(self, report: PaymentsReport) -> None:
        super().__init__(f"import refused: {len(report.errors)} error(s)")
        self.report = report


def _in_scope(scope: Unit) -> Any:
    return Member.unit_id.in_(
        select(Unit.id).where(Unit.path.startswith(scope.path, autoescape=True))
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _plan(
    s: Session, scope: Unit, rows: list[dict[str, Any]], today: date, lock: bool
) -> PaymentsReport:
    report = PaymentsReport(total=len(rows))
    headers = list(dict.fromkeys(k for row in rows for k in row if k != ROW))
    report.errors = header_errors(headers)
    if report.errors:
        return report
    column = {_FIELD_BY_HEADER[_header_key(h)]: h for h in headers}

    def raw_of(row: dict[str, Any]) -> dict[str, Any]:
        return {name: row.get(header) for name, header in column.items()}

    raws = [(row.get(ROW, i + 2), raw_of(row)) for i, row in enumerate(rows)]
    numbers = sorted({_cell_text(raw.get("number")) for _row, raw in raws} - {""})
    query = select(Member.id, Member.number, Member.name).where(
        Member.number.in_(numbers), _in_scope(scope)
    )
    if lock:
        # Two imports (or an import and a payment) for the same months wait for each other.
        query = query.with_for_update(of=Member)
    members = {m.number: m for m in s.execute(query)} if numbers else {}
    receipts = sorted({_cell_text(raw.get("receipt_no")) for _row, raw in raws} - {""})
    taken = set(
        s.scalars(select(DuesPayment.receipt_no).where(DuesPayment.receipt_no.in_(receipts)))
        if receipts
        else []
    )
    org_start = org_dues_start(s)
    ledgers = {
        member_id: ledger_from(facts, org_start)
        for member_id, facts in facts_of(s, [m.id for m in members.values()]).items()
    }
    first_row_of_receipt: dict[str, int] = {}

    def error(row: int, name: str, message: str) -> None:
        report.errors.append(RowError(row, column.get(name, name), message))

    for row, raw in raws:
        bad = len(report.errors)
        number = _cell_text(raw.get("number"))
        member = members.get(number)
        if not number:
            error(row, "number", _("required"))
        elif member is None:
            # The same words for a number unknown and one outside the importer's units.
            error(row, "number", _("no member with number %(number)s in your units", number=number))
        try:
            payment: PaymentFields | None = clean_payment(raw, today, default_method="transfer")
        except DuesError as exc:
            for name, message in exc.errors.items():
                error(row, name, message)
            payment = None
        receipt = _cell_text(raw.get("receipt_no"))
        if receipt:
            if receipt in first_row_of_receipt:
                error(row, "receipt_no", _("the same receipt number as row %(row)d",
                                           row=first_row_of_receipt[receipt]))  # fmt: skip
            else:
                first_row_of_receipt[receipt] = row
                if receipt in taken:
                    error(row, "receipt_no", receipt_taken_message())
        if len(report.errors) > bad or payment is None or member is None:
            continue
        ledger = ledgers[member.id]
        still = ledger.still_owed(payment.first_month, payment.months)
        if still is not None and payment.amount_fen > still:
            error(row, "amount", above_owed_message(still))
            continue
        ledger.allocate(payment.first_month, payment.months, payment.amount_fen)
        report.rows.append(PaymentRow(row, member.id, member.number, member.name, payment))
    order = {header: i for i, header in enumerate(headers)}  # each row's problems by column
    report.errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
    if report.errors:
        report.rows = []
    return report


def plan_payments(
    s: Session, scope: Unit, rows: list[dict[str, Any]], today: date | None = None
) -> PaymentsReport:
    """What importing ``rows`` (``read_payments``'s) into ``scope`` would record; writes
    nothing."""
    return _plan(s, scope, rows, today or local_today(), lock=False)


def apply_payments(
    s: Session,
    actor: Actor,
    scope: Unit,
    rows: list[dict[str, Any]],
    today: date | None = None,
) -> PaymentsReport:
    """Record every payment of ``rows``, or none: raises PaymentsRejected, writing nothing, on
    any problem. One audit event (dues.import) with the counts. Adds and flushes; the caller
    commits."""
    report = _plan(s, scope, rows, today or local_today(), lock=True)
    if not report.ok:
        raise PaymentsRejected(report)
    now = utcnow()
    payments = [
        DuesPayment(
            member_id=r.member_id,
            first_month=r.payment.first_month,
            months=r.payment.months,
            amount_fen=r.payment.amount_fen,
            method=r.payment.method,
            receipt_no=r.payment.receipt_no,
            paid_on=r.payment.paid_on,
            note=r.payment.note,
            recorded_by=actor.label,
            recorded_at=now,
        )  # fmt: skip
        for r in report.rows
    ]
    try:
        with s.begin_nested():
            s.add_all(payments)
            s.flush()
    except IntegrityError as exc:
        if "receipt_no" not in str(exc.orig):
            raise
        # Another writer recorded one of these receipt numbers since the check (PostgreSQL).
        report.errors.append(
            RowError(0, "receipt_no", _("a receipt number of this file was recorded meanwhile; "
                                        "check the file again"))
        )  # fmt: skip
        report.rows = []
        raise PaymentsRejected(report) from None
    refresh_settled(s, [p.member_id for p in payments])
    after: dict[str, Any] = {
        "rows": report.total, "payments": len(payments), "amount_fen": report.amount_fen,
    }  # fmt: skip
    record(s, actor, "dues.import", "unit", scope.id, after=after)
    s.flush()
    return report


# A branch's dues list


@dataclass(frozen=True)
class DuesListRow:
    member: Member
    status: DuesStatus


@dataclass
class DuesList:
    """Every active member of a unit's subtree with where they stand in ``month``."""

    unit: Unit
    month: date
    rows: list[DuesListRow]
    #: What payments recorded as paid in the month brought in, in fen (voided ones left out).
    collected_fen: int
    #: What the members' arrears still owe, in fen.
    owed_fen: int
    arrears_only: bool = False

    @property
    def in_arrears(self) -> int:
        return sum(1 for r in self.rows if r.status.arrears_months)


def dues_list(s: Session, unit: Unit, month: date, arrears_only: bool = False) -> DuesList:
    """The unit's dues list as of ``month`` (its months before are the arrears); a fixed
    number of statements whatever the number of members."""
    month = month_start(month)
    members = list(
        s.scalars(
            select(Member)
            .options(selectinload(Member.unit))
            .where(_in_scope(unit), Member.active.is_(True))
            .order_by(Member.number)
        )
    )  # fmt: skip
    today = local_today()
    as_of = today if month_start(today) == month else month
    statuses = dues_statuses(s, [m.id for m in members], as_of)
    ids = [m.id for m in members]
    collected = 0
    if ids:
        collected = sum(
            s.scalars(
                select(DuesPayment.amount_fen).where(
                    DuesPayment.member_id.in_(ids),
                    DuesPayment.voided_at.is_(None),
                    DuesPayment.paid_on >= month,
                    DuesPayment.paid_on < add_months(month, 1),
                )
            )
        )
    rows = [DuesListRow(m, statuses[m.id]) for m in members]
    owed = sum(r.status.owed_fen for r in rows)
    if arrears_only:
        rows = [r for r in rows if r.status.arrears_months]
    return DuesList(unit, month, rows, collected, owed, arrears_only)


def state_names() -> dict[str, str]:
    """A month's state as the reader reads it."""
    return {
        "paid": _("paid"),
        "partial": _("partly paid"),
        "unpaid": _("unpaid"),
        "exempt": _("exempt"),
        "not_owed": _("not owed"),
    }


def _amount(fen: int | None) -> Decimal | None:
    """Yuan as a number with two decimals: a number cell in XLSX, "12.50" in CSV."""
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def export_dues_list(listing: DuesList, fmt: str, lang: str = "zh") -> bytes:
    """The list as CSV or XLSX; amounts in yuan; text a spreadsheet would run is neutralised."""
    if lang == "zh":
        headers = ["党员编号", "姓名", "所在单位", "月缴党费(元)", "缴至", "欠缴月数",
                   "欠缴金额(元)", "本月状态"]  # fmt: skip
        states = {"paid": "已缴", "partial": "部分缴纳", "unpaid": "未缴", "exempt": "免交",
                  "not_owed": "不需缴纳"}  # fmt: skip
    else:
        headers = ["number", "name", "unit", "monthly_yuan", "paid_through", "arrears_months",
                   "owed_yuan", "this_month"]  # fmt: skip
        states = {k: k for k in ("paid", "partial", "unpaid", "exempt", "not_owed")}
    rows = [
        [
            r.member.number,
            r.member.name,
            r.member.unit.code,
            _amount(r.status.monthly_fen),
            month_text(r.status.paid_through),
            r.status.arrears_months,
            _amount(r.status.owed_fen),
            states.get(r.status.this_month_state, r.status.this_month_state),
        ]
        for r in listing.rows
    ]
    return table_bytes(headers, rows, fmt, "dues")
