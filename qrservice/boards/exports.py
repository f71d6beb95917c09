"""The tables the committee exports: roster, one meeting's attendance, attendance over a
period (members × meetings), the points and dues ledgers, the warnings list.

Each export is one function returning ``(headers, rows)`` for a scope unit; the file itself
is written by qrservice.tables (which neutralises text a spreadsheet would run as a formula).
Headers and the matrix's cells are spelled out in Chinese and English here, like the member
and dues lists' files (a file's columns are part of its format); other labels are the
interface's own. Every export reads a fixed number of statements, whatever its number of rows.
The roster is the member export's columns (qrservice.org.members_io) plus where the member
belongs and pays; the warnings list is the attention list's export (qrservice.life.attention).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qrservice.boards.figures import Rate
from qrservice.boards.periods import Period, PeriodError, parse_period
from qrservice.db import parse_id
from qrservice.life.attendance import attendance_lines, status_name
from qrservice.life.attention import AttentionFilter, attention_list
from qrservice.life.attention import export_headers as attention_headers
from qrservice.life.attention import export_row as attention_row
from qrservice.life.dues import dues_statuses
from qrservice.life.meetings import ATTENDED
from qrservice.life.points_ledger import source_names
from qrservice.models import (
    Attendance,
    DuesPayment,
    Meeting,
    Member,
    PointsEntry,
    Unit,
)
from qrservice.org.members_io import EXPORT_COLUMNS, _export_values
from qrservice.org.units import in_scope, in_subtree
from qrservice.timeutil import add_months, local_time

#: The exports, in the order the exports page lists them.
KINDS = ("roster", "attendance", "matrix", "points", "dues", "warnings")
FORMATS = ("csv", "xlsx")
LANGS = ("zh", "en")
#: Exports read over a period (2026-08, 2026-Q3, 2026).
PERIOD_KINDS = ("matrix", "points", "dues")

Table = tuple[list[str], list[list[Any]]]


def kind_name(kind: str) -> str:
    """An export's name as the reader reads it (the trail, the exports page)."""
    return {
        "roster": _("member roster"),
        "attendance": _("meeting's attendance"),
        "matrix": _("attendance over a period"),
        "points": _("points ledger"),
        "dues": _("dues ledger"),
        "warnings": _("warnings list"),
    }.get(kind, kind)


class ExportError(ValueError):
    """Parameters an export cannot use; ``errors`` maps each parameter to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _headers(lang: str, pairs: list[tuple[str, str]]) -> list[str]:
    return [zh if lang == "zh" else en for zh, en in pairs]


@contextmanager
def _language(lang: str) -> Iterator[None]:
    """The interface's labels (statuses, sources, methods) in the export's language."""
    if lang not in LANGS:
        raise ValueError(f"unknown export language {lang!r}")
    with force_locale(lang):
        yield


def _yuan(fen: int | None) -> Decimal | None:
    """Yuan as a number with two decimals: a number cell in XLSX, "12.50" in CSV."""
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _local_day(at: Any) -> date | None:
    return None if at is None else local_time(at).date()


def _local_minute(at: Any) -> str:
    return "" if at is None else f"{local_time(at):%Y-%m-%d %H:%M}"


def _branch_and_group(unit: Unit) -> tuple[str, str]:
    if unit.kind == "group":
        return (unit.parent.name if unit.parent else "", unit.name)
    if unit.kind == "branch":
        return (unit.name, "")
    return ("", "")


# The roster


_ROSTER_EXTRA = [
    ("所在支部", "branch"),
    ("所在党小组", "group"),
    ("活动所在支部", "host_unit"),
    ("月缴党费(元)", "monthly_dues_yuan"),
]


def roster(s: Session, scope: Unit, lang: str, today: date) -> Table:
    """Every active member of ``scope``'s subtree, by number: the member export's columns
    (never an ID number) plus branch, group, the branch hosting a floating member and the
    monthly dues. Five statements, whatever the number of members."""
    headers = [c.zh if lang == "zh" else c.field for c in EXPORT_COLUMNS]
    headers += _headers(lang, _ROSTER_EXTRA)
    members = list(
        s.scalars(
            select(Member)
            .join(Member.unit)
            .options(
                selectinload(Member.unit).selectinload(Unit.parent),
                selectinload(Member.host_unit),
            )
            .where(in_subtree(scope), Member.active.is_(True))
            .order_by(Member.number)
        )
    )
    statuses = dues_statuses(s, [m.id for m in members], today)
    rows = []
    for m in members:
        branch, group = _branch_and_group(m.unit)
        status = statuses.get(m.id)
        rows.append(
            _export_values(m, lang)
            + [
                branch,
                group,
                m.host_unit.code if m.host_unit else "",
                _yuan(status.monthly_fen) if status else None,
            ]
        )
    return headers, rows


# One meeting's attendance


_MEETING_HEADERS = [
    ("党员编号", "number"),
    ("姓名", "name"),
    ("所在单位", "unit"),
    ("应到", "expected"),
    ("状态", "status"),
    ("记录时间", "recorded_at"),
    ("记录方式", "via"),
    ("更正次数", "corrections"),
]
_NOT_YET = {"zh": "未签到", "en": "not checked in"}


def meeting_attendance(s: Session, meeting: Meeting, lang: str) -> Table:
    """Every member the meeting expects and every visitor, by number: status, when and how
    it was recorded, how many times it was corrected. Five statements."""
    from qrservice.life.views.meetings import checkin_via_names

    lines = attendance_lines(s, meeting)
    unit_ids = {line.member.unit_id for line in lines}
    units = {u.id: u for u in s.scalars(select(Unit).where(Unit.id.in_(unit_ids)))}
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    with _language(lang):
        vias = checkin_via_names()
        rows = [
            [
                line.member.number,
                line.member.name,
                units[line.member.unit_id].name,
                yes if line.expected else no,
                status_name(line.status) if line.status else _NOT_YET[lang],
                _local_minute(line.checked_in_at),
                vias.get(line.via, line.via) if line.via else "",
                len(line.corrections),
            ]
            for line in lines
        ]
    return _headers(lang, _MEETING_HEADERS), rows


# Attendance over a period


_MATRIX_CELLS = {
    "zh": {"present": "出席", "late": "迟到", "excused": "请假", "absent": "缺席",
           "made_up": "补课"},
    "en": {"present": "present", "late": "late", "excused": "on leave", "absent": "absent",
           "made_up": "made up"},
}  # fmt: skip
_MATRIX_LEFT = [("党员编号", "number"), ("姓名", "name"), ("所在单位", "unit")]
_MATRIX_TOTALS = [
    ("出席", "attended"),
    ("请假", "on leave"),
    ("缺席", "absent"),
    ("出席率(%)", "rate (%)"),
]


def period_meetings(s: Session, scope: Unit, period: Period) -> list[Meeting]:
    """The meetings of ``scope``'s units held (opened or closed) in ``period``, in order."""
    return list(
        s.scalars(
            select(Meeting)
            .join(Meeting.unit)
            .where(
                in_subtree(scope),
                Meeting.status.in_(("open", "closed")),
                Meeting.starts_at >= period.starts_at,
                Meeting.starts_at < period.ends_at,
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )


def attendance_matrix(s: Session, scope: Unit, period: Period, lang: str) -> Table:
    """Active members of ``scope`` × the meetings of its units held in ``period``: each cell
    the member's status (blank where the meeting did not expect them), then their totals and
    rate (present, late and made up over those plus absent; leave is neither). Four
    statements, whatever the number of members and meetings."""
    meetings = period_meetings(s, scope, period)
    members = list(
        s.scalars(
            select(Member)
            .join(Member.unit)
            .options(selectinload(Member.unit))
            .where(in_subtree(scope), Member.active.is_(True))
            .order_by(Member.number)
        )
    )
    cells: dict[tuple[int, int], str] = {}
    if meetings and members:
        held = (
            select(Meeting.id)
            .join(Meeting.unit)
            .where(
                in_subtree(scope),
                Meeting.status.in_(("open", "closed")),
                Meeting.starts_at >= period.starts_at,
                Meeting.starts_at < period.ends_at,
            )
        )
        ours = select(Member.id).join(Member.unit).where(in_subtree(scope), Member.active.is_(True))
        for member_id, meeting_id, status in s.execute(
            select(Attendance.member_id, Attendance.meeting_id, Attendance.status).where(
                Attendance.meeting_id.in_(held), Attendance.member_id.in_(ours)
            )
        ):
            cells[(member_id, meeting_id)] = status
    names = _MATRIX_CELLS[lang]
    headers = _headers(lang, _MATRIX_LEFT)
    headers += [f"{local_time(m.starts_at):%m-%d} {m.title}" for m in meetings]
    headers += _headers(lang, _MATRIX_TOTALS)
    rows = []
    for member in members:
        statuses = [cells.get((member.id, m.id)) for m in meetings]
        rate = Rate(
            attended=sum(1 for st in statuses if st in ATTENDED),
            absent=statuses.count("absent"),
            excused=statuses.count("excused"),
            meetings=sum(1 for st in statuses if st in names),
        )
        rows.append(
            [member.number, member.name, member.unit.name]
            + [names.get(st, "") if st else "" for st in statuses]
            + [rate.attended, rate.excused, rate.absent, rate.percent]
        )
    return headers, rows


# The points ledger


_POINTS_HEADERS = [
    ("日期", "date"),
    ("党员编号", "number"),
    ("姓名", "name"),
    ("所在单位", "unit"),
    ("积分", "points"),
    ("来源", "source"),
    ("会议", "meeting"),
    ("事由", "reason"),
    ("记录人", "recorded_by"),
]


def points_ledger(s: Session, scope: Unit, period: Period, lang: str) -> Table:
    """Every points line in ``period`` of the members of ``scope`` (left ones too), in the
    order they count; a correction is a line of its own. Two statements."""
    query = (
        select(PointsEntry, Member.number, Member.name, Unit.name, Meeting.title)
        .join(Member, Member.id == PointsEntry.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .outerjoin(Meeting, Meeting.id == PointsEntry.meeting_id)
        .where(
            in_subtree(scope),
            PointsEntry.at >= period.starts_at,
            PointsEntry.at < period.ends_at,
        )
        .order_by(PointsEntry.at, PointsEntry.id)
    )
    with _language(lang):
        sources = source_names()
    rows = [
        [
            _local_day(entry.at),
            number,
            name,
            unit,
            entry.points,
            sources.get(entry.kind, entry.kind),
            title or "",
            entry.reason,
            entry.recorded_by,
        ]  # fmt: skip
        for entry, number, name, unit, title in s.execute(query)
    ]
    return _headers(lang, _POINTS_HEADERS), rows


# The dues ledger


_DUES_HEADERS = [
    ("收据号", "receipt"),
    ("党员编号", "number"),
    ("姓名", "name"),
    ("所在单位", "unit"),
    ("所缴月份", "months"),
    ("金额(元)", "amount_yuan"),
    ("缴纳方式", "method"),
    ("缴纳日期", "paid_on"),
    ("记录人", "recorded_by"),
    ("已作废", "voided"),
    ("作废原因", "void_reason"),
]


def _months_covered(first: date, months: int) -> str:
    last = add_months(first, months - 1)
    return f"{first:%Y-%m}" if months == 1 else f"{first:%Y-%m}–{last:%Y-%m}"


def dues_ledger(s: Session, scope: Unit, period: Period, lang: str) -> Table:
    """Every dues payment paid in ``period`` by members of ``scope`` (left ones too), voided
    ones with their reason, by the day paid. One statement. (Each member's owed status is
    the dues list's own export: /dues/units/<id>/export.xlsx.)"""
    from qrservice.life.views.dues import method_names

    query = (
        select(DuesPayment, Member.number, Member.name, Unit.name)
        .join(Member, Member.id == DuesPayment.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .where(
            in_subtree(scope),
            DuesPayment.paid_on >= period.start,
            DuesPayment.paid_on < period.end,
        )
        .order_by(DuesPayment.paid_on, DuesPayment.id)
    )
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    with _language(lang):
        methods = method_names()
    rows = [
        [
            p.receipt_no,
            number,
            name,
            unit,
            _months_covered(p.first_month, p.months),
            _yuan(p.amount_fen),
            methods.get(p.method, p.method),
            p.paid_on,
            p.recorded_by,
            yes if p.voided_at else no,
            p.void_reason or "",
        ]  # fmt: skip
        for p, number, name, unit in s.execute(query)
    ]
    return _headers(lang, _DUES_HEADERS), rows


# The warnings list


def warnings(s: Session, scope: Unit, lang: str, today: date) -> Table:
    """Active members of ``scope`` with a yellow or red warning, worst first, with causes:
    the attention list's export, showing warnings only."""
    with _language(lang):
        listing = attention_list(s, scope, AttentionFilter(show="warnings"), today)
        return attention_headers(), [attention_row(r) for r in listing.rows]


# Choosing an export


@dataclass(frozen=True)
class ExportChoice:
    """What to export, checked: the kind, the scope (for a meeting's attendance, the
    meeting's unit), the period or the meeting it needs, the format."""

    kind: str
    unit: Unit
    fmt: str
    period: Period | None = None
    meeting: Meeting | None = None

    @property
    def filename(self) -> str:
        if self.meeting is not None:
            return f"{self.kind}-meeting{self.meeting.id}.{self.fmt}"
        middle = f"-{self.period.key}" if self.period is not None else ""
        return f"{self.kind}-{self.unit.code}{middle}.{self.fmt}"

    def audit_after(self, rows: int) -> dict[str, Any]:
        after: dict[str, Any] = {"kind": self.kind, "format": self.fmt, "rows": rows}
        if self.period is not None:
            after["period"] = self.period.key
        if self.meeting is not None:
            after["meeting_id"] = self.meeting.id
        return after


def check_choice(
    s: Session, kind: str, unit: Unit, fmt: Any, period: Any, meeting: Any, today: date
) -> ExportChoice:
    """The export asked for within the scope ``unit`` (already checked), or ExportError
    naming each bad parameter (format, period, meeting). A meeting that does not exist or
    lies outside ``unit``'s subtree is LookupError (the caller's 404)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export {kind!r}")
    errors: dict[str, str] = {}
    fmt_text = str(fmt or "csv").strip().lower()
    if fmt_text not in FORMATS:
        errors["format"] = _("format: csv or xlsx")
    chosen_period = None
    if kind in PERIOD_KINDS:
        try:
            chosen_period = parse_period(period or "", today)
        except PeriodError as exc:
            errors["period"] = _("period: %(problem)s", problem=str(exc))
    chosen_meeting = None
    if kind == "attendance":
        text = str(meeting or "").strip()
        meeting_id = parse_id(text)
        if not text:
            errors["meeting"] = _("meeting: choose a meeting by its number")
        elif meeting_id is None:
            errors["meeting"] = _("meeting: not a meeting number")
        else:
            chosen_meeting = s.get(Meeting, meeting_id)
            if chosen_meeting is None or not in_scope(unit, chosen_meeting.unit):
                raise LookupError(meeting_id)
            unit = chosen_meeting.unit
    if errors:
        raise ExportError(errors)
    return ExportChoice(kind, unit, fmt_text, chosen_period, chosen_meeting)


def export_table(s: Session, choice: ExportChoice, lang: str, today: date) -> Table:
    """The chosen export's headers and rows in ``lang`` ('zh' or 'en')."""
    if lang not in LANGS:
        raise ValueError(f"unknown export language {lang!r}")
    if choice.kind == "roster":
        return roster(s, choice.unit, lang, today)
    if choice.kind == "attendance":
        assert choice.meeting is not None
        return meeting_attendance(s, choice.meeting, lang)
    if choice.kind == "warnings":
        return warnings(s, choice.unit, lang, today)
    assert choice.period is not None
    by_kind = {"matrix": attendance_matrix, "points": points_ledger, "dues": dues_ledger}
    return by_kind[choice.kind](s, choice.unit, choice.period, lang)
