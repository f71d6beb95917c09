"""Dues as a treasurer keeps them: amounts with history, exemptions, payments partial and in
advance, voids, and where each member stands; the rules in qrservice/life/dues.py, and the
``qrservice dues`` commands."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import event, func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.dues import (
    DuesError,
    add_exemption,
    dues_months,
    dues_status,
    dues_statuses,
    end_exemption,
    member_ledger,
    parse_yuan,
    record_payment,
    set_dues_rate,
    void_exemption,
    void_payment,
)
from qrservice.models import AuditEvent, DuesExemption, DuesPayment, DuesRate, Member, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import add_months, parse_month

ACTOR = Actor.system("test")
#: The day the rules are checked on (every function takes it): February 2027.
TODAY = date(2027, 2, 10)
M = parse_month  # M("2026-12") is the first day of December 2026


@pytest.fixture
def s(app):
    """A session on the test's copy of the demo, the organisation tracking dues from 2020-01."""
    with app.app_context():
        session = db.session()
        current_organisation(session).dues_tracked_from = date(2020, 1, 1)
        session.commit()
        yield session


def new_member(
    s, number: str, joined_on: str = "2015-07-01", dues_from: str = "", unit: str = "B01-G1"
) -> Member:
    units = {unit: s.scalar(select(Unit).where(Unit.code == unit))}
    raw = {
        "number": number, "name": "测试党员", "gender": "女", "joined_on": joined_on,
        "status": "正式", "unit": unit, "floating": "否", "dues_from": dues_from,
    }  # fmt: skip
    return create_member(s, ACTOR, clean_member(raw, units, TODAY), "key")


def pay(s, member, first: str, months: int, yuan: str, receipt: str, **extra):
    values = {
        "first_month": M(first), "months": months, "amount_fen": parse_yuan(yuan),
        "method": "cash", "receipt_no": receipt, "paid_on": date(2027, 2, 1), "today": TODAY,
    }  # fmt: skip
    return record_payment(s, ACTOR, member, **{**values, **extra})


def status(s, member, today: date = TODAY):
    return dues_status(s, member, today)


def states(s, member, today: date = TODAY) -> dict[str, tuple[str, int]]:
    """month → (state, fen paid), for the member's tracked months."""
    return {
        m.month.strftime("%Y-%m"): (m.state, m.paid_fen)
        for m in dues_months(member_ledger(s, member), today)
    }


# Where a member stands


def test_payment_covering_december_and_january_marks_both_paid(s):
    member = new_member(s, "T001", dues_from="2026-12")
    set_dues_rate(s, ACTOR, member, M("2026-01"), 2000, today=TODAY)
    pay(s, member, "2026-12", 2, "40", "R-YEAR")
    got = status(s, member)
    assert got.paid_through == M("2027-01")
    assert (got.arrears_months, got.owed_fen, got.first_arrears_month) == (0, 0, None)
    assert states(s, member)["2026-12"] == ("paid", 2000)
    assert states(s, member)["2027-01"] == ("paid", 2000)
    assert got.this_month_state == "unpaid" and got.due_this_month_fen == 2000


def test_member_who_joined_mid_month_owes_that_month(s):
    member = new_member(s, "T002", joined_on="2026-11-17")
    set_dues_rate(s, ACTOR, member, M("2026-11"), 1500, today=TODAY)
    got = status(s, member)
    assert got.tracked_from == M("2026-11")
    # November, December and January owed; February is this month, not yet in arrears.
    assert (got.arrears_months, got.owed_fen) == (3, 4500)
    assert got.first_arrears_month == M("2026-11")
    assert got.paid_through is None


def test_exemption_ending_in_march_means_april_is_owed_again(s):
    member = new_member(s, "T003", dues_from="2026-01")
    set_dues_rate(s, ACTOR, member, M("2026-01"), 1000, today=TODAY)
    pay(s, member, "2026-01", 2, "20", "R-EX-1")
    exemption = add_exemption(s, ACTOR, member, M("2026-03"), None, "长期病休", today=TODAY)
    assert status(s, member, date(2026, 6, 15)).arrears_months == 0
    assert status(s, member, date(2026, 6, 15)).exempt_now
    end_exemption(s, ACTOR, exemption, M("2026-03"), today=TODAY)
    got = status(s, member, date(2026, 6, 15))
    assert got.first_arrears_month == M("2026-04")
    assert (got.arrears_months, got.owed_fen, got.paid_through) == (2, 2000, M("2026-03"))
    assert not got.exempt_now
    assert states(s, member, date(2026, 6, 15))["2026-03"] == ("exempt", 0)
    assert states(s, member, date(2026, 6, 15))["2026-04"] == ("unpaid", 0)


def test_voided_exemption_makes_its_months_owed_again(s):
    member = new_member(s, "T004", dues_from="2026-10")
    set_dues_rate(s, ACTOR, member, M("2026-10"), 1000, today=TODAY)
    exemption = add_exemption(s, ACTOR, member, M("2026-10"), M("2027-01"), "困难", today=TODAY)
    assert status(s, member).arrears_months == 0
    assert status(s, member).paid_through == M("2027-01")  # exempt months count as settled
    void_exemption(s, ACTOR, exemption, "登记错误")
    assert status(s, member).arrears_months == 4
    assert s.get(DuesExemption, exemption.id).void_reason == "登记错误"


def test_exemptions_are_refused_overlapping_without_reason_or_backwards(s):
    member = new_member(s, "T005")
    add_exemption(s, ACTOR, member, M("2026-01"), M("2026-06"), "病休", today=TODAY)
    with pytest.raises(DuesError) as exc:
        add_exemption(s, ACTOR, member, M("2026-06"), None, "again", today=TODAY)
    assert "first_month" in exc.value.errors
    with pytest.raises(DuesError) as exc:
        add_exemption(s, ACTOR, member, M("2026-09"), M("2026-08"), "  ", today=TODAY)
    assert set(exc.value.errors) == {"last_month", "reason"}
    assert s.scalar(select(func.count()).where(DuesExemption.member_id == member.id)) == 1


def test_partial_payment_leaves_the_month_partly_owed_and_a_top_up_pays_it(s):
    member = new_member(s, "T006", dues_from="2027-01")
    set_dues_rate(s, ACTOR, member, M("2027-01"), 3000, today=TODAY)
    pay(s, member, "2027-01", 1, "10", "R-PART-1")
    got = status(s, member)
    assert (got.arrears_months, got.owed_fen, got.paid_through) == (1, 2000, None)
    assert states(s, member)["2027-01"] == ("partial", 1000)
    # The top-up may not be more than what is left.
    with pytest.raises(DuesError) as exc:
        pay(s, member, "2027-01", 1, "20.01", "R-PART-2")
    assert "20.00" in exc.value.errors["amount"]
    pay(s, member, "2027-01", 1, "20", "R-PART-2")
    assert states(s, member)["2027-01"] == ("paid", 3000)
    assert status(s, member).arrears_months == 0
    assert status(s, member).paid_through == M("2027-01")


def test_a_payment_fills_its_months_in_order(s):
    member = new_member(s, "T007", dues_from="2026-11")
    set_dues_rate(s, ACTOR, member, M("2026-11"), 1000, today=TODAY)
    pay(s, member, "2026-11", 3, "25", "R-ORDER")
    assert states(s, member)["2026-11"] == ("paid", 1000)
    assert states(s, member)["2026-12"] == ("paid", 1000)
    assert states(s, member)["2027-01"] == ("partial", 500)
    got = status(s, member)
    assert (got.paid_through, got.arrears_months, got.owed_fen) == (M("2026-12"), 1, 500)


def test_advance_payment_is_paid_through_a_future_month_with_no_arrears(s):
    member = new_member(s, "T008", dues_from="2027-01")
    set_dues_rate(s, ACTOR, member, M("2027-01"), 500, today=TODAY)
    pay(s, member, "2027-01", 12, "60", "R-ADV")
    got = status(s, member)
    assert got.paid_through == M("2027-12")
    assert (got.arrears_months, got.owed_fen) == (0, 0)
    assert got.this_month_state == "paid"
    assert states(s, member)["2027-12"] == ("paid", 500)


def test_void_restores_the_arrears_and_keeps_the_payment_listed(s):
    member = new_member(s, "T009", dues_from="2026-12")
    set_dues_rate(s, ACTOR, member, M("2026-12"), 1000, today=TODAY)
    payment = pay(s, member, "2026-12", 2, "20", "R-VOID")
    assert status(s, member).arrears_months == 0
    void_payment(s, ACTOR, payment, "重复录入")
    got = status(s, member)
    assert (got.arrears_months, got.owed_fen, got.paid_through) == (2, 2000, None)
    kept = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == "R-VOID"))
    assert kept.voided_at is not None and kept.void_reason == "重复录入"
    with pytest.raises(DuesError) as exc:
        void_payment(s, ACTOR, payment, "again")
    assert "reason" in exc.value.errors


def test_a_void_needs_a_reason(s):
    member = new_member(s, "T010", dues_from="2027-01")
    set_dues_rate(s, ACTOR, member, M("2027-01"), 1000, today=TODAY)
    payment = pay(s, member, "2027-01", 1, "10", "R-NOREASON")
    with pytest.raises(DuesError) as exc:
        void_payment(s, ACTOR, payment, " ")
    assert exc.value.errors == {"reason": "required"}
    assert payment.voided_at is None


def test_a_receipt_number_is_used_once_even_after_a_void(s):
    member = new_member(s, "T011", dues_from="2026-12")
    set_dues_rate(s, ACTOR, member, M("2026-12"), 1000, today=TODAY)
    first = pay(s, member, "2026-12", 1, "10", "R-ONCE")
    with pytest.raises(DuesError) as exc:
        pay(s, member, "2027-01", 1, "10", "R-ONCE")
    assert list(exc.value.errors) == ["receipt_no"]
    void_payment(s, ACTOR, first, "录错")
    with pytest.raises(DuesError) as exc:
        pay(s, member, "2026-12", 1, "10", "R-ONCE")
    assert list(exc.value.errors) == ["receipt_no"]
    assert s.scalar(select(func.count()).where(DuesPayment.receipt_no == "R-ONCE")) == 1


def test_amount_above_what_the_months_owe_is_refused_naming_the_figure(s):
    member = new_member(s, "T012", dues_from="2026-12")
    set_dues_rate(s, ACTOR, member, M("2026-12"), 1250, today=TODAY)
    with pytest.raises(DuesError) as exc:
        pay(s, member, "2026-12", 2, "25.01", "R-OVER")
    assert list(exc.value.errors) == ["amount"]
    assert "25.00" in exc.value.errors["amount"]
    # Months before dues are owed owe nothing, and say so.
    with pytest.raises(DuesError) as exc:
        pay(s, member, "2026-10", 2, "1", "R-OVER")
    assert "owe nothing" in exc.value.errors["amount"]
    assert s.scalar(select(func.count()).where(DuesPayment.member_id == member.id)) == 0


def test_member_without_a_rate_has_unknown_dues_and_any_payment_pays_a_month(s):
    member = new_member(s, "T013", dues_from="2026-12")
    got = status(s, member)
    assert got.monthly_fen is None and got.due_this_month_fen is None
    assert got.arrears_months == 2  # December and January, amounts unknown
    pay(s, member, "2026-12", 2, "999", "R-UNKNOWN")  # no figure to refuse it against
    got = status(s, member)
    assert (got.arrears_months, got.paid_through) == (0, M("2027-01"))


def test_rate_of_a_month_is_the_newest_not_after_it_and_the_first_before_any(s):
    member = new_member(s, "T014", dues_from="2026-10")
    set_dues_rate(s, ACTOR, member, M("2026-12"), 1000, today=TODAY)
    set_dues_rate(s, ACTOR, member, M("2027-02"), 3000, today=TODAY)
    months = {
        m.month.strftime("%Y-%m"): m.due_fen for m in dues_months(member_ledger(s, member), TODAY)
    }
    assert months == {"2026-10": 1000, "2026-11": 1000, "2026-12": 1000, "2027-01": 1000,
                      "2027-02": 3000}  # fmt: skip
    assert status(s, member).monthly_fen == 3000
    assert status(s, member).owed_fen == 4000


def test_setting_the_same_month_again_replaces_its_amount_audited(s):
    member = new_member(s, "T015")
    set_dues_rate(s, ACTOR, member, M("2027-01"), 1000, today=TODAY)
    set_dues_rate(s, ACTOR, member, date(2027, 1, 20), 1200, today=TODAY)
    rates = s.execute(
        select(DuesRate.effective_from, DuesRate.amount_fen).where(DuesRate.member_id == member.id)
    ).all()
    assert rates == [(M("2027-01"), 1200)]
    event_ = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_id == member.id, AuditEvent.action == "dues.rate")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert '"amount_fen": 1000' in event_.before and '"amount_fen": 1200' in event_.after


@pytest.mark.parametrize(
    ("month", "fen", "field"),
    [
        (M("1999-12"), 1000, "effective_from"),
        (M("2032-03"), 1000, "effective_from"),  # more than five years ahead
        (M("2027-01"), -1, "amount"),
        (M("2027-01"), 10_000_001, "amount"),
    ],
)
def test_a_rate_out_of_bounds_is_refused_naming_the_field(s, month, fen, field):
    member = new_member(s, "T016")
    with pytest.raises(DuesError) as exc:
        set_dues_rate(s, ACTOR, member, month, fen, today=TODAY)
    assert list(exc.value.errors) == [field]
    assert s.scalar(select(func.count()).where(DuesRate.member_id == member.id)) == 0


def test_rates_at_the_bounds_are_accepted(s):
    member = new_member(s, "T017")
    set_dues_rate(s, ACTOR, member, M("2000-01"), 0, today=TODAY)
    set_dues_rate(s, ACTOR, member, M("2032-02"), 10_000_000, today=TODAY)
    assert s.scalar(select(func.count()).where(DuesRate.member_id == member.id)) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"months": 0}, "months"),
        ({"months": 25}, "months"),
        ({"amount_fen": 0}, "amount"),
        ({"amount_fen": 240_000_001}, "amount"),
        ({"method": "cheque"}, "method"),
        ({"receipt_no": "R 1"}, "receipt_no"),
        ({"receipt_no": "R" * 41}, "receipt_no"),
        ({"paid_on": date(2027, 2, 11)}, "paid_on"),  # tomorrow
        ({"paid_on": date(1999, 12, 31)}, "paid_on"),
        ({"first_month": M("1999-12")}, "first_month"),
    ],
)
def test_bad_payment_values_are_refused_naming_the_field(s, change, field):
    member = new_member(s, "T018", dues_from="2026-12")
    set_dues_rate(s, ACTOR, member, M("2026-12"), 1000, today=TODAY)
    values = {
        "first_month": M("2026-12"), "months": 1, "amount_fen": 1000, "method": "cash",
        "receipt_no": "R-BAD", "paid_on": TODAY, "today": TODAY,
    }  # fmt: skip
    with pytest.raises(DuesError) as exc:
        record_payment(s, ACTOR, member, **{**values, **change})
    assert list(exc.value.errors) == [field]
    assert s.scalar(select(func.count()).where(DuesPayment.member_id == member.id)) == 0


def test_wechat_counts_as_online(s):
    member = new_member(s, "T019", dues_from="2027-01")
    set_dues_rate(s, ACTOR, member, M("2027-01"), 1000, today=TODAY)
    assert pay(s, member, "2027-01", 1, "10", "R-WX", method="微信").method == "online"


def test_paid_through_is_none_when_the_first_owed_month_is_unpaid(s):
    member = new_member(s, "T020", dues_from="2026-11")
    set_dues_rate(s, ACTOR, member, M("2026-11"), 1000, today=TODAY)
    pay(s, member, "2026-12", 2, "20", "R-GAP")
    got = status(s, member)
    assert got.paid_through is None
    assert (got.arrears_months, got.first_arrears_month) == (1, M("2026-11"))


def test_member_starting_next_month_owes_nothing_yet(s):
    member = new_member(s, "T021", dues_from="2027-03")
    set_dues_rate(s, ACTOR, member, M("2027-03"), 1000, today=TODAY)
    got = status(s, member)
    assert (got.paid_through, got.arrears_months, got.owed_fen) == (None, 0, 0)
    assert got.this_month_state == "not_owed" and got.due_this_month_fen == 0
    assert got.tracked_from == M("2027-03")


def test_tracking_starts_at_the_later_of_the_organisation_and_the_member(s):
    member = new_member(s, "T022", joined_on="2015-07-01")
    set_dues_rate(s, ACTOR, member, M("2015-07"), 100, today=TODAY)
    current_organisation(s).dues_tracked_from = date(2026, 12, 1)
    s.flush()
    got = status(s, member)
    assert got.tracked_from == M("2026-12")
    assert got.arrears_months == 2


def test_dues_status_takes_the_organisations_start_when_given(s):
    member = new_member(s, "T023", dues_from="2020-01")
    assert dues_status(s, member, TODAY, date(2026, 12, 1)).arrears_months == 2
    assert dues_status(s, member, TODAY, date.max).tracked_from is None  # no organisation


def statements(s, call):
    seen = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT")):
            seen.append(statement)

    engine = s.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, seen


def test_dues_statuses_takes_the_same_statements_for_2_and_20_members(s):
    ids = list(s.scalars(select(Member.id).order_by(Member.id).limit(20)))
    s.commit()
    few, two = statements(s, lambda: dues_statuses(s, ids[:2], TODAY))
    many, twenty = statements(s, lambda: dues_statuses(s, ids, TODAY))
    assert (len(few), len(many)) == (2, 20)
    assert len(two) == len(twenty) <= 2, twenty
    # The same figures as one member at a time.
    assert many[ids[7]] == dues_status(s, s.get(Member, ids[7]), TODAY)


def test_dues_statuses_takes_a_whole_organisation_in_one_statement(s):
    # Bound once: SQLite takes at most 32,766 values in one statement.
    ids = list(range(1, 12_001))
    s.expunge_all()  # as in a new request: the organisation is read again
    got, seen = statements(s, lambda: dues_statuses(s, ids, TODAY))
    assert len(seen) == 2
    assert len(got) == s.scalar(select(func.count()).select_from(Member))


# Amounts and months as typed


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("12.5", 1250), ("12.50", 1250), ("１２", 1200), ("12", 1200), ("0.01", 1), (" 8 ", 800),
     ("¥20", 2000), ("20元", 2000), ("1,200.00", 120000), (12.5, 1250), (30, 3000)],
)  # fmt: skip
def test_amounts_typed_in_yuan_become_fen(typed, fen):
    assert parse_yuan(typed) == fen


@pytest.mark.parametrize("typed", ["-3", "1e5", "abc", "12.345", "", "12,5", "nan", "1.2.3"])
def test_amounts_that_are_not_yuan_are_refused(typed):
    with pytest.raises(ValueError):
        parse_yuan(typed)


@pytest.mark.parametrize(
    ("typed", "month"),
    [("2026-12", date(2026, 12, 1)), ("2026/1", date(2026, 1, 1)), ("2026年3月", date(2026, 3, 1)),
     ("2026.04", date(2026, 4, 1)), ("2026-05-17", date(2026, 5, 1)),
     (date(2026, 6, 9), date(2026, 6, 1))],
)  # fmt: skip
def test_months_are_read_in_the_ways_people_write_them(typed, month):
    assert parse_month(typed) == month


@pytest.mark.parametrize("typed", ["2026-13", "202612", "Dec 2026", "", "2026-00"])
def test_text_that_is_no_month_is_refused(typed):
    with pytest.raises(ValueError):
        parse_month(typed)


# Races (PostgreSQL: writers there do not queue; SQLite's do)


def test_a_receipt_recorded_meanwhile_is_refused_naming_receipt_no(app, backend):
    if backend != "postgresql":
        pytest.skip("on SQLite writers queue for the write lock: no two payments interleave")
    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        one, two = (
            new_member(s, "T030", dues_from="2027-01"),
            new_member(s, "T031", dues_from="2027-01"),
        )
        for member in (one, two):
            set_dues_rate(s, ACTOR, member, M("2027-01"), 1000, today=TODAY)
        s.commit()
        ids = (one.id, two.id)
    maker = app.extensions["db_sessionmaker"]
    holder = maker()
    outcome: dict[str, object] = {}
    try:
        with app.app_context():  # not committed yet: the receipt is taken, unseen by others
            pay(holder, holder.get(Member, ids[0]), "2027-01", 1, "10", "R-RACE")

        def second_writer() -> None:
            with app.app_context(), maker() as other:
                try:
                    pay(other, other.get(Member, ids[1]), "2027-01", 1, "10", "R-RACE")
                    other.commit()
                    outcome["error"] = None
                except DuesError as exc:
                    outcome["error"] = exc.errors
                    other.rollback()

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=1.0)  # it waits on the first's uncommitted receipt, or is done
        holder.commit()
        thread.join()
    finally:
        holder.close()
    assert outcome["error"] is not None and list(outcome["error"]) == ["receipt_no"]
    with app.app_context():
        count = db.session().scalar(select(func.count()).where(DuesPayment.receipt_no == "R-RACE"))
    assert count == 1


# The command line


def run(runner, *args: str):
    from qrservice.cli import main

    return runner.invoke(main, ["dues", *args])


@pytest.fixture
def cli_member(app):
    """A member of B01 owing from 2026-01 at 20 yuan a month, the organisation from 2020."""
    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        member = new_member(s, "C001", dues_from="2026-01")
        s.commit()
        return member.id


def test_cli_sets_an_amount_records_payments_and_shows_the_status(runner, app, cli_member):
    result = run(runner, "set-amount", "C001", "--yuan", "20", "--from", "2026-01")
    assert result.exit_code == 0, result.output
    result = run(runner, "pay", "C001", "--first", "2026-01", "--months", "2", "--yuan", "40",
                 "--method", "cash", "--receipt", "R-CLI-1", "--paid-on", "2026-02-05")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "R-CLI-1" in result.output
    result = run(runner, "status", "C001")
    assert result.exit_code == 0, result.output
    assert "2026-02" in result.output  # paid through
    with app.app_context():
        s = db.session()
        payment = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == "R-CLI-1"))
        assert (payment.months, payment.amount_fen, payment.method) == (2, 4000, "cash")


def test_cli_refuses_bad_input_naming_the_field_and_changes_nothing(runner, app, cli_member):
    run(runner, "set-amount", "C001", "--yuan", "20", "--from", "2026-01")
    result = run(runner, "pay", "C001", "--first", "2026-01", "--months", "1", "--yuan", "-3",
                 "--receipt", "R-CLI-2", "--paid-on", "2026-02-05")  # fmt: skip
    assert result.exit_code != 0
    assert "amount" in result.output
    result = run(runner, "pay", "C001", "--first", "2026-01", "--months", "1", "--yuan", "25",
                 "--receipt", "R-CLI-2", "--paid-on", "2026-02-05")  # fmt: skip
    assert result.exit_code != 0
    assert "amount" in result.output and "20.00" in result.output
    result = run(runner, "set-amount", "C001", "--yuan", "abc", "--from", "2026-01")
    assert result.exit_code != 0 and "amount" in result.output
    result = run(runner, "pay", "NOPE", "--first", "2026-01", "--yuan", "1", "--receipt", "R-X",
                 "--paid-on", "2026-02-05")  # fmt: skip
    assert result.exit_code != 0 and "number" in result.output
    with app.app_context():
        count = db.session().scalar(select(func.count()).where(DuesPayment.member_id == cli_member))
    assert count == 0


def test_cli_exempts_voids_and_lists_a_branchs_arrears(runner, app, cli_member):
    run(runner, "set-amount", "C001", "--yuan", "20", "--from", "2026-01")
    run(runner, "pay", "C001", "--first", "2026-01", "--months", "1", "--yuan", "20",
        "--receipt", "R-CLI-3", "--paid-on", "2026-01-05")  # fmt: skip
    result = run(runner, "exempt", "C001", "--from", "2026-02", "--to", "2026-03",
                 "--reason", "病休")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run(runner, "exempt", "C001", "--from", "2026-05")
    assert result.exit_code != 0 and "reason" in result.output
    result = run(runner, "void", "R-CLI-3", "--reason", "录错")
    assert result.exit_code == 0, result.output
    result = run(runner, "void", "R-CLI-3", "--reason", "again")
    assert result.exit_code != 0
    result = run(runner, "list", "--unit", "B01", "--arrears")
    assert result.exit_code == 0, result.output
    assert "C001" in result.output
    with app.app_context():
        s = db.session()
        assert s.scalar(select(DuesPayment.voided_at).where(DuesPayment.receipt_no == "R-CLI-3"))
        exemption = s.scalar(select(DuesExemption).where(DuesExemption.member_id == cli_member))
        assert (exemption.first_month, exemption.last_month) == (M("2026-02"), M("2026-03"))
        assert add_months(exemption.last_month, 1) == M("2026-04")


# The trail


def test_every_dues_action_reads_as_a_sentence_in_both_languages(app):
    from qrservice.audit_sentences import describe_event, load_names

    with app.app_context():
        s = db.session()
        current_organisation(s).dues_tracked_from = date(2020, 1, 1)
        member = new_member(s, "T040", dues_from="2026-12")
        set_dues_rate(s, ACTOR, member, M("2026-12"), 1000, today=TODAY)
        set_dues_rate(s, ACTOR, member, M("2026-12"), 1200, today=TODAY)
        payment = pay(s, member, "2026-12", 1, "12", "R-TRAIL", note="现金")
        void_payment(s, ACTOR, payment, "录错")
        exemption = add_exemption(s, ACTOR, member, M("2027-01"), None, "病休", today=TODAY)
        end_exemption(s, ACTOR, exemption, M("2027-02"), today=TODAY)
        void_exemption(s, ACTOR, exemption, "取消")
        s.commit()
        ids = list(
            s.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.entity_id == member.id, AuditEvent.action.like("dues.%"))
                .order_by(AuditEvent.id)
            )
        )
    for headers in ({"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}):
        with app.test_request_context(headers=headers):
            s = db.session()
            events = [s.get(AuditEvent, i) for i in ids]
            sentences = [describe_event(e, load_names(s, events)) for e in events]
            assert len(sentences) == 7
            for event, sentence in zip(events, sentences, strict=True):
                assert event.action not in sentence and "{" not in sentence, sentence
            assert "12.00" in sentences[1] and "10.00" in sentences[1]  # the amount it replaced
            assert "R-TRAIL" in sentences[2] and "R-TRAIL" in sentences[3]
            assert "录错" in sentences[3] and "病休" in sentences[4] and "取消" in sentences[6]
            assert "2027-02" in sentences[5]
