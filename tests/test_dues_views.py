"""Dues pages as an officer uses them: a member's dues page and its forms (amount, exemption,
payment, voids), a branch's dues list with its export, the card page's dues, and a member's
dues start on the member form. Dates are relative to today: the pages work on today."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.dues import add_exemption, record_payment, set_dues_rate
from qrservice.models import AuditEvent, DuesExemption, DuesPayment, DuesRate, Member, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.timeutil import add_months, local_today, month_start
from tests.test_card_page import give_pin, path_of

ACTOR = Actor.system("test")
EN = {"Accept-Language": "en"}
TODAY = local_today()
THIS = month_start(TODAY)


def ym(months_from_now: int) -> str:
    return f"{add_months(THIS, months_from_now):%Y-%m}"


def new_member(
    app, number: str, months_ago: int = 2, fen: int | None = 1000, unit: str = "B01-G1",
    name: str = "测试党员",
) -> int:  # fmt: skip
    """A member owing from ``months_ago`` months back at ``fen`` a month (None: no amount)."""
    with app.app_context():
        s = db.session()
        units = {unit: s.scalar(select(Unit).where(Unit.code == unit))}
        raw = {
            "number": number, "name": name, "gender": "男", "joined_on": "2015-07-01",
            "status": "正式", "unit": unit, "floating": "否", "dues_from": ym(-months_ago),
        }  # fmt: skip
        member = create_member(s, ACTOR, clean_member(raw, units), "key")
        if fen is not None:
            set_dues_rate(s, ACTOR, member, add_months(THIS, -months_ago), fen)
        s.commit()
        return member.id


def pay(app, member_id: int, first: int, months: int, fen: int, receipt: str) -> int:
    with app.app_context():
        s = db.session()
        payment = record_payment(
            s, ACTOR, s.get(Member, member_id), first_month=add_months(THIS, first),
            months=months, amount_fen=fen, method="cash", receipt_no=receipt, paid_on=TODAY,
        )  # fmt: skip
        s.commit()
        return payment.id


def count(app, model, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session().scalar(query)


def page_of(client, member_id: int) -> str:
    return client.get(f"/dues/members/{member_id}", headers=EN).get_data(as_text=True)


# The member's page


def test_the_member_page_shows_where_the_member_stands_month_by_month(client, auth, app):
    member = new_member(app, "V001", months_ago=3, fen=1250)
    pay(app, member, -3, 1, 1250, "V-PAGE-1")
    pay(app, member, -2, 1, 500, "V-PAGE-2")
    auth.login()
    page = page_of(client, member)
    summary = page.split('<dl class="summary">')[1].split("</dl>")[0]
    assert ym(-3) in summary  # paid through the first month only
    assert '<dd class="bad">2</dd>' in summary  # two months in arrears
    assert "20.00" in summary  # 7.50 + 12.50 still owed
    table = page.split('id="months-h"')[1].split("</table>")[0]
    assert table.index(ym(0)) < table.index(ym(-3))  # newest first
    assert "partly paid" in table and "unpaid" in table and "paid" in table
    assert "V-PAGE-1" in page and "V-PAGE-2" in page


def test_the_member_page_links_from_the_member_record(client, auth, app):
    member = new_member(app, "V002")
    auth.login()
    record = client.get(f"/members/{member}").get_data(as_text=True)
    assert f"/dues/members/{member}" in record


def test_the_payment_form_is_filled_with_the_first_unpaid_month_and_what_is_owed(client, auth, app):
    member = new_member(app, "V003", months_ago=2, fen=1000)
    pay(app, member, -2, 1, 400, "V-FILL-1")
    auth.login()
    form = page_of(client, member).split(f'action="/dues/members/{member}/payments"')[1]
    assert f'name="first_month" type="month" value="{ym(-2)}"' in form
    assert 'name="months" type="number" value="3"' in form
    assert 'name="amount" type="text" value="26.00"' in form  # 6 + 10 + 10
    # Another span, worked out on request.
    page = client.get(f"/dues/members/{member}?first={ym(0)}&months=4", headers=EN)
    form = page.get_data(as_text=True).split(f'action="/dues/members/{member}/payments"')[1]
    assert 'name="amount" type="text" value="40.00"' in form


@pytest.mark.parametrize("typed", ["１２", "12", "12.0", "12.00"])
def test_an_amount_typed_in_yuan_sets_the_monthly_dues(client, auth, app, typed):
    member = new_member(app, "V004", fen=None)
    auth.login()
    response = client.post(
        f"/dues/members/{member}/rates", data={"effective_from": ym(0), "amount": typed}
    )
    assert response.status_code == 303
    with app.app_context():
        rate = db.session().scalar(select(DuesRate).where(DuesRate.member_id == member))
        assert (rate.effective_from, rate.amount_fen) == (THIS, 1200)


@pytest.mark.parametrize("typed", ["-3", "1e5", "abc", "12.345", "", "100000.01"])
def test_an_amount_that_is_not_yuan_is_refused_naming_the_field(client, auth, app, typed):
    member = new_member(app, "V005", fen=None)
    auth.login()
    response = client.post(
        f"/dues/members/{member}/rates",
        data={"effective_from": ym(0), "amount": typed},
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="rate-amount-error"' in page
    assert 'id="rate-effective_from-error"' not in page
    assert count(app, DuesRate, member_id=member) == 0


def test_a_payment_recorded_through_the_form_is_stored_and_audited(client, auth, app):
    member = new_member(app, "V006", months_ago=1, fen=2000)
    auth.as_secretary(1)
    response = client.post(
        f"/dues/members/{member}/payments",
        data={"first_month": ym(-1), "months": "2", "amount": "40", "method": "online",
              "receipt_no": "WX-2026-001", "paid_on": TODAY.isoformat(), "note": "微信转账"},
    )  # fmt: skip
    assert response.status_code == 303
    with app.app_context():
        s = db.session()
        payment = s.scalar(select(DuesPayment).where(DuesPayment.member_id == member))
        assert (payment.first_month, payment.months, payment.amount_fen) == (
            add_months(THIS, -1), 2, 4000,
        )  # fmt: skip
        assert payment.recorded_by == "user:secretary1"
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "dues.pay").order_by(AuditEvent.id.desc())
        ).first()
        assert event.entity_id == member and "微信转账" in event.after
    page = page_of(client, member)
    assert "Recorded dues of" not in page  # the trail is on the member record, not here
    assert "WX-2026-001" in page


def test_a_bad_payment_form_names_every_field_and_records_nothing(client, auth, app):
    member = new_member(app, "V007")
    auth.login()
    response = client.post(
        f"/dues/members/{member}/payments",
        data={"first_month": "2026-13", "months": "30", "amount": "1e5", "method": "cheque",
              "receipt_no": "R 1", "paid_on": add_months(TODAY, 1).isoformat()},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("first_month", "months", "amount", "method", "receipt_no", "paid_on"):
        assert f'id="pay-{field}-error"' in page, field
    assert count(app, DuesPayment, member_id=member) == 0


def test_more_than_the_months_owe_is_refused_with_the_figure(client, auth, app):
    member = new_member(app, "V008", months_ago=0, fen=1500)
    auth.login()
    response = client.post(
        f"/dues/members/{member}/payments",
        data={"first_month": ym(0), "months": "1", "amount": "15.01", "method": "cash",
              "receipt_no": "V-OVER", "paid_on": TODAY.isoformat()},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="pay-amount-error">')[1].split("<")[0]
    assert "15.00" in error
    assert count(app, DuesPayment, member_id=member) == 0


def test_a_receipt_number_already_recorded_is_refused_in_the_form(client, auth, app):
    member = new_member(app, "V009", months_ago=1)
    pay(app, member, -1, 1, 1000, "V-TWICE")
    auth.login()
    response = client.post(
        f"/dues/members/{member}/payments",
        data={"first_month": ym(0), "months": "1", "amount": "10", "method": "cash",
              "receipt_no": "V-TWICE", "paid_on": TODAY.isoformat()},
    )  # fmt: skip
    assert response.status_code == 422
    assert 'id="pay-receipt_no-error"' in response.get_data(as_text=True)
    assert count(app, DuesPayment, receipt_no="V-TWICE") == 1


def test_voiding_a_payment_asks_first_then_restores_the_arrears(client, auth, app):
    member = new_member(app, "V010", months_ago=1)
    payment = pay(app, member, -1, 1, 1000, "V-VOID")
    auth.login()
    response = client.post(f"/dues/payments/{payment}/void", data={"reason": ""}, headers=EN)
    assert response.status_code == 422
    assert f'id="void-payment-{payment}-error"' in response.get_data(as_text=True)
    asked = client.post(f"/dues/payments/{payment}/void", data={"reason": "重复"}, headers=EN)
    assert asked.status_code == 200 and "Nothing has changed yet" in asked.get_data(as_text=True)
    with app.app_context():
        assert db.session().get(DuesPayment, payment).voided_at is None
    done = client.post(f"/dues/payments/{payment}/void", data={"reason": "重复", "confirm": "yes"})
    assert done.status_code == 303
    page = page_of(client, member)
    assert "voided" in page and "重复" in page
    summary = page.split('<dl class="summary">')[1].split("</dl>")[0]
    assert '<dd class="bad">1</dd>' in summary


def test_an_exemption_is_added_ended_and_voided_through_the_page(client, auth, app):
    member = new_member(app, "V011", months_ago=3)
    auth.login()
    response = client.post(
        f"/dues/members/{member}/exemptions",
        data={"first_month": ym(-3), "last_month": "", "reason": "长期病休"},
    )
    assert response.status_code == 303
    summary = page_of(client, member).split('<dl class="summary">')[1].split("</dl>")[0]
    assert '<dd class="ok">0</dd>' in summary
    with app.app_context():
        exemption = db.session().scalar(
            select(DuesExemption.id).where(DuesExemption.member_id == member)
        )
    response = client.post(f"/dues/exemptions/{exemption}/end", data={"last_month": ym(-2)})
    assert response.status_code == 303
    summary = page_of(client, member).split('<dl class="summary">')[1].split("</dl>")[0]
    assert '<dd class="bad">1</dd>' in summary  # the month after the exemption is owed
    response = client.post(
        f"/dues/exemptions/{exemption}/void", data={"reason": "登记错误", "confirm": "yes"}
    )
    assert response.status_code == 303
    summary = page_of(client, member).split('<dl class="summary">')[1].split("</dl>")[0]
    assert '<dd class="bad">3</dd>' in summary


def test_an_exemption_without_reason_is_refused_naming_it(client, auth, app):
    member = new_member(app, "V012")
    auth.login()
    response = client.post(
        f"/dues/members/{member}/exemptions",
        data={"first_month": "20xx", "last_month": "", "reason": " "},
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="exempt-first_month-error"' in page
    assert count(app, DuesExemption, member_id=member) == 0


def test_another_branchs_secretary_gets_404_and_changes_nothing(client, auth, app):
    member = new_member(app, "V013", name="保密党员")
    payment = pay(app, member, -2, 1, 1000, "V-SCOPE")
    auth.as_secretary(2)
    form = {"first_month": ym(0), "months": "1", "amount": "1", "method": "cash",
            "receipt_no": "V-SCOPE-2", "paid_on": TODAY.isoformat(), "reason": "x",
            "confirm": "yes", "effective_from": ym(0)}  # fmt: skip
    for method, path in [
        ("GET", f"/dues/members/{member}"),
        ("POST", f"/dues/members/{member}/payments"),
        ("POST", f"/dues/members/{member}/rates"),
        ("POST", f"/dues/payments/{payment}/void"),
    ]:
        response = client.get(path) if method == "GET" else client.post(path, data=form)
        assert response.status_code == 404, path
        assert "保密党员" not in response.get_data(as_text=True)
    assert count(app, DuesPayment, member_id=member) == 1
    with app.app_context():
        assert db.session().get(DuesPayment, payment).voided_at is None
    b01 = count_unit_id(app, "B01")
    assert client.get(f"/dues/units/{b01}").status_code == 404
    assert client.get(f"/dues/units/{b01}/export.csv").status_code == 404


def count_unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


# The branch's list


def test_the_branch_list_shows_each_member_with_totals_and_filters_arrears(client, auth, app):
    late = new_member(app, "V020", months_ago=2, fen=1000, name="欠缴党员")
    paid = new_member(app, "V021", months_ago=2, fen=1000, name="按时党员")
    pay(app, paid, -2, 3, 3000, "V-LIST-1")
    auth.as_secretary(1)
    b01 = count_unit_id(app, "B01")
    page = client.get(f"/dues/units/{b01}", headers=EN).get_data(as_text=True)
    assert "欠缴党员" in page and "按时党员" in page
    collected = page.split("Collected in")[1].split("</dd>")[0]
    assert "30.00" in collected or float(collected.split("<dd>")[1]) >= 30
    only = client.get(f"/dues/units/{b01}?arrears=1", headers=EN).get_data(as_text=True)
    assert "欠缴党员" in only and "按时党员" not in only
    del late


def test_a_month_that_is_not_a_month_is_refused_naming_it(client, auth, app):
    auth.login()
    b01 = count_unit_id(app, "B01")
    response = client.get(f"/dues/units/{b01}?month=2026-13", headers=EN)
    assert response.status_code == 400
    assert "month: not a month; write it as YYYY-MM" in response.get_data(as_text=True)


def test_the_branch_list_as_of_an_earlier_month(client, auth, app):
    member = new_member(app, "V022", months_ago=3, fen=1000, name="上月党员")
    pay(app, member, -3, 1, 1000, "V-EARLIER")
    auth.login()
    b01 = count_unit_id(app, "B01")
    page = client.get(f"/dues/units/{b01}?month={ym(-1)}&arrears=1", headers=EN)
    row = page.get_data(as_text=True).split("上月党员")[1].split("</tr>")[0]
    assert f"<td>{ym(-3)}</td>" in row and '">1</td>' in row  # arrears before that month: 1


def test_the_export_neutralises_formulas_and_is_audited(client, auth, app):
    member = new_member(app, "V030")
    with app.app_context():  # a name from before the import rules, straight into the table
        s = db.session()
        s.get(Member, member).name = "=HYPERLINK(1)"
        s.commit()
    auth.login()
    b01 = count_unit_id(app, "B01")
    events = count(app, AuditEvent, action="dues.export")
    response = client.get(f"/dues/units/{b01}/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["党员编号", "姓名", "所在单位", "月缴党费(元)"]
    names = {row[0]: row[1] for row in rows[1:]}
    assert names["V030"] == "'=HYPERLINK(1)"
    assert count(app, AuditEvent, action="dues.export") == events + 1
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dues/units/{b01}/export.xlsx").data))
    cells = {c.value: c.data_type for row in book.active.iter_rows() for c in row}
    assert cells["=HYPERLINK(1)"] == "s"
    assert 10 in cells or 10.0 in cells  # the monthly amount is a number
    assert count(app, AuditEvent, action="dues.export") == events + 2


# The card page


def test_the_unlocked_card_shows_dues_and_leaves_voided_payments_out(client, app):
    number = "20260001"
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        member_pk = member.id
        s.commit()
    voided = pay_and_void(app, member_pk)
    pin = give_pin(app, number)
    url = path_of(app, number)
    client.post(url + "/unlock", data={"pin": pin})
    page = client.get(url, headers=EN).get_data(as_text=True)
    dues = page.split("<h2>Dues</h2>")[1]
    assert "Paid through" in dues and "Months in arrears" in dues
    assert "Amount owed" in dues and "This month" in dues
    assert voided not in dues
    assert "DF" in dues  # the demo's payments are listed


def pay_and_void(app, member_pk: int) -> str:
    from qrservice.life.dues import void_payment

    with app.app_context():
        s = db.session()
        member = s.get(Member, member_pk)
        payment = record_payment(
            s, ACTOR, member, first_month=THIS, months=1, amount_fen=1, method="cash",
            receipt_no="V-CARD-VOID", paid_on=TODAY,
        )  # fmt: skip
        void_payment(s, ACTOR, payment, "test")
        s.commit()
    return "V-CARD-VOID"


# The member form's dues start


def member_form(**overrides: str) -> dict[str, str]:
    form = {
        "number": "90000001", "name": "新党员", "gender": "female", "phone": "",
        "joined_on": "2020-07-01", "status": "full", "unit": "B01-G1", "floating": "no",
        "floating_location": "", "floating_since": "", "dues_from": "",
    }  # fmt: skip
    form.update(overrides)
    return form


def dues_from_of(app, number: str) -> date | None:
    with app.app_context():
        return db.session().scalar(select(Member.dues_from).where(Member.number == number))


def test_a_member_created_on_the_web_owes_from_this_month(client, auth, app):
    auth.login()
    assert client.post("/members/new", data=member_form()).status_code == 302
    assert dues_from_of(app, "90000001") == THIS
    joined_today = member_form(number="90000002", joined_on=TODAY.isoformat())
    assert client.post("/members/new", data=joined_today).status_code == 302
    assert dues_from_of(app, "90000002") is None  # the month joined: this one


def test_the_member_form_sets_and_shows_the_dues_start(client, auth, app):
    auth.login()
    client.post("/members/new", data=member_form(dues_from="2024-03"))
    assert dues_from_of(app, "90000001") == date(2024, 3, 1)
    with app.app_context():
        member_pk = db.session().scalar(select(Member.id).where(Member.number == "90000001"))
    form = client.get(f"/members/{member_pk}/edit").get_data(as_text=True)
    assert 'name="dues_from" type="month" value="2024-03"' in form


@pytest.mark.parametrize("value", ["2019-13", "abc", "2020-06"])  # 2020-06: before joining
def test_a_bad_dues_start_is_refused_naming_the_field(client, auth, app, value):
    auth.login()
    response = client.post("/members/new", data=member_form(dues_from=value))
    assert response.status_code == 422
    assert 'id="dues_from-error"' in response.get_data(as_text=True)
    assert dues_from_of(app, "90000001") is None and count(app, Member, number="90000001") == 0


def test_the_exemption_list_shows_voided_ones_marked(client, auth, app):
    member = new_member(app, "V040")
    with app.app_context():
        s = db.session()
        from qrservice.life.dues import void_exemption

        exemption = add_exemption(s, ACTOR, s.get(Member, member), THIS, THIS, "出国")
        void_exemption(s, ACTOR, exemption, "取消")
        s.commit()
    auth.login()
    section = page_of(client, member).split('id="exempt-h"')[1]
    assert "出国" in section and "voided" in section and "取消" in section
