"""Dues payments imported from bank and WeChat transfer lists (CSV, XLSX): all or nothing, every
problem named by row and column, a dry run first; by function, on the web and from the command
line. And the member list's dues start column."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.dues import set_dues_rate
from qrservice.life.dues_io import PaymentsRejected, apply_payments, plan_payments, read_payments
from qrservice.models import AuditEvent, DuesPayment, Member, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.org.members_io import ImportFileError, apply_import, read_table
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import add_months, local_today, month_start, parse_month

ACTOR = Actor.system("test")
TODAY = date(2027, 2, 10)
M = parse_month
ZH = ["党员编号", "金额", "起始月份", "月数", "方式", "收据号", "缴费日期", "备注"]
EN = ["number", "amount", "first_month", "months", "method", "receipt_no", "paid_on", "note"]


def csv_bytes(rows: list[list[object]], header: list[str] = ZH) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[object]], header: list[str] = ZH) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def unit(s, code: str) -> Unit:
    return s.scalar(select(Unit).where(Unit.code == code))


def new_member(s, number: str, unit_code: str = "B01-G1", dues_from: str = "2026-12",
               fen: int = 1000) -> Member:  # fmt: skip
    raw = {
        "number": number, "name": f"党员{number}", "gender": "男", "joined_on": "2015-07-01",
        "status": "正式", "unit": unit_code, "floating": "否", "dues_from": dues_from,
    }  # fmt: skip
    member = create_member(s, ACTOR, clean_member(raw, {unit_code: unit(s, unit_code)}, TODAY), "k")
    set_dues_rate(s, ACTOR, member, M(dues_from), fen, today=TODAY)
    return member


@pytest.fixture
def s(app):
    """The demo's copy with two members of B01 (I001, I002) and one of B02 (I003), each owing
    10 yuan a month from 2026-12; the organisation tracking dues from 2020."""
    with app.app_context():
        session = db.session()
        current_organisation(session).dues_tracked_from = date(2020, 1, 1)
        new_member(session, "I001")
        new_member(session, "I002", "B01-G2")
        new_member(session, "I003", "B02-G1")
        session.commit()
        yield session


def payments(s) -> int:
    return s.scalar(
        select(func.count()).select_from(DuesPayment).where(DuesPayment.receipt_no.like("BK-%"))
    )


GOOD = [
    ["I001", "20", "2026-12", "2", "转账", "BK-001", "2027-01-05", "一月"],
    ["I002", "9.5", "2026-12", "", "微信", "BK-002", "2027-01-06", ""],
]


def test_a_bank_list_records_every_row(s):
    rows = read_payments(csv_bytes(GOOD), "bank.csv")
    report = apply_payments(s, ACTOR, unit(s, "B01"), rows, today=TODAY)
    assert report.ok and len(report.rows) == 2 and report.amount_fen == 2950
    got = s.execute(
        select(DuesPayment.receipt_no, DuesPayment.months, DuesPayment.amount_fen,
               DuesPayment.method).where(DuesPayment.receipt_no.like("BK-%"))
        .order_by(DuesPayment.receipt_no)
    ).all()  # fmt: skip
    assert got == [("BK-001", 2, 2000, "transfer"), ("BK-002", 1, 950, "online")]


def test_an_import_is_audited_once_with_its_counts(s):
    before = s.scalar(select(func.count()).select_from(AuditEvent))
    apply_payments(s, ACTOR, unit(s, "B01"), read_payments(csv_bytes(GOOD), "b.csv"), today=TODAY)
    events = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(3)).all()
    assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    assert events[0].action == "dues.import"
    assert '"payments": 2' in events[0].after and '"amount_fen": 2950' in events[0].after
    notes = s.scalars(select(DuesPayment.note).where(DuesPayment.receipt_no.like("BK-%")))
    assert any("一月" in (note or "") for note in notes)  # the file's notes are kept


def test_an_xlsx_list_with_english_headers_date_cells_and_number_cells(s):
    data = xlsx_bytes(
        [["I001", 20, datetime(2026, 12, 1), 2, "cash", "BK-010", datetime(2027, 1, 5), None]],
        header=EN,
    )
    report = apply_payments(s, ACTOR, unit(s, "B01"), read_payments(data, "w.xlsx"), today=TODAY)
    assert report.ok
    payment = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == "BK-010"))
    assert (payment.first_month, payment.months, payment.amount_fen, payment.paid_on) == (
        date(2026, 12, 1), 2, 2000, date(2027, 1, 5),
    )  # fmt: skip


def test_headers_in_other_words_and_defaults(s):
    header = ["编号", "金额", "起始月份", "流水号", "缴费日期"]
    rows = read_payments(csv_bytes([["I001", "10", "2027-01", "BK-020", "2027-01-31"]], header),
                         "wx.csv")  # fmt: skip
    report = apply_payments(s, ACTOR, unit(s, "B01"), rows, today=TODAY)
    assert report.ok
    payment = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == "BK-020"))
    assert (payment.months, payment.method) == (1, "transfer")


def test_an_import_with_one_bad_row_writes_nothing(s):
    rows = read_payments(csv_bytes([*GOOD, ["I001", "10", "2027-13", "1", "", "BK-003",
                                            "2027-01-05", ""]]), "bank.csv")  # fmt: skip
    with pytest.raises(PaymentsRejected) as exc:
        apply_payments(s, ACTOR, unit(s, "B01"), rows, today=TODAY)
    assert [(e.row, e.column) for e in exc.value.report.errors] == [(4, "起始月份")]
    assert payments(s) == 0


def test_every_problem_is_named_by_row_and_column(s):
    s.add(DuesPayment(member_id=s.scalar(select(Member.id).where(Member.number == "I001")),
                      first_month=date(2027, 1, 1), months=1, amount_fen=100, method="cash",
                      receipt_no="BK-OLD", paid_on=date(2027, 1, 2), recorded_by="test",
                      recorded_at=datetime(2027, 1, 2)))  # fmt: skip
    s.flush()
    rows = read_payments(csv_bytes([
        ["NOPE", "10", "2026-12", "1", "", "BK-101", "2027-01-05", ""],  # 2: unknown member
        ["I001", "10", "2026-12", "1", "", "BK-102", "2027-01-05", ""],  # 3: fine alone
        ["I001", "10", "2026-12", "1", "", "BK-102", "2027-01-05", ""],  # 4: receipt again
        ["I001", "10", "2026-12", "1", "", "BK-OLD", "2027-01-05", ""],  # 5: recorded before
        ["I002", "-3", "2026-12", "1", "", "BK-105", "2027-01-05", ""],  # 6: bad amount
        ["I002", "20.01", "2026-12", "2", "支票", "BK-106", "2027-03-01", ""],  # 7: method, date
        ["I002", "10", "2026-12", "30", "", "BK 107", "", ""],  # 8: months, receipt, no date
    ]), "bank.csv")  # fmt: skip
    report = plan_payments(s, unit(s, "B01"), rows, today=TODAY)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "党员编号"),
        (4, "收据号"),
        (5, "收据号"),
        (6, "金额"),
        (7, "方式"),
        (7, "缴费日期"),
        (8, "月数"),
        (8, "收据号"),
        (8, "缴费日期"),
    ]
    assert report.rows == [] and payments(s) == 1  # BK-OLD alone


def test_rows_for_the_same_months_may_not_together_pay_more_than_owed(s):
    rows = read_payments(csv_bytes([
        ["I001", "15", "2026-12", "2", "", "BK-201", "2027-01-05", ""],
        ["I001", "5", "2027-01", "1", "", "BK-202", "2027-01-06", ""],  # tops January up
        ["I001", "0.01", "2027-01", "1", "", "BK-203", "2027-01-07", ""],  # nothing left
    ]), "bank.csv")  # fmt: skip
    report = plan_payments(s, unit(s, "B01"), rows, today=TODAY)
    assert [(e.row, e.column) for e in report.errors] == [(4, "金额")]
    assert "0.00" in report.errors[0].message or "owe nothing" in report.errors[0].message


def test_a_member_of_another_branch_reads_exactly_like_an_unknown_one(s):
    rows = read_payments(csv_bytes([
        ["I003", "10", "2026-12", "1", "", "BK-301", "2027-01-05", ""],
        ["ZZZ9", "10", "2026-12", "1", "", "BK-302", "2027-01-05", ""],
    ]), "bank.csv")  # fmt: skip
    report = plan_payments(s, unit(s, "B01"), rows, today=TODAY)
    messages = [e.message.replace("I003", "X").replace("ZZZ9", "X") for e in report.errors]
    assert len(messages) == 2 and messages[0] == messages[1]
    # From the committee, I003 is in scope.
    assert plan_payments(s, unit(s, "C01"), rows[:1], today=TODAY).ok


def test_a_dry_run_writes_nothing(s):
    rows = read_payments(csv_bytes(GOOD), "bank.csv")
    events = s.scalar(select(func.count()).select_from(AuditEvent))
    report = plan_payments(s, unit(s, "B01"), rows, today=TODAY)
    assert report.ok and len(report.rows) == 2
    assert payments(s) == 0
    assert s.scalar(select(func.count()).select_from(AuditEvent)) == events


@pytest.mark.parametrize(
    ("header", "column"),
    [(["党员编号", "金额", "起始月份", "缴费日期"], "收据号 (receipt_no)"),
     (["党员编号", "金额", "起始月份", "收据号", "缴费日期", "备用"], "备用")],
)  # fmt: skip
def test_a_file_without_a_required_column_or_with_an_unknown_one_is_refused(header, column):
    with pytest.raises(ImportFileError) as exc:
        read_payments(csv_bytes([["I001"] * len(header)], header), "x.csv")
    assert column in [e.column for e in exc.value.errors]


# On the web


def test_the_web_import_shows_a_dry_run_then_applies(client, auth, app):
    today = local_today()
    this = month_start(today)
    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        new_member(s, "W001", dues_from=f"{add_months(this, -1):%Y-%m}")
        s.commit()
    auth.as_secretary(1)
    data = csv_bytes([["W001", "20", f"{add_months(this, -1):%Y-%m}", "2", "微信", "BK-W1",
                       today.isoformat(), ""]])  # fmt: skip
    preview = client.post(
        "/dues/import", data={"file": (io.BytesIO(data), "wx.csv")},
        content_type="multipart/form-data", headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "BK-W1" in page and "Apply: record 1 payments" in page
    with app.app_context():
        assert (
            db.session().scalar(select(func.count()).where(DuesPayment.receipt_no == "BK-W1")) == 0
        )
    rows = page.split('name="rows" value="')[1].split('"')[0]
    import html

    applied = client.post("/dues/import/apply", data={"rows": html.unescape(rows)})
    assert applied.status_code == 303
    with app.app_context():
        payment = db.session().scalar(select(DuesPayment).where(DuesPayment.receipt_no == "BK-W1"))
        assert (payment.amount_fen, payment.months, payment.method) == (2000, 2, "online")
        assert payment.recorded_by == "user:secretary1"


def test_the_web_import_lists_problems_and_an_other_branchs_member_as_unknown(client, auth, app):
    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        new_member(s, "W002", "B02-G1", dues_from=f"{month_start(local_today()):%Y-%m}")
        s.commit()
    auth.as_secretary(1)
    data = csv_bytes([["W002", "10", f"{local_today():%Y-%m}", "1", "", "BK-W2",
                       local_today().isoformat(), ""]])  # fmt: skip
    response = client.post(
        "/dues/import", data={"file": (io.BytesIO(data), "wx.csv")},
        content_type="multipart/form-data", headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "no member with number W002 in your units" in page
    assert "党员W002" not in page and 'name="rows"' not in page


def test_applying_rows_that_turned_bad_meanwhile_records_nothing(client, auth, app):
    rows = '[{"#row": 2, "number": "20260001", "amount": "1", "first_month": "2026-01", ' \
           '"receipt_no": "BK-W3", "paid_on": "2999-01-01"}]'  # fmt: skip
    auth.login()
    response = client.post("/dues/import/apply", data={"rows": rows})
    assert response.status_code == 422
    with app.app_context():
        assert (
            db.session().scalar(select(func.count()).where(DuesPayment.receipt_no == "BK-W3")) == 0
        )


# From the command line


def test_the_import_command_dry_runs_then_imports(runner, app, tmp_path):
    from qrservice.cli import main

    today = local_today()
    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        new_member(s, "K001", dues_from=f"{month_start(today):%Y-%m}")
        s.commit()
    path = tmp_path / "bank.xlsx"
    path.write_bytes(xlsx_bytes([["K001", 10, f"{today:%Y-%m}", 1, "现金", "BK-K1",
                                  today.isoformat(), ""]]))  # fmt: skip
    result = runner.invoke(main, ["dues", "import", str(path), "--unit", "B01", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would record 1 payments" in result.output
    result = runner.invoke(main, ["dues", "import", str(path), "--unit", "B01"])
    assert result.exit_code == 0, result.output
    assert "recorded 1 payments" in result.output
    result = runner.invoke(main, ["dues", "import", str(path), "--unit", "B01"])
    assert result.exit_code != 0
    assert "row 2, column 收据号" in result.output  # the receipt is recorded now
    result = runner.invoke(main, ["dues", "import", str(path), "--unit", "B02", "--dry-run"])
    assert result.exit_code != 0 and "no member with number K001" in result.output
    with app.app_context():
        assert (
            db.session().scalar(select(func.count()).where(DuesPayment.receipt_no == "BK-K1")) == 1
        )


# The member list's dues start


MEMBER_HEADER = ["党员编号", "姓名", "性别", "手机", "入党日期", "党员类别", "所在单位", "流动党员",
                 "流动地点", "流动开始日期"]  # fmt: skip


def member_rows(*rows: list[str], extra: list[str] | None = None) -> list[dict[str, object]]:
    return read_table(csv_bytes(list(rows), MEMBER_HEADER + (extra or [])), "members.csv")


def test_imported_members_without_a_dues_start_owe_from_the_month_of_the_import(app):
    with app.app_context():
        s = db.session()
        apply_import(s, ACTOR, unit(s, "C01"), member_rows(
            ["M9001", "甲", "男", "", "2001-07-01", "正式", "B01-G1", "否", "", ""],
            ["M9002", "乙", "女", "", "2026-11-05", "预备", "B01-G1", "否", "", ""],
        ), "key", TODAY)  # fmt: skip
        starts = dict(s.execute(select(Member.number, Member.dues_from)
                                .where(Member.number.in_(["M9001", "M9002"]))).all())  # fmt: skip
    assert starts == {"M9001": date(2027, 2, 1), "M9002": date(2027, 2, 1)}


def dues_from_of(s, number: str) -> date | None:
    return s.scalar(select(Member.dues_from).where(Member.number == number))


def test_the_dues_start_column_sets_it_and_a_blank_keeps_it(app):
    with app.app_context():
        s = db.session()
        scope = unit(s, "C01")
        row = ["M9003", "丙", "男", "", "2001-07-01", "正式", "B01-G1", "否", "", ""]
        apply_import(s, ACTOR, scope, member_rows([*row, "2024-05"], extra=["党费起缴月份"]),
                     "key", TODAY)  # fmt: skip
        assert dues_from_of(s, "M9003") == date(2024, 5, 1)
        report = apply_import(s, ACTOR, scope, member_rows([*row, ""], extra=["dues_from"]),
                              "key", TODAY)  # fmt: skip
        assert report.unchanged == 1
        assert dues_from_of(s, "M9003") == date(2024, 5, 1)


def test_a_bad_dues_start_in_a_member_list_is_named_by_row_and_column(app):
    from qrservice.org.members_io import plan_import

    with app.app_context():
        s = db.session()
        report = plan_import(s, unit(s, "C01"), member_rows(
            ["M9004", "丁", "男", "", "2001-07-01", "正式", "B01-G1", "否", "", "", "2001-13"],
            extra=["党费起缴月份"]), "key", TODAY)  # fmt: skip
    assert [(e.row, e.column) for e in report.errors] == [(2, "党费起缴月份")]
