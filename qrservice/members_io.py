"""Member lists in and out: CSV and XLSX import (dry run, then apply) and export.

Imports are checked in full before anything is written: ``plan_import`` says what a file would
create and change, row by row, and names every bad cell by its spreadsheet row and column;
``apply_import`` writes only a file without a single error. Export writes the same columns, so
an exported file re-imports unchanged. The national ID column is write-only: it is read on
import, kept as a keyed hash, and never exported.

Plain functions on a session, usable from the web, the CLI and tests alike. Messages are marked
with flask_babel's gettext, which also works outside a request (it then leaves them in English).
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import openpyxl
from flask_babel import gettext as _
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .audit import Actor, record
from .members import (
    FORMULA_PREFIXES,
    MEMBER_FIELDS,
    MemberError,
    cell_text,
    clean_member,
    create_member,
    hash_national_id,
    member_changes,
    member_values,
    update_member,
)
from .models import Member, Unit

MAX_ROWS = 20000
MAX_BYTES = 10 * 1024 * 1024
#: An XLSX file is a zip; refuse one that would unpack to more than this (a zip bomb).
MAX_XLSX_UNPACKED = 200 * 1024 * 1024
#: The key under which ``read_table`` keeps each row's number as the spreadsheet shows it.
ROW = "#row"

ZIP_MAGIC = b"PK\x03\x04"
#: Old binary Excel (.xls) and encrypted workbooks are OLE compound files.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    field: str
    #: The header written on export in Chinese; the English header is the field name.
    zh: str
    required: bool = True
    #: Other headers accepted on import.
    aliases: tuple[str, ...] = ()


#: The columns of a member list, in export order.
COLUMNS = (
    Column("number", "党员编号", aliases=("编号",)),
    Column("name", "姓名"),
    Column("gender", "性别"),
    Column("phone", "手机", aliases=("手机号", "手机号码", "联系电话")),
    Column("joined_on", "入党日期", aliases=("入党时间",)),
    Column("status", "党员类别", aliases=("类别",)),
    Column("unit", "所在单位", aliases=("单位", "单位编码", "所在支部")),
    Column("floating", "流动党员"),
    Column("floating_location", "流动地点", aliases=("流入地",)),
    Column("floating_since", "流动开始日期", aliases=("流出日期", "流动日期")),
    Column("active", "在册", required=False),
    Column("national_id", "身份证号", required=False, aliases=("身份证号码", "公民身份号码")),
)
EXPORT_COLUMNS = tuple(c for c in COLUMNS if c.field != "national_id")
assert tuple(c.field for c in EXPORT_COLUMNS) == MEMBER_FIELDS


def _header_key(header: str) -> str:
    return "".join(header.split()).replace("_", "").casefold()


_FIELD_BY_HEADER = {
    _header_key(name): column.field
    for column in COLUMNS
    for name in (column.field, column.zh, *column.aliases)
}


@dataclass(frozen=True)
class RowError:
    """One problem, where the user will find it: spreadsheet row (header is 1) and column."""

    row: int
    column: str
    message: str


class ImportFileError(ValueError):
    """The file cannot be read as a member list; ``errors`` name the cells at fault, if any."""

    def __init__(self, message: str, errors: Iterable[RowError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors)


@dataclass
class ImportReport:
    """What an import did, or would do."""

    total: int = 0
    #: Member numbers of the members created, in file order.
    created: list[str] = field(default_factory=list)
    #: Member number → {field: (before, after)} for the members changed.
    updated: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: Member number → name, to show beside the numbers above.
    names: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRejected(ValueError):
    """An import refused for the errors in ``report``; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"import refused: {len(report.errors)} error(s)")
        self.report = report


# Reading files


def read_table(
    data: bytes, filename: str, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
) -> list[dict[str, Any]]:
    """The rows of a CSV or XLSX member list, keyed by the headers as written.

    Each row also holds its spreadsheet row number under ``ROW``. Blank rows are skipped.
    Raises ImportFileError for a file that cannot be read, an unknown or missing column, a
    formula cell, or more than ``max_rows`` rows or ``max_bytes`` bytes.
    """
    if len(data) > max_bytes:
        raise ImportFileError(_("the file is larger than %(size)s", size=_size(max_bytes)))
    if not data.strip():
        raise ImportFileError(_("the file is empty"))
    if data.startswith(ZIP_MAGIC):
        records = _xlsx_records(data)
    elif data.startswith(OLE_MAGIC):
        raise ImportFileError(
            _("this is an old-style .xls or a password-protected workbook; save it as .xlsx or CSV")
        )
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("the file is named .xlsx but is not an Excel workbook"))
    else:
        records = _csv_records(_decode(data))
    return _rows(records, max_rows)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            _("file is not UTF-8 or GB18030 text (it is UTF-16); save it as CSV UTF-8")
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # UTF-16 without a byte order mark decodes "successfully", with a NUL in every other byte.
        if "\x00" not in text:
            return text
    raise ImportFileError(_("file is not UTF-8 or GB18030 text"))


def _csv_records(text: str) -> Iterator[tuple[int, list[Any]]]:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Spreadsheets in some locales separate with ';' or save "text" as tab-separated.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            yield row, list(cells)
    except csv.Error as exc:
        raise ImportFileError(
            _("row %(row)d cannot be read as CSV: %(why)s", row=row + 1, why=exc)
        ) from None


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ImportFileError(_("the file looks like a workbook but is damaged")) from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise ImportFileError(_("the workbook unpacks to more data than a member list can hold"))
    try:
        # A workbook from another program may lack parts openpyxl warns about (styles, a
        # print area); that says nothing about the member list, so it is not worth a warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # a damaged upload can fail anywhere inside openpyxl
        raise ImportFileError(_("the file looks like a workbook but cannot be opened")) from None
    try:
        if not book.worksheets:
            raise ImportFileError(_("the workbook has no sheet"))
        sheet = book.worksheets[0]
        formulas: list[RowError] = []
        for row, cells in enumerate(sheet.iter_rows(), start=1):
            values = []
            for col, cell in enumerate(cells, start=1):
                if cell.data_type == "f":
                    formulas.append(
                        RowError(
                            row, get_column_letter(col), _("a formula; enter the value itself")
                        )
                    )
                values.append(cell.value)
            yield row, values
        if formulas:
            raise ImportFileError(
                _("the workbook has formulas; paste the values instead"), formulas
            )
    finally:
        book.close()


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        # Undo the apostrophe that export puts before text a spreadsheet would run as a formula.
        if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
            value = value[1:]
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(records: Iterator[tuple[int, list[Any]]], max_rows: int) -> list[dict[str, Any]]:
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for row, cells in records:
        if all(_blank(c) for c in cells):
            continue
        if header is None:
            header = ["" if _blank(c) else str(c).strip() for c in cells]
            errors = _header_errors(header, letters=True)
            if errors:
                raise ImportFileError(
                    _("the header row does not match the member list columns"), errors
                )
            continue
        if len(rows) >= max_rows:
            raise ImportFileError(
                _("more than %(n)d rows; split the file into smaller ones", n=max_rows)
            )
        values: dict[str, Any] = {ROW: row}
        for i, value in enumerate(cells):
            name = header[i] if i < len(header) else ""
            if name:
                values[name] = _cell(value)
            elif not _blank(value):
                raise ImportFileError(
                    _("a value is outside the columns of the header"),
                    [RowError(row, get_column_letter(i + 1), _("this column has no header"))],
                )
        for name in header:
            if name:
                values.setdefault(name, None)
        rows.append(values)
    if header is None:
        raise ImportFileError(_("the file is empty"))
    if not rows:
        raise ImportFileError("the file has a header row but no members")
    return rows


def _header_errors(header: list[str], letters: bool = False) -> list[RowError]:
    """Unknown, repeated and missing columns, each as an error in row 1."""
    errors = []
    seen: dict[str, str] = {}
    for i, name in enumerate(header, start=1):
        if not name:
            continue
        found = _FIELD_BY_HEADER.get(_header_key(name))
        where = get_column_letter(i) if letters else str(i)
        if found is None:
            errors.append(RowError(1, name, _("unknown column (column %(at)s)", at=where)))
        elif found in seen:
            message = _("the same column as %(other)s (column %(at)s)", other=seen[found], at=where)
            errors.append(RowError(1, name, message))
        else:
            seen[found] = name
    for column in COLUMNS:
        if column.required and column.field not in seen:
            errors.append(RowError(1, f"{column.zh} ({column.field})", _("missing column")))
    return errors


# Planning and applying


def _match_columns(rows: list[dict[str, Any]]) -> tuple[dict[str, str], list[RowError]]:
    """Field → the header the user wrote for it, and any header problems."""
    headers = list(dict.fromkeys(k for row in rows for k in row if k != ROW))
    errors = _header_errors(headers)
    columns = {_FIELD_BY_HEADER[_header_key(h)]: h for h in headers if not errors}
    return columns, errors


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass
class _Action:
    row: int
    clean: dict[str, Any]
    member: Member | None
    changed: bool


def plan_import(
    s: Session,
    scope: Unit,
    rows: list[dict[str, Any]],
    id_hash_key: str,
    today: date | None = None,
) -> ImportReport:
    """What importing ``rows`` into ``scope`` would create and change; writes nothing."""
    return _plan(s, scope, rows, id_hash_key, today)[0]


def _plan(
    s: Session,
    scope: Unit,
    rows: list[dict[str, Any]],
    id_hash_key: str,
    today: date | None,
) -> tuple[ImportReport, list[_Action]]:
    report = ImportReport(total=len(rows))
    columns, report.errors = _match_columns(rows)
    if report.errors:
        return report, []

    def column(name: str) -> str:
        return columns.get(name, name)

    def get(row: dict[str, Any], name: str) -> Any:
        return row.get(columns[name]) if name in columns else None

    row_numbers = [row.get(ROW, i + 2) for i, row in enumerate(rows)]
    numbers = [cell_text(get(row, "number")) for row in rows]
    codes = {cell_text(get(row, "unit")) for row in rows} - {""}
    units_by_code: dict[str, Unit] = {}
    for chunk in _chunks(sorted(codes)):
        units_by_code.update(
            (u.code, u) for u in s.scalars(select(Unit).where(Unit.code.in_(chunk)))
        )
    existing: dict[str, Member] = {}
    for chunk in _chunks(sorted(set(numbers) - {""})):
        query = select(Member).options(selectinload(Member.unit)).where(Member.number.in_(chunk))
        existing.update((m.number, m) for m in s.scalars(query))

    rows_of_number: dict[str, list[int]] = defaultdict(list)
    for number, row in zip(numbers, row_numbers, strict=True):
        if number:
            rows_of_number[number].append(row)
    rows_of_id: dict[str, list[int]] = defaultdict(list)

    actions: list[_Action] = []
    for row_number, row in zip(row_numbers, rows, strict=True):
        problems: list[tuple[str, str]] = []
        raw = {name: get(row, name) for name in columns}
        if isinstance(raw.get("national_id"), int | float):
            problems.append(
                ("national_id", _("an ID number must be a text cell; a number cell loses digits"))
            )
            raw.pop("national_id")
        try:
            clean: dict[str, Any] | None = clean_member(raw, units_by_code, today)
        except MemberError as exc:
            problems.extend(exc.errors.items())
            clean = None

        number = cell_text(raw.get("number"))
        others = [r for r in rows_of_number.get(number, []) if r != row_number]
        if others:
            also = ", ".join(map(str, others))
            problems.append(
                ("number", _("%(number)s is also on row %(rows)s", number=number, rows=also))
            )
        if clean is not None and not scope.contains(clean["unit"]):
            code = clean["unit"].code
            problems.append(
                ("unit", _("%(code)s is outside your unit %(scope)s", code=code, scope=scope.code))
            )
        member = existing.get(number)
        if member is not None and not scope.contains(member.unit):
            problems.append(
                ("number", _("%(number)s belongs to a unit outside yours", number=number))
            )
        if clean is not None and clean.get("national_id"):
            digest = hash_national_id(id_hash_key, clean["national_id"])
            rows_of_id[digest].append(row_number)
            if len(rows_of_id[digest]) > 1:
                first = rows_of_id[digest][0]
                problems.append(("national_id", _("the same ID number as row %(row)d", row=first)))
            elif _id_taken(s, digest, number):
                problems.append(("national_id", _("this ID number is recorded for another member")))

        if problems or clean is None:
            report.errors.extend(RowError(row_number, column(n), m) for n, m in problems)
            continue
        if member is not None and _blank(raw.get("active")):
            # A list without the 在册 column must not bring back members who have left.
            clean["active"] = member.active
        report.names[number] = clean["name"]
        if member is None:
            report.created.append(number)
            actions.append(_Action(row_number, clean, None, True))
            continue
        diff = member_changes(member, clean, id_hash_key)
        if diff:
            report.updated[number] = diff
        else:
            report.unchanged += 1
        actions.append(_Action(row_number, clean, member, bool(diff)))
    return report, actions


def _id_taken(s: Session, digest: str, number: str) -> bool:
    query = select(Member.id).where(Member.id_hash == digest, Member.number != number).limit(1)
    return s.scalar(query) is not None


def apply_import(
    s: Session,
    actor: Actor,
    scope: Unit,
    rows: list[dict[str, Any]],
    id_hash_key: str,
    today: date | None = None,
) -> ImportReport:
    """Create and update the members of ``rows``; raises ImportRejected, writing nothing, on
    any error. Adds and flushes; the caller commits."""
    report, actions = _plan(s, scope, rows, id_hash_key, today)
    if report.errors:
        raise ImportRejected(report)
    if not any(a.changed for a in actions):
        return report
    savepoint = s.begin_nested()
    try:
        for action in actions:
            if action.member is None:
                create_member(s, actor, action.clean, id_hash_key)
            elif action.changed:
                update_member(s, actor, action.member, action.clean, id_hash_key)
    except MemberError as exc:
        # Someone else wrote one of these members since the plan was made.
        savepoint.rollback()
        header = _match_columns(rows)[0]["number"]
        message = "; ".join(exc.errors.values())
        report.errors.append(RowError(action.row, header, message))
        raise ImportRejected(report) from exc
    savepoint.commit()
    counts = {
        "rows": report.total,
        "created": len(report.created),
        "updated": len(report.updated),
        "unchanged": report.unchanged,
    }
    record(s, actor, "import.apply", "unit", scope.id, after=counts)
    s.flush()
    return report


# Export


_GENDER_LABELS = {"zh": {"male": "男", "female": "女"}, "en": {"male": "male", "female": "female"}}
_STATUS_LABELS = {
    "zh": {"full": "正式", "probationary": "预备"},
    "en": {"full": "full", "probationary": "probationary"},
}
_BOOL_LABELS = {"zh": ("否", "是"), "en": ("no", "yes")}


def export_headers(lang: str = "zh") -> list[str]:
    return [c.zh if lang == "zh" else c.field for c in EXPORT_COLUMNS]


def _export_values(member: Member, lang: str) -> list[Any]:
    values = member_values(member)
    values["gender"] = _GENDER_LABELS[lang].get(values["gender"], values["gender"])
    values["status"] = _STATUS_LABELS[lang].get(values["status"], values["status"])
    for name in ("floating", "active"):
        values[name] = _BOOL_LABELS[lang][bool(values[name])]
    return [values[name] for name in MEMBER_FIELDS]


def export_members(s: Session, scope: Unit, fmt: str, lang: str = "zh") -> bytes:
    """Every member in ``scope``, left ones too, by number, as 'csv' (UTF-8 with BOM) or
    'xlsx'; headers in Chinese (``lang='zh'``) or as field names (``'en'``)."""
    if lang not in _BOOL_LABELS:
        raise ValueError(f"unknown export language {lang!r}")
    query = (
        select(Member)
        .join(Member.unit)
        .options(selectinload(Member.unit))
        .where(Unit.path.startswith(scope.path, autoescape=True))
        .order_by(Member.number)
    )
    rows = [_export_values(m, lang) for m in s.scalars(query)]
    if fmt == "csv":
        return _csv_bytes(export_headers(lang), rows)
    if fmt == "xlsx":
        return _xlsx_bytes(export_headers(lang), rows)
    raise ValueError(f"unknown export format {fmt!r}")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.strftime("%Y-%m-%d")
    text = str(value)
    # A spreadsheet opening the file would run these as formulas (CSV injection).
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _xlsx_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("members")
    for c, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = max(10, len(header) * 2 + 4)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_xlsx_cell(sheet, header, bold) for header in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, str):
        # Keep text text: openpyxl would store a leading "=" as a formula.
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell
