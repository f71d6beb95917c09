"""Tables leaving the service as CSV or XLSX: every export writes through here.

CSV is UTF-8 with a byte-order mark (spreadsheet programs then read Chinese right); a text
cell a spreadsheet would run as a formula (= + - @) is neutralised in both formats.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

#: Text a spreadsheet would take as the start of a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MIMETYPE}


def table_bytes(headers: list[str], rows: list[list[Any]], fmt: str, sheet_name: str) -> bytes:
    """The table as a file of format ``fmt`` ('csv' or 'xlsx')."""
    if fmt == "csv":
        return csv_bytes(headers, rows)
    if fmt == "xlsx":
        return xlsx_bytes(headers, rows, sheet_name)
    raise ValueError(f"unknown export format {fmt!r}")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number, not text: "-2" points is minus two, not a formula
    text = str(value)
    # A spreadsheet opening the file would run these as formulas (CSV injection).
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(_csv_value(h) for h in headers)  # a meeting's title may head a column
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(headers: list[str], rows: list[list[Any]], sheet_name: str = "sheet") -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
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
