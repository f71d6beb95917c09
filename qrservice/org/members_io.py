"""Member lists in and out: CSV and XLSX import (dry run, then apply) and export.

An import goes in three steps, so that only the last one writes, and briefly:

1. ``read_table`` reads the file (bounded: bytes, rows, columns, cells and seconds);
2. ``check_rows`` validates every value (``members.clean_member``) and replaces each ID number
   by its keyed hash: a ``CheckedImport`` holds no ID number in clear and can be kept for
   "Apply" (``to_json``/``from_json``);
3. ``plan_checked`` compares the rows with the database, read-only, and names every problem by
   spreadsheet row and column; ``write_plan`` then writes the plan in one short transaction:
   it checks that nothing the plan rests on changed meanwhile (else ``ImportStale``: plan
   again), inserts and updates every member and their audit events in a few statements.

``plan_import`` and ``apply_import`` do it all on one session (the CLI and tests). Export
writes the same columns, so an exported file re-imports unchanged. The national ID column is
write-only: it is read on import, kept as a keyed hash, and never exported. A problem with an
ID number or a member number never says whether it is known outside the importer's units.

Plain functions on a session, usable from the web, the CLI and tests alike. Messages are marked
with flask_babel's gettext, which also works outside a request (it then leaves them in English).
"""

from __future__ import annotations

import csv
import io
import re
import time
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import openpyxl
from flask_babel import gettext as _
from openpyxl.utils import get_column_letter
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from qrservice.audit import Actor, event_values, record
from qrservice.life.dues_settled import refresh_settled
from qrservice.models import AuditEvent, Member, Unit
from qrservice.org.members import (
    DUES_START_FIELDS,
    FORMULA_PREFIXES,
    MEMBER_FIELDS,
    MemberError,
    audit_values,
    cell_text,
    clean_member,
    default_dues_from,
    hash_national_id,
    member_changes,
    member_columns,
    member_values,
)
from qrservice.org.transfers import import_hosting
from qrservice.tables import table_bytes
from qrservice.timeutil import utcnow

MAX_ROWS = 20000
MAX_BYTES = 10 * 1024 * 1024
#: An XLSX file is a zip; refuse one that would unpack to more than this (a zip bomb).
MAX_XLSX_UNPACKED = 200 * 1024 * 1024
#: A sheet is read only within these bounds, checked before its cells are parsed: a small
#: workbook can declare or hold a million blank cells, each costing openpyxl microseconds.
#: Columns a sheet may declare or use (a member list has 12).
MAX_COLUMNS = 64
#: Cells (blank ones included) per member row allowed, on average, over the whole sheet.
CELLS_PER_ROW = 24
#: Seconds reading one sheet may take before the file is refused.
MAX_READ_SECONDS = 20.0
#: The key under which ``read_table`` keeps each row's number as the spreadsheet shows it.
ROW = "#row"

ZIP_MAGIC = b"PK\x03\x04"
#: Old binary Excel (.xls) and encrypted workbooks are OLE compound files.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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
    Column("dues_from", "党费起缴月份", required=False, aliases=("党费起始月份", "起缴月份")),
    Column("national_id", "身份证号", required=False, aliases=("身份证号码", "公民身份号码")),
    # A floating member's host branch (code); an empty cell ends hosting; no column keeps it.
    Column("host_unit", "活动所在支部", required=False, aliases=("流入地党支部",)),
)
EXPORT_COLUMNS = tuple(c for c in COLUMNS if c.field not in ("national_id", "host_unit"))
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


#: Checks a list's header row (its cells as written): the errors, in row 1.
HeaderCheck = Callable[[list[str]], list[RowError]]


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
    data: bytes,
    filename: str,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    header_errors: HeaderCheck | None = None,
) -> list[dict[str, Any]]:
    """The rows of a CSV or XLSX member list, keyed by the headers as written.

    Each row also holds its spreadsheet row number under ``ROW``. Blank rows are skipped.
    Raises ImportFileError for a file that cannot be read, an unknown or missing column, a
    formula cell, or more than ``max_rows`` rows or ``max_bytes`` bytes. Another kind of list
    (the unit tree) gives its own ``header_errors``: header cells → errors in row 1.
    """
    if len(data) > max_bytes:
        raise ImportFileError(_("the file is larger than %(size)s", size=_size(max_bytes)))
    if not data.strip():
        raise ImportFileError(_("the file is empty"))
    if data.startswith(ZIP_MAGIC):
        records = _xlsx_records(data, max_rows)
    elif data.startswith(OLE_MAGIC):
        raise ImportFileError(
            _("this is an old-style .xls or a password-protected workbook; save it as .xlsx or CSV")
        )
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("the file is named .xlsx but is not an Excel workbook"))
    else:
        records = _csv_records(_decode(data))
    return _rows(records, max_rows, header_errors)


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


def _xlsx_records(data: bytes, max_rows: int) -> Iterator[tuple[int, list[Any]]]:
    # Blank rows are skipped, so a sheet may hold some; not more than members, though.
    max_sheet_rows = 2 * max_rows + 1
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_XLSX_UNPACKED:
                raise ImportFileError(
                    _("the workbook unpacks to more data than a member list can hold")
                )
            # Before openpyxl opens the workbook: opening reads every sheet's size, and a sheet
            # that does not declare it is parsed cell by cell to find it.
            _check_sheets_size(archive, max_sheet_rows, (max_rows + 1) * CELLS_PER_ROW)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError):
        raise ImportFileError(_("the file looks like a workbook but is damaged")) from None
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
        if (sheet.max_row or 0) > max_sheet_rows or (sheet.max_column or 0) > MAX_COLUMNS:
            raise ImportFileError(_sheet_too_big(max_sheet_rows))  # its declared dimension
        # Read every row the sheet holds, whatever its (checked, possibly wrong) declared size:
        # a too-small one would drop rows unseen, a large one pads every row with blanks.
        sheet.reset_dimensions()
        deadline = time.monotonic() + MAX_READ_SECONDS
        formulas: list[RowError] = []
        for row, cells in enumerate(sheet.iter_rows(), start=1):
            if row > max_sheet_rows:
                raise ImportFileError(
                    _("the sheet has more than %(n)d rows, blank ones included; delete the "
                      "empty rows below the list", n=max_sheet_rows)
                )  # fmt: skip
            if time.monotonic() > deadline:
                raise ImportFileError(
                    _("the workbook takes too long to read; save it as CSV, or delete the "
                      "empty rows and columns around the list")
                )  # fmt: skip
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


#: The start of a cell or a row element in a sheet's XML, with or without a namespace prefix.
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


def _sheet_too_big(max_rows: int) -> str:
    return _(
        "the sheet is larger than a member list (at most %(rows)d rows and %(columns)d "
        "columns); copy the list alone into a new workbook, or save it as CSV",
        rows=max_rows,
        columns=MAX_COLUMNS,
    )


def _check_sheets_size(archive: zipfile.ZipFile, max_rows: int, max_cells: int) -> None:
    """Refuse a workbook whose sheets hold more rows or cells than a member list, counting the
    cell and row elements of their XML as it is inflated, and stopping once a limit is passed:
    a 100 KB file can hold a million blank cells, each costing openpyxl microseconds."""
    cells = 0
    for info in archive.infolist():
        name = info.filename.lower()
        if "worksheets/" not in name or not name.endswith(".xml"):
            continue
        rows = 0
        tail = b""
        with archive.open(info) as source:
            while True:
                chunk = source.read(1 << 20)
                text = tail + chunk
                # Count up to the last "<": a tag begun before it ends before it, and the one
                # it begins is counted with the next chunk.
                cut = text.rfind(b"<") if chunk else len(text)
                cut = len(text) if cut < 0 else cut
                cells += len(_CELL_TAG.findall(text, 0, cut))
                rows += len(_ROW_TAG.findall(text, 0, cut))
                if cells > max_cells or rows > max_rows:
                    raise ImportFileError(_sheet_too_big(max_rows))
                if not chunk:
                    break
                tail = text[cut:]


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        # Undo the apostrophe that export puts before text a spreadsheet would run as a formula.
        if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
            value = value[1:]
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(
    records: Iterator[tuple[int, list[Any]]], max_rows: int, header_errors: HeaderCheck | None
) -> list[dict[str, Any]]:
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for row, cells in records:
        if all(_blank(c) for c in cells):
            continue
        if header is None:
            header = ["" if _blank(c) else str(c).strip() for c in cells]
            if header_errors is not None:
                if errors := header_errors(header):
                    raise ImportFileError(_("the header row does not match the columns"), errors)
                continue
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


# Checking rows: every value, without the database but for the unit codes


def _match_columns(rows: list[dict[str, Any]]) -> tuple[dict[str, str], list[RowError]]:
    """Field → the header the user wrote for it, and any header problems."""
    headers = list(dict.fromkeys(k for row in rows for k in row if k != ROW))
    errors = _header_errors(headers)
    columns = {_FIELD_BY_HEADER[_header_key(h)]: h for h in headers if not errors}
    return columns, errors


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


#: The fields of a checked row that hold dates (kept as ISO text in JSON).
_DATE_FIELDS = ("joined_on", "floating_since", "dues_from", "dues_from_default")


@dataclass
class CheckedRow:
    """One valid row: its spreadsheet row and clean values, the unit as its code, the ID
    number only as its keyed hash (``id_hash``), and ``active`` None where the cell was blank
    (an existing member then keeps theirs)."""

    row: int
    values: dict[str, Any]


@dataclass
class CheckedImport:
    """A member list read and checked, ready to plan against the database. It never holds an
    ID number in clear, so it may be kept, owner-only, until "Apply"."""

    total: int
    #: Field → the header the file used for it (errors name columns as the user wrote them).
    columns: dict[str, str]
    rows: list[CheckedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (dates as ISO text), to keep until "Apply"."""
        rows = [
            [r.row, {k: v.isoformat() if isinstance(v, date) else v for k, v in r.values.items()}]
            for r in self.rows
        ]
        errors = [[e.row, e.column, e.message] for e in self.errors]
        return {
            "v": 1, "total": self.total, "columns": self.columns, "rows": rows, "errors": errors
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckedImport:
        if data.get("v") != 1:
            raise ValueError("not a checked import of this version")
        rows = []
        for row, values in data["rows"]:
            for name in _DATE_FIELDS:
                if values.get(name):
                    values[name] = date.fromisoformat(values[name])
            rows.append(CheckedRow(row, values))
        errors = [RowError(*e) for e in data["errors"]]
        return cls(data["total"], data["columns"], rows, errors)


def check_rows(
    s: Session, rows: list[dict[str, Any]], id_hash_key: str, today: date | None = None
) -> CheckedImport:
    """Validate every row of a member list (``read_table``'s rows); reads only the units.

    Bad cells, a member number or an ID number twice in the file become errors by row and
    column; ID numbers are replaced by their keyed hash at once.
    """
    columns, header_errors = _match_columns(rows)
    checked = CheckedImport(total=len(rows), columns=columns, errors=header_errors)
    if header_errors:
        return checked

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
    rows_of_number: dict[str, list[int]] = defaultdict(list)
    for number, row_number in zip(numbers, row_numbers, strict=True):
        if number:
            rows_of_number[number].append(row_number)
    rows_of_id: dict[str, list[int]] = defaultdict(list)

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
        digest = None
        if clean is not None and clean.get("national_id"):
            digest = hash_national_id(id_hash_key, clean.pop("national_id"))
            rows_of_id[digest].append(row_number)
            if len(rows_of_id[digest]) > 1:
                first = rows_of_id[digest][0]
                problems.append(("national_id", _("the same ID number as row %(row)d", row=first)))
        if problems or clean is None:
            checked.errors.extend(RowError(row_number, columns.get(n, n), m) for n, m in problems)
            continue
        values = {**clean, "unit": clean["unit"].code, "id_hash": digest}
        values["host_unit"] = cell_text(raw.get("host_unit")) if "host_unit" in columns else None
        if _blank(raw.get("active")):
            values["active"] = None
        if values["dues_from"] is None:
            # Blank: a known member keeps theirs; a new one owes from this month on.
            values["dues_from_default"] = default_dues_from(clean["joined_on"], today)
        checked.rows.append(CheckedRow(row_number, values))
    return checked


# Planning: the checked rows against the database, read-only


#: The columns a plan rests on, read again by the write: if any changed, the plan is stale.
_FINGERPRINT = (
    Member.id,
    Member.number,
    Member.name,
    Member.gender,
    Member.phone,
    Member.joined_on,
    Member.status,
    Member.unit_id,
    Member.floating,
    Member.floating_location,
    Member.floating_since,
    Member.active,
    Member.left_on,
    Member.id_hash,
    Member.dues_from,
    Member.host_unit_id,
)


def _fingerprint(member: Member) -> tuple[Any, ...]:
    return tuple(getattr(member, column.key) for column in _FINGERPRINT)


@dataclass
class ImportPlan:
    """What writing a checked import would do, and what it rests on."""

    report: ImportReport
    scope_id: int
    scope_path: str
    #: Rows that create a member: (spreadsheet row, member columns, audit values).
    creates: list[tuple[int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    #: Rows that change a member: (row, member id, changed columns, before, after).
    updates: list[tuple[int, int, dict[str, Any], dict[str, Any], dict[str, Any]]] = field(
        default_factory=list
    )
    #: Member number of every row → that member's fingerprint then (None: no such member).
    members_seen: dict[str, tuple[Any, ...] | None] = field(default_factory=dict)
    #: ID hash of every row that has one → numbers of the members in scope holding it then.
    ids_seen: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Rows that set or end hosting: (member number, host unit id or None, before, after).
    hosts: list[tuple[str, int | None, dict[str, Any], dict[str, Any]]] = field(
        default_factory=list
    )

    @property
    def changes(self) -> bool:
        return bool(self.creates or self.updates or self.hosts)


class ImportStale(RuntimeError):
    """The members changed between planning and writing: plan again (nothing was written)."""


def _in_scope_members(scope_path: str) -> Any:
    return Member.unit_id.in_(
        select(Unit.id).where(Unit.path.startswith(scope_path, autoescape=True))
    )


def _ids_held(s: Session, scope_path: str, digests: list[str]) -> dict[str, frozenset[str]]:
    """ID hash → numbers of the members in scope holding it. Members outside the scope are
    never looked at: an import must not tell whether an ID number is known elsewhere."""
    held: dict[str, set[str]] = {d: set() for d in digests}
    for chunk in _chunks(sorted(digests)):
        query = select(Member.id_hash, Member.number).where(
            Member.id_hash.in_(chunk), _in_scope_members(scope_path)
        )
        for digest, number in s.execute(query):
            held[digest].add(number)
    return {d: frozenset(numbers) for d, numbers in held.items()}


def plan_checked(s: Session, scope: Unit, checked: CheckedImport, id_hash_key: str) -> ImportPlan:
    """What writing ``checked`` into ``scope`` would create and change; reads, never writes.

    Adds the problems only the database shows (a unit or a member outside the scope, an ID
    number held by another member of the scope) to those of ``check_rows``.
    """
    report = ImportReport(total=checked.total, errors=list(checked.errors))
    plan = ImportPlan(report, scope.id, scope.path)
    if not checked.columns:
        return plan

    def column(name: str) -> str:
        return checked.columns.get(name, name)

    codes = sorted({r.values["unit"] for r in checked.rows} | {
        r.values["host_unit"] for r in checked.rows if r.values.get("host_unit")
    })  # fmt: skip
    units_by_code: dict[str, Unit] = {}
    for chunk in _chunks(codes):
        units_by_code.update(
            (u.code, u) for u in s.scalars(select(Unit).where(Unit.code.in_(chunk)))
        )
    numbers = [r.values["number"] for r in checked.rows]
    existing: dict[str, Member] = {}
    for chunk in _chunks(numbers):
        query = select(Member).options(selectinload(Member.unit)).where(Member.number.in_(chunk))
        existing.update((m.number, m) for m in s.scalars(query))
    plan.members_seen = {
        number: _fingerprint(existing[number]) if number in existing else None for number in numbers
    }
    digests = [r.values["id_hash"] for r in checked.rows if r.values["id_hash"]]
    plan.ids_seen = _ids_held(s, scope.path, digests)

    for checked_row in checked.rows:
        row, values = checked_row.row, checked_row.values
        number = values["number"]
        problems: list[tuple[str, str]] = []
        unit = units_by_code.get(values["unit"])
        if unit is None:
            problems.append(("unit", _("no unit with code %(code)s here", code=values["unit"])))
        elif not scope.contains(unit):
            problems.append(
                ("unit", _("%(code)s is outside your unit %(scope)s", code=unit.code,
                           scope=scope.code))
            )  # fmt: skip
        member = existing.get(number)
        if member is not None and not scope.contains(member.unit):
            # Member numbers are unique across the organisation, so this row cannot be
            # imported here; the message does not say where the number is used.
            problems.append(
                ("number", _("member number %(number)s cannot be used in your units; "
                             "check it, or ask the organiser above you", number=number))
            )  # fmt: skip
        # A closed unit takes no member on the roll (left members stay where they were).
        if values["active"] is not None:
            stays_active = values["active"]
        else:
            stays_active = member.active if member is not None else True
        if unit is not None and unit.closed_at is not None and stays_active:
            problems.append(
                ("unit", _("%(code)s is closed: a member on the roll cannot belong to it",
                           code=unit.code))
            )  # fmt: skip
        digest = values["id_hash"]
        if digest and plan.ids_seen.get(digest, frozenset()) - {number}:
            problems.append(
                ("national_id", _("this ID number is recorded for another member of your units"))
            )
        hosting = None
        if values.get("host_unit") is not None and unit is not None:
            problem, host, moves = import_hosting(
                units_by_code, values["host_unit"], values["floating"], unit, member
            )
            if problem:
                problems.append(("host_unit", problem))
            elif moves:
                old = member.host_unit if member is not None else None
                hosting = (
                    number, host.id if host else None,
                    {"host": old.code, "host_name": old.name} if old else {},
                    {"host": host.code, "host_name": host.name} if host else {},
                )  # fmt: skip
        if problems:
            report.errors.extend(RowError(row, column(n), m) for n, m in problems)
            continue
        assert unit is not None
        if hosting is not None:
            plan.hosts.append(hosting)
            report.updated.setdefault(number, {})["host_unit"] = (
                hosting[2].get("host"),
                hosting[3].get("host"),
            )
        clean = {**values, "unit": unit}
        if clean["active"] is None:
            # A list without the 在册 value must not bring back members who have left.
            clean["active"] = member.active if member is not None else True
        if clean.get("dues_from") is None:
            clean["dues_from"] = (
                member.dues_from if member is not None else clean.get("dues_from_default")
            )
        report.names[number] = clean["name"]
        if member is None:
            report.created.append(number)
            columns = member_columns(clean, id_hash_key)
            plan.creates.append((row, columns, audit_values(clean)))
            continue
        diff = member_changes(member, clean, id_hash_key)
        if not diff:
            report.unchanged += number not in report.updated
            continue
        report.updated[number] = {**diff, **report.updated.get(number, {})}
        columns = member_columns(clean, id_hash_key, member.active)
        changed = {k: v for k, v in columns.items() if getattr(member, k) != v}
        before = {k: b for k, (b, _a) in diff.items()}
        after = {k: a for k, (_b, a) in diff.items()}
        plan.updates.append((row, member.id, changed, before, after))
    report.errors.sort(key=lambda e: e.row)  # stable: each row's problems in their order
    if report.errors:
        plan.creates, plan.updates = [], []
    return plan


# Writing: short, and only what was planned


def write_plan(s: Session, actor: Actor, plan: ImportPlan) -> ImportReport:
    """Write ``plan`` in the session's transaction: a few statements, whatever the number of
    rows; every row or none. Raises ImportRejected for a plan with errors, and ImportStale,
    writing nothing, if a member or ID number the plan rests on changed since it was made.
    Adds and flushes; the caller commits."""
    report = plan.report
    if report.errors:
        raise ImportRejected(report)
    if not plan.changes:
        return report
    _check_still_true(s, plan)
    now = utcnow()
    savepoint = s.begin_nested()
    try:
        events = []
        conn = s.connection()  # Core executemany: one statement for all the rows
        new_ids: dict[str, int] = {}
        if plan.creates:
            rows = [
                {"created_at": now, "updated_at": now, "left_on": None, "id_hash": None, **cols}
                for _row, cols, _audit in plan.creates
            ]
            conn.execute(insert(Member.__table__), rows)
            for chunk in _chunks([cols["number"] for _row, cols, _audit in plan.creates]):
                query = select(Member.number, Member.id).where(Member.number.in_(chunk))
                new_ids.update((number, id_) for number, id_ in conn.execute(query))
            events += [
                event_values(actor, "member.create", "member", new_ids[cols["number"]],
                             after=audit, at=now)
                for _row, cols, audit in plan.creates
            ]  # fmt: skip
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for _row, member_id, changed, _before, _after in plan.updates:
            by_columns[tuple(sorted(changed))].append(
                {"member_id": member_id, **changed, "updated_at": now}
            )
        for names, params in by_columns.items():
            table = Member.__table__
            statement = (
                update(table)
                .where(table.c.id == bindparam("member_id"))
                .values({name: bindparam(name) for name in (*names, "updated_at")})
            )
            conn.execute(statement, params)
        events += [
            event_values(actor, "member.update", "member", member_id, before, after, now)
            for _row, member_id, _changed, before, after in plan.updates
        ]
        if plan.hosts:
            ids: dict[str, int] = {}
            for chunk in _chunks([h[0] for h in plan.hosts]):
                query = select(Member.number, Member.id).where(Member.number.in_(chunk))
                ids.update((number, id_) for number, id_ in conn.execute(query))
            conn.execute(
                update(Member.__table__)
                .where(Member.__table__.c.id == bindparam("member_id"))
                .values(host_unit_id=bindparam("host_id"), updated_at=now),
                [{"member_id": ids[n], "host_id": host_id} for n, host_id, _b, _a in plan.hosts],
            )
            events += [
                event_values(actor, "member.host" if host_id else "member.unhost", "member",
                             ids[n], before or None, after or None, now)
                for n, host_id, before, after in plan.hosts
            ]  # fmt: skip
        conn.execute(insert(AuditEvent.__table__), events)
    except IntegrityError as exc:
        # Only another writer could break a constraint the plan checked (PostgreSQL, where
        # writers do not queue): the plan is stale.
        savepoint.rollback()
        raise ImportStale(str(exc.orig)) from exc
    savepoint.commit()
    refresh_settled(s, [*new_ids.values(), *(
        member_id for _row, member_id, changed, _b, _a in plan.updates
        if DUES_START_FIELDS & changed.keys()
    )])  # fmt: skip
    counts = {
        "rows": report.total,
        "created": len(report.created),
        "updated": len(report.updated),
        "unchanged": report.unchanged,
    }
    record(s, actor, "import.apply", "unit", plan.scope_id, after=counts)
    s.flush()
    return report


def _check_still_true(s: Session, plan: ImportPlan) -> None:
    """Raise ImportStale unless every member and ID number the plan rests on is as it was."""
    numbers = list(plan.members_seen)
    now: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(numbers):
        query = select(*_FINGERPRINT).where(Member.number.in_(chunk)).with_for_update()
        now.update((row.number, tuple(row)) for row in s.execute(query))
    if any(now.get(number) != seen for number, seen in plan.members_seen.items()):
        raise ImportStale("a member of the file changed since the plan was made")
    if _ids_held(s, plan.scope_path, list(plan.ids_seen)) != plan.ids_seen:
        raise ImportStale("an ID number of the file changed hands since the plan was made")


# The whole import on one session (the CLI, tests)


def plan_import(
    s: Session,
    scope: Unit,
    rows: list[dict[str, Any]],
    id_hash_key: str,
    today: date | None = None,
) -> ImportReport:
    """What importing ``rows`` into ``scope`` would create and change; writes nothing."""
    return plan_checked(s, scope, check_rows(s, rows, id_hash_key, today), id_hash_key).report


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
    checked = check_rows(s, rows, id_hash_key, today)
    return write_plan(s, actor, plan_checked(s, scope, checked, id_hash_key))


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
    values["dues_from"] = f"{values['dues_from']:%Y-%m}" if values["dues_from"] else None
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
    return table_bytes(export_headers(lang), rows, fmt, "members")
