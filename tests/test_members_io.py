"""Member import and export as plain functions, on a small organisation in a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import random
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qrservice import models  # noqa: F401  (registers the tables on Base.metadata)
from qrservice.audit import Actor
from qrservice.db import Base, make_engine
from qrservice.models import AuditEvent, Member, Unit
from qrservice.org.members import hash_national_id
from qrservice.org.members_io import (
    ROW,
    CheckedImport,
    ImportFileError,
    ImportRejected,
    ImportStale,
    apply_import,
    check_rows,
    export_members,
    plan_checked,
    plan_import,
    read_table,
    write_plan,
)
from qrservice.org.units import create_unit

TODAY = date(2026, 11, 21)
KEY = "test-id-hash-key"
VALID_ID = "11010519491231002X"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "members-sample.csv"

HEADER = [
    "党员编号", "姓名", "性别", "手机", "入党日期", "党员类别", "所在单位",
    "流动党员", "流动地点", "流动开始日期", "在册",
]  # fmt: skip
ROW_A = ["M001", "张三", "男", "13800138000", "2001-07-01", "正式", "B01-G1", "否", "", "", "是"]
ROW_B = ["M002", "李四", "女", "", "2015-05-04", "预备", "B01-G2", "是", "深圳", "2023-01-01", "是"]
ROW_C = ["M003", "王五", "男", "+86 139 0000 0003", "1990-10-01", "正式", "B01", "否", "", "", "是"]


# Files


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: list[list[object]], header: list[str] | None = HEADER, formulas: bool = False
) -> bytes:
    """A workbook; text starting with "=" is a formula only when ``formulas`` says so."""
    book = openpyxl.Workbook()
    sheet = book.active
    if header is not None:
        sheet.append(header)
    for row in rows:
        sheet.append(row)
    if not formulas:
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_of(fmt: str, rows: list[list[str]], header: list[str] = HEADER) -> tuple[bytes, str]:
    if fmt == "csv":
        return csv_bytes(rows, header), "members.csv"
    return xlsx_bytes(rows, header), "members.xlsx"


def changed(row: list[str], **values: str) -> list[str]:
    out = list(row)
    for name, value in values.items():
        out[HEADER.index(name)] = value
    return out


# The organisation: committee C01; branch B01 with groups B01-G1, B01-G2; branch B02 with B02-G1.


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_database_url)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            actor = Actor.system("test")
            committee = create_unit(
                s, actor, kind="committee", name="党委", code="C01", parent=None
            )
            for b, groups in (("B01", 2), ("B02", 1)):
                branch = create_unit(s, actor, kind="branch", name=b, code=b, parent=committee)
                for g in range(1, groups + 1):
                    code = f"{b}-G{g}"
                    create_unit(s, actor, kind="group", name=code, code=code, parent=branch)
            s.commit()
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def s(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def unit(s: Session, code: str) -> Unit:
    return s.scalars(select(Unit).where(Unit.code == code)).one()


def counts(s: Session) -> tuple[int, int]:
    members = s.scalar(select(func.count()).select_from(Member))
    events = s.scalar(select(func.count()).select_from(AuditEvent))
    return members, events


def load(s: Session, data: bytes, filename: str, scope: str = "C01"):  # type: ignore[no-untyped-def]
    rows = read_table(data, filename)
    report = apply_import(s, Actor.system("test"), unit(s, scope), rows, KEY, TODAY)
    s.commit()
    return report


def member(s: Session, number: str) -> Member:
    return s.scalars(select(Member).where(Member.number == number)).one()


# Reading files


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_is_read_in_utf8_utf8_bom_and_gb18030(encoding):
    rows = read_table(csv_bytes([ROW_A, ROW_B], encoding=encoding), "members.csv")
    assert [r["姓名"] for r in rows] == ["张三", "李四"]
    assert [r[ROW] for r in rows] == [2, 3]
    assert rows[1]["流动地点"] == "深圳"


def test_xlsx_is_detected_by_content_not_by_name():
    rows = read_table(xlsx_bytes([ROW_A]), "upload.csv")
    assert rows[0]["党员编号"] == "M001"
    assert rows[0][ROW] == 2


def test_headers_in_english_ignore_case_and_spaces(s):
    header = [
        "Number", " NAME ", "gender", "Phone", "Joined On", "status", "unit",
        "floating", "floating_location", "FLOATING SINCE", "active",
    ]  # fmt: skip
    rows = read_table(csv_bytes([ROW_A], header=header), "m.csv")
    report = plan_import(s, unit(s, "C01"), rows, KEY, TODAY)
    assert report.errors == []
    assert report.created == ["M001"]


def test_blank_lines_are_skipped_and_rows_numbered_as_the_spreadsheet_shows(s):
    data = csv_bytes([ROW_A, [], ["", "", ""], changed(ROW_B, 入党日期="2015-13-01")])
    rows = read_table(data, "m.csv")
    assert [r[ROW] for r in rows] == [2, 5]
    report = plan_import(s, unit(s, "C01"), rows, KEY, TODAY)
    assert [(e.row, e.column) for e in report.errors] == [(5, "入党日期")]


@pytest.mark.parametrize(
    "data",
    [
        "党员编号,姓名\n".encode("utf-16"),
        "党员编号,姓名\nM1,张三\n".encode("utf-16-le"),
        random.Random(7).randbytes(4096),
    ],
    ids=["utf-16", "utf-16-no-bom", "random-bytes"],
)
def test_a_file_that_is_not_utf8_or_gb18030_is_refused(data):
    with pytest.raises(ImportFileError, match="not UTF-8 or GB18030"):
        read_table(data, "members.csv")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "members.csv"),
        (b"\r\n\r\n  \n", "members.csv"),
        (b",,,\n,,\n", "members.csv"),
        (xlsx_bytes([], header=None), "members.xlsx"),
    ],
    ids=["no-bytes", "blank-lines", "empty-cells", "empty-workbook"],
)
def test_an_empty_file_is_refused(data, filename):
    with pytest.raises(ImportFileError, match="empty"):
        read_table(data, filename)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_header_without_rows_is_refused(fmt):
    data, filename = file_of(fmt, [])
    with pytest.raises(ImportFileError, match="no members"):
        read_table(data, filename)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_more_rows_than_the_limit_are_refused(fmt):
    rows = [changed(ROW_A, 党员编号=f"M{i:03d}") for i in range(6)]
    data, filename = file_of(fmt, rows)
    assert len(read_table(data, filename, max_rows=6)) == 6
    with pytest.raises(ImportFileError, match="more than 5 rows"):
        read_table(data, filename, max_rows=5)


def test_a_file_over_the_byte_limit_is_refused_before_reading():
    data = csv_bytes([ROW_A] * 100)
    with pytest.raises(ImportFileError, match="larger than"):
        read_table(data, "members.csv", max_bytes=1024)


def test_a_formula_cell_in_xlsx_is_refused_naming_row_and_column():
    rows = [ROW_A, changed(ROW_B, 手机="=1+1", 流动地点='=HYPERLINK("x")')]
    data = xlsx_bytes(rows, formulas=True)
    with pytest.raises(ImportFileError, match="formula") as caught:
        read_table(data, "members.xlsx")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "D"), (3, "I")]


def test_unknown_repeated_and_missing_columns_are_named():
    header = [*HEADER[:-3], "姓名", "备注"]  # drops 流动地点, 流动开始日期, 在册
    with pytest.raises(ImportFileError) as caught:
        read_table(csv_bytes([[*ROW_A[:-3], "张三", "x"]], header=header), "m.csv")
    problems = {(e.row, e.column): e.message for e in caught.value.errors}
    assert "unknown column" in problems[(1, "备注")]
    assert "姓名" in problems[(1, "姓名")]
    assert "missing" in problems[(1, "流动地点 (floating_location)")]
    assert "missing" in problems[(1, "流动开始日期 (floating_since)")]
    assert all("在册" not in column for _, column in problems)  # optional


def test_a_value_beyond_the_header_is_refused():
    data = csv_bytes([[*ROW_A, "stray"]])
    with pytest.raises(ImportFileError) as caught:
        read_table(data, "m.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "L")]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "old.xls", "old-style .xls"),
        (csv_bytes([ROW_A]), "members.xlsx", "not an Excel workbook"),
        (xlsx_bytes([ROW_A])[:300], "members.xlsx", "damaged"),
    ],
    ids=["xls", "csv-named-xlsx", "truncated-xlsx"],
)
def test_files_that_are_not_member_lists_are_refused_clearly(data, filename, message):
    with pytest.raises(ImportFileError, match=message):
        read_table(data, filename)


# Planning and applying


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_dry_run_writes_nothing(s, fmt):
    before = counts(s)
    data, filename = file_of(fmt, [ROW_A, ROW_B])
    report = plan_import(s, unit(s, "C01"), read_table(data, filename), KEY, TODAY)
    assert report.created == ["M001", "M002"]
    assert report.names == {"M001": "张三", "M002": "李四"}
    assert report.errors == []
    assert counts(s) == before
    assert not s.new and not s.dirty


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_apply_creates_members_and_records_who_did_it(s, fmt):
    members, events = counts(s)
    report = load(s, *file_of(fmt, [ROW_A, ROW_B, ROW_C]))
    assert report.created == ["M001", "M002", "M003"]
    assert counts(s) == (members + 3, events + 4)
    zhang, li = member(s, "M001"), member(s, "M002")
    assert (zhang.name, zhang.gender, zhang.status, zhang.unit.code) == (
        "张三",
        "male",
        "full",
        "B01-G1",
    )
    assert zhang.joined_on == date(2001, 7, 1) and zhang.active and not zhang.floating
    assert (li.status, li.floating, li.floating_location) == ("probationary", True, "深圳")
    assert li.floating_since == date(2023, 1, 1)
    assert member(s, "M003").phone == "+86 139 0000 0003"
    actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(4)).all()
    assert actions == ["import.apply", "member.create", "member.create", "member.create"]


def test_xlsx_cells_typed_by_the_spreadsheet_are_understood(s):
    row = ["M010", "赵六", "女", 13800138000, date(2010, 3, 5), "full", "B01-G1", "no", None, None]
    load(s, xlsx_bytes([row], header=HEADER[:-1]), "typed.xlsx")
    zhao = member(s, "M010")
    assert (zhao.phone, zhao.joined_on, zhao.status) == ("13800138000", date(2010, 3, 5), "full")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reimporting_the_same_file_changes_nothing(s, fmt):
    data, filename = file_of(fmt, [ROW_A, ROW_B, ROW_C])
    load(s, data, filename)
    before = counts(s)
    report = load(s, data, filename)
    assert (report.created, report.updated, report.unchanged) == ([], {}, 3)
    assert counts(s) == before  # not even an import.apply event


def test_an_update_changes_only_the_changed_fields(s):
    load(s, *file_of("csv", [ROW_A, ROW_B]))
    members, events = counts(s)
    moved = changed(ROW_A, 手机="13900000000", 所在单位="B01-G2")
    plan = plan_import(s, unit(s, "C01"), read_table(*file_of("csv", [moved, ROW_B])), KEY, TODAY)
    assert plan.updated == {
        "M001": {"phone": ("13800138000", "13900000000"), "unit": ("B01-G1", "B01-G2")}
    }
    assert plan.unchanged == 1
    report = load(s, *file_of("csv", [moved, ROW_B]))
    assert report.updated == plan.updated
    assert counts(s) == (members, events + 2)
    event = s.scalars(select(AuditEvent).where(AuditEvent.action == "member.update")).one()
    assert '"phone": "13900000000"' in event.after and "name" not in event.after
    assert member(s, "M001").unit.code == "B01-G2"


def test_a_list_without_the_on_roll_column_keeps_left_members_left(s):
    load(s, *file_of("csv", [changed(ROW_A, 在册="否")]))
    assert member(s, "M001").active is False
    report = load(s, *file_of("csv", [ROW_A[:-1]], header=HEADER[:-1]))
    assert report.unchanged == 1
    assert member(s, "M001").active is False
    report = load(s, *file_of("csv", [ROW_A]))
    assert report.updated == {"M001": {"active": (False, True)}}


def test_a_national_id_is_stored_as_a_hash_and_never_exported(s):
    header = [*HEADER, "身份证号"]
    data, filename = file_of("csv", [[*ROW_A, VALID_ID], [*ROW_B, ""]], header=header)
    load(s, data, filename)
    assert member(s, "M001").id_hash == hash_national_id(KEY, VALID_ID)
    assert load(s, data, filename).unchanged == 2
    for fmt in ("csv", "xlsx"):
        exported = export_members(s, unit(s, "C01"), fmt)
        texts = [exported]
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(exported)) as archive:
                texts = [archive.read(name) for name in archive.namelist()]
        for text in texts:
            assert VALID_ID.encode() not in text and VALID_ID[:17].encode() not in text
            assert member(s, "M001").id_hash.encode() not in text
            assert "身份证".encode() not in text and b"national" not in text
    # Re-importing the export leaves the stored hash alone.
    load(s, export_members(s, unit(s, "C01"), "csv"), "export.csv")
    assert member(s, "M001").id_hash == hash_national_id(KEY, VALID_ID)


def test_a_changed_national_id_shows_only_that_it_changed(s):
    header = [*HEADER, "身份证号"]
    load(s, *file_of("csv", [[*ROW_A, VALID_ID]], header=header))
    other = "110101199003070011"  # a valid check digit for a different number
    plan = plan_import(
        s, unit(s, "C01"), read_table(*file_of("csv", [[*ROW_A, other]], header)), KEY, TODAY
    )
    assert plan.updated == {"M001": {"national_id": ("(hidden)", "(changed)")}}


# Broken rows: each is named by row and column, and nothing is written.


def outside_scope_member(s: Session) -> None:
    load(s, *file_of("csv", [changed(ROW_A, 所在单位="B02-G1")]))


def broken(rows, *expected, scope="C01", prepare=None):  # type: ignore[no-untyped-def]
    return rows, scope, prepare, list(expected)


BROKEN = {
    "missing-number": broken([changed(ROW_A, 党员编号="")], (2, "党员编号", "required")),
    "duplicate-number": broken(
        [ROW_A, ROW_B, changed(ROW_C, 党员编号="M001")],
        (2, "党员编号", "row 4"),
        (4, "党员编号", "row 2"),
    ),
    "unknown-unit": broken([ROW_A, changed(ROW_B, 所在单位="X99")], (3, "所在单位", "X99")),
    "unit-outside-scope": broken(
        [changed(ROW_A, 所在单位="B02-G1")], (2, "所在单位", "outside"), scope="B01"
    ),
    "member-outside-scope": broken(
        [ROW_A], (2, "党员编号", "cannot be used"), scope="B01", prepare=outside_scope_member
    ),
    "committee-as-home": broken([changed(ROW_A, 所在单位="C01")], (2, "所在单位", "committee")),
    "bad-date": broken([ROW_A, changed(ROW_B, 入党日期="2015-02-30")], (3, "入党日期", "YYYY")),
    "future-date": broken([changed(ROW_A, 入党日期="2030-01-01")], (2, "入党日期", "today")),
    "formula-text": broken(
        [changed(ROW_B, 流动地点="=cmd|' /C calc'!A0")], (2, "流动地点", "formula")
    ),
    "markup-name": broken(
        [changed(ROW_A, 姓名="<script>alert(1)</script>")], (2, "姓名", "markup")
    ),
    "bad-gender-and-status": broken(
        [changed(ROW_A, 性别="x", 党员类别="maybe")],
        (2, "性别", "male or female"),
        (2, "党员类别", "full or probationary"),
    ),
    "floating-without-place": broken([changed(ROW_A, 流动党员="是")], (2, "流动地点", "required")),
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_rows_are_named_and_nothing_is_written(s, fmt, case):
    rows, scope, prepare, expected = BROKEN[case]
    if prepare:
        prepare(s)
    before = counts(s)
    table = read_table(*file_of(fmt, rows))
    report = plan_import(s, unit(s, scope), table, KEY, TODAY)
    found = [(e.row, e.column, e.message) for e in report.errors]
    assert len(found) == len(expected), found
    for (row, column, message), (want_row, want_column, want_text) in zip(
        found, expected, strict=True
    ):
        assert (row, column) == (want_row, want_column)
        assert want_text in message
    with pytest.raises(ImportRejected) as caught:
        apply_import(s, Actor.system("test"), unit(s, scope), table, KEY, TODAY)
    assert caught.value.report.errors == report.errors
    assert counts(s) == before
    assert not s.new and not s.dirty


def test_errors_use_the_headers_the_file_used(s):
    header = ["number", "name", "gender", "phone", "Joined On", *HEADER[5:]]
    table = read_table(csv_bytes([changed(ROW_A, 入党日期="soon")], header=header), "m.csv")
    report = plan_import(s, unit(s, "C01"), table, KEY, TODAY)
    assert [(e.row, e.column) for e in report.errors] == [(2, "Joined On")]


def test_the_same_national_id_on_two_rows_is_refused(s):
    header = [*HEADER, "身份证号"]
    table = read_table(*file_of("csv", [[*ROW_A, VALID_ID], [*ROW_B, VALID_ID.lower()]], header))
    report = plan_import(s, unit(s, "C01"), table, KEY, TODAY)
    assert [(e.row, e.column) for e in report.errors] == [(3, "身份证号")]
    assert VALID_ID not in report.errors[0].message


def test_an_id_number_typed_as_a_number_cell_is_refused(s):
    header = [*HEADER, "身份证号"]
    table = read_table(xlsx_bytes([[*ROW_A, 110105194912310021]], header), "m.xlsx")
    report = plan_import(s, unit(s, "C01"), table, KEY, TODAY)
    assert [(e.row, e.column) for e in report.errors] == [(2, "身份证号")]


# Export


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_reimports_unchanged(s, fmt, lang):
    load(s, *file_of("csv", [ROW_A, ROW_B, ROW_C, changed(ROW_A, 党员编号="M004", 在册="否")]))
    before = counts(s)
    exported = export_members(s, unit(s, "C01"), fmt, lang)
    table = read_table(exported, f"export.{fmt}")
    assert [r[ROW] for r in table] == [2, 3, 4, 5]
    report = load(s, exported, f"export.{fmt}")
    assert (report.created, report.updated, report.unchanged, report.errors) == ([], {}, 4, [])
    assert counts(s) == before


def test_export_csv_has_a_bom_chinese_headers_and_iso_dates(s):
    load(s, *file_of("csv", [ROW_B, ROW_A]))
    text = export_members(s, unit(s, "C01"), "csv").decode("utf-8")
    assert text.startswith("\ufeff党员编号,姓名,性别,手机,入党日期,党员类别,所在单位,")
    lines = text.splitlines()
    # Imported without a dues start, they owe from the month of the import (TODAY's).
    assert lines[1] == "M001,张三,男,13800138000,2001-07-01,正式,B01-G1,否,,,是,2026-11"
    assert lines[2] == "M002,李四,女,,2015-05-04,预备,B01-G2,是,深圳,2023-01-01,是,2026-11"


def test_export_holds_only_the_members_in_scope(s):
    load(s, *file_of("csv", [ROW_A, changed(ROW_B, 所在单位="B02-G1")]))
    text = export_members(s, unit(s, "B01"), "csv").decode("utf-8-sig")
    assert "M001" in text and "M002" not in text


def test_export_defuses_text_a_spreadsheet_would_run(s):
    load(s, *file_of("csv", [ROW_C, ROW_B]))
    # A value that predates the import rules, written straight into the table.
    member(s, "M002").floating_location = '=HYPERLINK("http://x")'
    s.commit()
    text = export_members(s, unit(s, "C01"), "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",'+86 139 0000 0003," in text
    book = openpyxl.load_workbook(io.BytesIO(export_members(s, unit(s, "C01"), "xlsx")))
    cells = {c.value: c.data_type for row in book.active.iter_rows() for c in row}
    assert cells['=HYPERLINK("http://x")'] == "s"
    # The apostrophe is undone on import, so a phone survives the round trip.
    rows = read_table(text.encode(), "export.csv")
    assert {r["党员编号"]: r["手机"] for r in rows}["M003"] == "+86 139 0000 0003"


def test_export_rejects_unknown_formats(s):
    with pytest.raises(ValueError, match="format"):
        export_members(s, unit(s, "C01"), "pdf")


def test_the_sample_file_reads_cleanly():
    rows = read_table(SAMPLE.read_bytes(), SAMPLE.name)
    assert len(rows) == 10
    assert SAMPLE.read_bytes().startswith(b"\xef\xbb\xbf")


# Workbooks that would cost a worker seconds to read are refused first


def workbook_with_sheet(sheet_xml: bytes) -> bytes:
    """A real workbook whose first sheet's XML is ``sheet_xml``."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([ROW_A])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            archive.writestr(
                info.filename, sheet_xml if "worksheets/sheet1" in info.filename else data
            )
    return out.getvalue()


SHEET = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def sheet_xml(rows: list[bytes], dimension: str | None = None) -> bytes:
    def cell(column: int, value: str) -> bytes:
        return b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>' % (
            openpyxl.utils.get_column_letter(column).encode(),
            value.encode(),
        )

    header = b'<row r="1">' + b"".join(cell(i, h) for i, h in enumerate(HEADER, 1)) + b"</row>"
    dim = b'<dimension ref="%s"/>' % dimension.encode() if dimension else b""
    return SHEET + dim + b"<sheetData>" + header + b"".join(rows) + b"</sheetData></worksheet>"


BLANK_CELLS = b"".join(
    b'<row r="%d">' % r + b'<c s="0"/>' * 1000 + b"</row>" for r in range(2, 1002)
)
BOMBS = {
    "a million blank cells": sheet_xml([BLANK_CELLS]),
    "one row of a million cells": sheet_xml([b'<row r="2">' + b"<c/>" * 1_000_000 + b"</row>"]),
    "a declared dimension of every cell": sheet_xml([], "A1:XFD1048576"),
    "a declared million rows": sheet_xml([], "A1:K1048576"),
    "a row at the sheet's end": sheet_xml(
        [b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>M9</t></is></c></row>']
    ),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_small_workbook_with_a_huge_sheet_is_refused_at_once(bomb):
    data = workbook_with_sheet(BOMBS[bomb])
    assert len(data) < 200 * 1024
    started = time.monotonic()
    with pytest.raises(ImportFileError) as caught:
        read_table(data, "members.xlsx")
    assert time.monotonic() - started < 2
    assert "sheet" in caught.value.message and "rows" in caught.value.message


def test_a_sheet_that_declares_too_small_a_dimension_is_read_whole():
    rows = [
        b'<row r="%d">' % r
        + b"".join(
            b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>'
            % (openpyxl.utils.get_column_letter(i).encode(), r, v.encode())
            for i, v in enumerate(row, 1)
        )
        + b"</row>"
        for r, row in enumerate([ROW_A, ROW_B, ROW_C], start=2)
    ]
    table = read_table(workbook_with_sheet(sheet_xml(rows, "A1:B2")), "members.xlsx")
    assert [r["党员编号"] for r in table] == ["M001", "M002", "M003"]


def test_reading_a_slow_sheet_stops_at_the_time_limit(monkeypatch):
    monkeypatch.setattr("qrservice.org.members_io.MAX_READ_SECONDS", -1.0)
    with pytest.raises(ImportFileError, match="too long"):
        read_table(xlsx_bytes([ROW_A]), "members.xlsx")


# What is kept for Apply, and what a dry run tells


def test_checked_rows_keep_id_numbers_only_as_their_hash(s):
    header = [*HEADER, "身份证号"]
    table = read_table(*file_of("csv", [[*ROW_A, VALID_ID.lower()], ROW_B], header))
    checked = check_rows(s, table, KEY, TODAY)
    kept = json.dumps(checked.to_dict(), ensure_ascii=False)
    assert VALID_ID not in kept and VALID_ID.lower() not in kept
    assert hash_national_id(KEY, VALID_ID) in kept
    again = CheckedImport.from_dict(json.loads(kept))
    assert again == checked
    report = write_plan(s, Actor.system("test"), plan_checked(s, unit(s, "C01"), again, KEY))
    assert report.created == ["M001", "M002"]
    assert member(s, "M001").id_hash == hash_national_id(KEY, VALID_ID)


def test_an_id_number_held_outside_the_scope_is_not_told(s):
    header = [*HEADER, "身份证号"]
    load(s, *file_of("csv", [[*changed(ROW_A, 所在单位="B02-G1"), VALID_ID]], header))
    for national_id in (VALID_ID, "110101199003070011"):
        row = [*changed(ROW_B, 党员编号="M009"), national_id]
        table = read_table(*file_of("csv", [row], header))
        report = plan_import(s, unit(s, "B01"), table, KEY, TODAY)
        assert (report.errors, report.created) == ([], ["M009"])


def test_a_plan_made_stale_by_another_writer_writes_nothing(s, engine):
    load(s, *file_of("csv", [ROW_A]))
    table = read_table(*file_of("csv", [changed(ROW_A, 姓名="张三丰"), ROW_B]))
    plan = plan_checked(s, unit(s, "C01"), check_rows(s, table, KEY, TODAY), KEY)
    s.commit()
    with Session(engine) as other:
        other.scalars(select(Member).where(Member.number == "M001")).one().phone = "13900000000"
        other.commit()
    before = counts(s)
    with pytest.raises(ImportStale):
        write_plan(s, Actor.system("test"), plan)
    s.rollback()
    assert counts(s) == before
    assert member(s, "M001").name == "张三"
