"""The settled dues months (``dues_settled``) and the SQL boards count dues with: every dues
writer keeps the rows exact, and the SQL says what the Python ledger says, for generated
ledgers made through the real operations, for the demo, and after each writer (web forms, the
CLI, imports, the organisation's settings)."""

from __future__ import annotations

import contextlib
import io
import random
import threading
from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.dues import (
    EXEMPT,
    NOT_OWED,
    PAID,
    DuesError,
    add_exemption,
    dues_statuses,
    end_exemption,
    facts_of,
    ledger_from,
    member_ledger,
    org_dues_start,
    record_payment,
    set_dues_rate,
    void_exemption,
    void_payment,
)
from qrservice.life.dues_settled import (
    arrears_months,
    dues_start_index,
    in_arrears,
    owes_between,
    refresh_settled,
    settled_spans,
    settled_through,
)
from qrservice.models import DuesPayment, DuesSettled, Member, Unit
from qrservice.org.members import clean_member, create_member, member_values, update_member
from qrservice.org.organisation import update_organisation
from qrservice.timeutil import add_months, local_today, month_start
from tests.test_scan_costs import statements_of

ACTOR = Actor.system("test")
#: The day the generated ledgers are made on (every operation takes it).
TODAY = date(2027, 2, 10)
#: Days the SQL arrears are compared on: before, inside and after the generated records.
DAYS = [date(2019, 3, 15), date(2021, 7, 1), date(2024, 12, 31), date(2026, 11, 22), TODAY,
        date(2028, 5, 5), date(2031, 1, 1)]  # fmt: skip
SETTLED_OR_NOT_OWED = (PAID, EXEMPT, NOT_OWED)


def _index(month: date) -> int:
    return month.year * 12 + month.month - 1


def months_between(first: date, last: date) -> list[date]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def sql_arrears(s, ids: list[int], before: date) -> dict[int, int]:
    """member id → months in arrears before ``before``, by SQL (checking that in_arrears
    says the same as a count above 0)."""
    org_start = org_dues_start(s)
    query = select(
        Member.id, arrears_months(org_start, before), in_arrears(org_start, before)
    ).where(Member.id.in_(ids))
    rows = s.execute(query).all()
    assert [(i, bool(late)) for i, _n, late in rows] == [(i, n > 0) for i, n, _late in rows]
    return {member_id: int(n) for member_id, n, _late in rows}


def sql_period(s, ids: list[int], first: date, last: date) -> dict[int, tuple[bool, bool]]:
    """member id → (settled through the period, owes in the period), by SQL."""
    org_start = org_dues_start(s)
    query = select(
        Member.id, settled_through(org_start, first, last), owes_between(org_start, first, last)
    ).where(Member.id.in_(ids))
    return {member_id: (bool(a), bool(b)) for member_id, a, b in s.execute(query)}


def python_period(s, ids: list[int], first: date, last: date) -> dict[int, tuple[bool, bool]]:
    org_start = org_dues_start(s)
    out = {}
    for member_id, facts in facts_of(s, ids).items():
        ledger = ledger_from(facts, org_start)
        months = months_between(first, last)
        out[member_id] = (
            all(ledger.state(m) in SETTLED_OR_NOT_OWED for m in months),
            any(ledger.owed(m) for m in months),
        )
    return out


def assert_sql_agrees(s, ids: list[int], days=DAYS, periods=()) -> None:
    """The SQL arrears equal the ledger's on each day; settled/owing equal the ledger's month
    states for each period."""
    for day in days:
        python = {i: st.arrears_months for i, st in dues_statuses(s, ids, day).items()}
        assert sql_arrears(s, ids, month_start(day)) == python, day
    for first, last in periods:
        assert sql_period(s, ids, first, last) == python_period(s, ids, first, last), (first, last)


def quarters(first_year: int, last_year: int) -> list[tuple[date, date]]:
    return [
        (date(y, q, 1), date(y, q + 2, 1))
        for y in range(first_year, last_year + 1)
        for q in (1, 4, 7, 10)
    ]


def years(first_year: int, last_year: int) -> list[tuple[date, date]]:
    return [(date(y, 1, 1), date(y, 12, 1)) for y in range(first_year, last_year + 1)]


def single_months(first: date, last: date) -> list[tuple[date, date]]:
    return [(m, m) for m in months_between(first, last)]


@pytest.fixture
def s(app):
    """A session on the test's copy of the demo, dues tracked from 2020-01 (set through the
    organisation's settings, which rebuild the settled months)."""
    with app.app_context():
        session = db.session()
        update_organisation(session, ACTOR, dues_tracked_from="2020-01")
        session.commit()
        yield session


def new_member(s, number: str, joined_on: date, dues_from: date | None = None) -> Member:
    units = {"B01-G1": s.scalar(select(Unit).where(Unit.code == "B01-G1"))}
    raw = {
        "number": number, "name": "测试党员", "gender": "女", "joined_on": joined_on.isoformat(),
        "status": "正式", "unit": "B01-G1", "floating": "否",
        "dues_from": f"{dues_from:%Y-%m}" if dues_from else "",
    }  # fmt: skip
    return create_member(s, ACTOR, clean_member(raw, units, TODAY), "key")


def random_month(rnd: random.Random, first: date, last: date) -> date:
    return add_months(first, rnd.randint(0, _index(last) - _index(first)))


def random_payment(rnd: random.Random, s, member: Member, receipt: str) -> DuesPayment | None:
    """A payment through record_payment: partial, full, in advance, or across gaps."""
    first = random_month(rnd, date(2019, 1, 1), date(2028, 6, 1))
    months = rnd.choice([1, 1, 2, 3, 6, 12])
    still = member_ledger(s, member).still_owed(first, months)
    if still == 0:
        return None
    if still is None:
        amount = rnd.randint(1, 5000)
    else:
        amount = rnd.choice([still, still, rnd.randint(1, still)])
    return record_payment(
        s, ACTOR, member, first_month=first, months=months, amount_fen=amount, method="cash",
        receipt_no=receipt, paid_on=date(2027, 1, 5), today=TODAY,
    )  # fmt: skip


def random_ledger(rnd: random.Random, s, member: Member, tag: str) -> None:
    """Rates with changes, payments before and after them, exemptions open, closed, ended and
    voided, voided payments: each through its operation, in an order that makes later ones
    move what earlier payments gave."""
    for _ in range(rnd.choice([0, 1, 1, 2, 3])):
        fen = rnd.choice([0, 500, 1000, 1000, 1250, 3000])
        set_dues_rate(s, ACTOR, member, random_month(rnd, date(2018, 1, 1), date(2028, 12, 1)),
                      fen, today=TODAY)  # fmt: skip
    payments = []
    for j in range(rnd.randint(0, 5)):
        payments.append(random_payment(rnd, s, member, f"{tag}-{j}"))
    exemptions = []
    for _ in range(rnd.choice([0, 0, 1, 1, 2])):
        first = random_month(rnd, date(2018, 6, 1), date(2028, 6, 1))
        last = None if rnd.random() < 0.3 else add_months(first, rnd.randint(0, 18))
        with contextlib.suppress(DuesError):  # refused when it overlaps the first one
            exemptions.append(add_exemption(s, ACTOR, member, first, last, "病休", today=TODAY))
    for exemption in exemptions:
        roll = rnd.random()
        if roll < 0.25:
            last = add_months(exemption.first_month, rnd.randint(0, 6))
            with contextlib.suppress(DuesError):  # refused when it would overlap another
                end_exemption(s, ACTOR, exemption, last, today=TODAY)
        elif roll < 0.45:
            void_exemption(s, ACTOR, exemption, "录错")
    for j in range(rnd.randint(0, 3)):
        payments.append(random_payment(rnd, s, member, f"{tag}-b{j}"))
    live = [p for p in payments if p is not None]
    if live and rnd.random() < 0.35:
        void_payment(s, ACTOR, rnd.choice(live), "重复")
    if rnd.random() < 0.3:
        fen = rnd.choice([0, 800, 2000])
        set_dues_rate(s, ACTOR, member, random_month(rnd, date(2019, 1, 1), date(2027, 12, 1)),
                      fen, today=TODAY)  # fmt: skip


def generated_members(s, seed: int, n: int) -> list[int]:
    rnd = random.Random(seed)
    ids = []
    for i in range(n):
        joined = date(rnd.randint(2016, 2026), rnd.randint(1, 12), rnd.randint(1, 28))
        own = None
        if rnd.random() < 0.5:
            own = random_month(rnd, month_start(joined), date(2027, 12, 1))
        member = new_member(s, f"S{seed:02d}{i:03d}", joined, own)
        random_ledger(rnd, s, member, f"R{seed}-{i}")
        ids.append(member.id)
    s.commit()
    return ids


# The SQL against the Python ledger


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_arrears_and_settled_periods_equal_the_ledger_for_generated_members(s, seed):
    ids = generated_members(s, seed, 40)
    periods = single_months(date(2019, 6, 1), date(2028, 3, 1)) + quarters(2019, 2028)
    assert_sql_agrees(s, ids, periods=periods + years(2018, 2030))


def test_generated_ledgers_give_runs_of_every_kind(s):
    """The generator reaches what the SQL must handle: open runs, gaps, zero amounts, voids."""
    ids = generated_members(s, 4, 40)
    runs = s.execute(select(DuesSettled).where(DuesSettled.member_id.in_(ids))).scalars().all()
    by_member = defaultdict(list)
    for run in runs:
        by_member[run.member_id].append(run)
    assert any(r.last_month is None for r in runs)
    assert any(len(member_runs) >= 3 for member_runs in by_member.values())
    arrears = sql_arrears(s, ids, month_start(TODAY))
    assert any(arrears.values()) and not all(arrears.values())
    voided = s.scalar(
        select(func.count()).where(
            DuesPayment.member_id.in_(ids), DuesPayment.voided_at.is_not(None)
        )
    )
    assert voided > 0


def test_moving_the_dues_start_rebuilds_every_members_runs(s):
    ids = generated_members(s, 5, 30)
    update_organisation(s, ACTOR, dues_tracked_from="2023-06")
    s.flush()
    assert_sql_agrees(s, ids, periods=quarters(2022, 2028))
    update_organisation(s, ACTOR, dues_tracked_from="2019-02")
    s.flush()
    assert_sql_agrees(s, ids, periods=quarters(2018, 2028))


def test_changing_a_members_dues_start_or_joining_date_refreshes_their_runs(s):
    ids = generated_members(s, 6, 20)
    units = {"B01-G1": s.scalar(select(Unit).where(Unit.code == "B01-G1"))}
    for member_id in ids[:10]:
        member = s.get(Member, member_id)
        raw = {k: v for k, v in member_values(member).items() if k != "unit"}
        raw = {k: ("" if v is None else str(v)) for k, v in raw.items()}
        raw.update(unit="B01-G1", gender="女", status="正式", floating="否", active="是",
                   joined_on="2016-03-09", dues_from="2024-02")  # fmt: skip
        assert update_member(s, ACTOR, member, clean_member(raw, units, TODAY), "key")
    s.flush()
    assert all(s.get(Member, i).dues_from == date(2024, 2, 1) for i in ids[:10])  # the edits took
    assert_sql_agrees(s, ids, periods=quarters(2023, 2028))


def test_a_member_who_joined_mid_month_owes_that_month_in_sql_too(s):
    member = new_member(s, "S99001", date(2026, 11, 17))
    set_dues_rate(s, ACTOR, member, date(2026, 11, 1), 1500, today=TODAY)
    s.flush()
    assert s.scalar(select(dues_start_index(date(2020, 1, 1))).where(Member.id == member.id)) == (
        2026 * 12 + 10
    )
    # November, December and January owed; February is this month, not yet in arrears.
    assert sql_arrears(s, [member.id], date(2027, 2, 1)) == {member.id: 3}
    assert sql_arrears(s, [member.id], date(2026, 11, 1)) == {member.id: 0}
    assert sql_period(s, [member.id], date(2026, 7, 1), date(2026, 9, 1)) == {
        member.id: (True, False)
    }
    assert sql_period(s, [member.id], date(2026, 10, 1), date(2026, 12, 1)) == {
        member.id: (False, True)
    }


def test_a_zero_amount_settles_its_months_without_a_payment(s):
    member = new_member(s, "S99002", date(2018, 5, 2), date(2024, 1, 1))
    set_dues_rate(s, ACTOR, member, date(2024, 1, 1), 1000, today=TODAY)
    set_dues_rate(s, ACTOR, member, date(2025, 1, 1), 0, today=TODAY)
    set_dues_rate(s, ACTOR, member, date(2026, 1, 1), 1000, today=TODAY)
    s.flush()
    assert settled_spans(member_ledger(s, member)) == [(date(2025, 1, 1), date(2025, 12, 1))]
    assert sql_arrears(s, [member.id], date(2027, 2, 1)) == {member.id: 37 - 12}
    assert sql_period(s, [member.id], date(2025, 4, 1), date(2025, 6, 1)) == {
        member.id: (True, True)
    }


def test_sql_counts_grouped_by_unit_equal_the_ledger_in_one_statement(s, app):
    """What a board does: count per unit, over members, in one statement."""
    ids = generated_members(s, 7, 30)
    org_start = org_dues_start(s)
    before, first, last = date(2027, 2, 1), date(2026, 10, 1), date(2026, 12, 1)
    query = (
        select(
            Member.unit_id,
            func.count().filter(in_arrears(org_start, before)),
            func.coalesce(func.sum(arrears_months(org_start, before)), 0),
            func.count().filter(owes_between(org_start, first, last)),
            func.count().filter(
                owes_between(org_start, first, last), settled_through(org_start, first, last)
            ),
        )
        .where(Member.active.is_(True))
        .group_by(Member.unit_id)
    )
    _result, statements = statements_of(app, lambda: s.execute(query).all())
    assert len(statements) == 1
    got = {row[0]: tuple(int(v) for v in row[1:]) for row in s.execute(query)}
    all_ids = list(s.scalars(select(Member.id).where(Member.active.is_(True))))
    units = dict(s.execute(select(Member.id, Member.unit_id).where(Member.id.in_(all_ids))).all())
    statuses = dues_statuses(s, all_ids, date(2027, 2, 10))
    periods = python_period(s, all_ids, first, last)
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for member_id in all_ids:
        row = expected[units[member_id]]
        arrears = statuses[member_id].arrears_months
        settled, owes = periods[member_id]
        row[0] += arrears > 0
        row[1] += arrears
        row[2] += owes
        row[3] += owes and settled
    assert got == {unit: tuple(v) for unit, v in expected.items()}
    assert set(ids) <= set(all_ids)


# The demo


def test_the_demos_settled_months_agree_with_the_ledger_for_every_member(app):
    with app.app_context():
        s = db.session()
        ids = list(s.scalars(select(Member.id)))
        assert s.scalar(select(func.count()).select_from(DuesSettled)) > 0
        today = local_today()
        this = month_start(today)
        days = [add_months(today, k) for k in (-13, -6, -1, 0, 1, 12)]
        periods = single_months(add_months(this, -14), add_months(this, 3))
        periods += [(add_months(this, -k - 2), add_months(this, -k)) for k in range(0, 12, 3)]
        periods += [(date(today.year - 1, 1, 1), date(today.year - 1, 12, 1))]
        assert_sql_agrees(s, ids, days=days, periods=periods)
        # The rows are what the ledger gives: the hooks missed nothing while the demo was built.
        org_start = org_dues_start(s)
        stored = defaultdict(list)
        for run in s.scalars(select(DuesSettled).order_by(DuesSettled.first_month)):
            stored[run.member_id].append((run.first_month, run.last_month))
        for member_id, facts in facts_of(s, ids).items():
            assert stored.get(member_id, []) == settled_spans(ledger_from(facts, org_start))


# Each writer refreshes


def arrears_now(app, member_id: int) -> int:
    with app.app_context():
        return sql_arrears(db.session(), [member_id], month_start(local_today()))[member_id]


def web_member(app, number: str, months_ago: int, fen: int = 1000) -> int:
    """A member owing ``fen`` a month from ``months_ago`` months back (the real today)."""
    this = month_start(local_today())
    with app.app_context():
        s = db.session()
        units = {"B01-G1": s.scalar(select(Unit).where(Unit.code == "B01-G1"))}
        raw = {
            "number": number, "name": "测试党员", "gender": "男", "joined_on": "2015-07-01",
            "status": "正式", "unit": "B01-G1", "floating": "否",
            "dues_from": f"{add_months(this, -months_ago):%Y-%m}",
        }  # fmt: skip
        member = create_member(s, ACTOR, clean_member(raw, units), "key")
        set_dues_rate(s, ACTOR, member, add_months(this, -months_ago), fen)
        s.commit()
        return member.id


def ym(months_from_now: int) -> str:
    return f"{add_months(month_start(local_today()), months_from_now):%Y-%m}"


def test_a_payment_through_the_form_and_its_void_move_the_sql_arrears(client, auth, app):
    member = web_member(app, "S98001", months_ago=3)
    assert arrears_now(app, member) == 3
    auth.as_secretary(1)
    response = client.post(
        f"/dues/members/{member}/payments",
        data={"first_month": ym(-3), "months": "2", "amount": "20", "method": "cash",
              "receipt_no": "S-WEB-1", "paid_on": local_today().isoformat()},
    )  # fmt: skip
    assert response.status_code == 303
    assert arrears_now(app, member) == 1
    with app.app_context():
        payment = db.session().scalar(
            select(DuesPayment.id).where(DuesPayment.receipt_no == "S-WEB-1")
        )
    response = client.post(
        f"/dues/payments/{payment}/void", data={"reason": "录错", "confirm": "yes"}
    )
    assert response.status_code in (302, 303)
    assert arrears_now(app, member) == 3


def test_an_exemption_through_the_form_clears_its_months_from_the_sql_arrears(client, auth, app):
    member = web_member(app, "S98002", months_ago=4)
    auth.as_secretary(1)
    response = client.post(
        f"/dues/members/{member}/exemptions",
        data={"first_month": ym(-3), "last_month": ym(-2), "reason": "长期病休"},
    )
    assert response.status_code in (302, 303)
    assert arrears_now(app, member) == 2  # four months back and last month


def test_a_payment_by_the_command_line_drops_the_sql_arrears(runner, app):
    from qrservice.cli import main

    member = web_member(app, "S98003", months_ago=2, fen=2000)
    assert arrears_now(app, member) == 2
    result = runner.invoke(main, ["dues", "pay", "S98003", "--first", ym(-2), "--months", "1",
                                  "--yuan", "20", "--receipt", "S-CLI-1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert arrears_now(app, member) == 1
    result = runner.invoke(main, ["dues", "void", "S-CLI-1", "--reason", "录错"])
    assert result.exit_code == 0, result.output
    assert arrears_now(app, member) == 2


def test_moving_the_dues_start_on_the_settings_page_moves_the_sql_arrears(client, auth, app):
    member = web_member(app, "S98004", months_ago=10)  # the demo tracks dues from a year ago
    assert arrears_now(app, member) == 10
    auth.login()
    with app.app_context():
        name = db.session().scalar(select(Unit.name).where(Unit.code == "C01"))
    response = client.post(
        "/settings/organisation", data={"name": name, "dues_tracked_from": ym(-5)}
    )
    assert response.status_code == 302
    assert arrears_now(app, member) == 5
    response = client.post(
        "/settings/organisation", data={"name": name, "dues_tracked_from": ym(-40)}
    )
    assert response.status_code == 302
    assert arrears_now(app, member) == 10  # from the member's own start again
    with app.app_context():
        s = db.session()
        ids = list(s.scalars(select(Member.id)))
        assert_sql_agrees(s, ids, days=[local_today()])


def test_a_payments_import_drops_the_sql_arrears_of_every_member_in_it(client, auth, app):
    first = web_member(app, "S98005", months_ago=3)
    second = web_member(app, "S98006", months_ago=2)
    today = local_today().isoformat()
    data = (
        "党员编号,金额,起始月份,月数,方式,收据号,缴费日期\n"
        f"S98005,30,{ym(-3)},3,转账,S-IMP-1,{today}\n"
        f"S98006,10,{ym(-2)},1,转账,S-IMP-2,{today}\n"
    ).encode()
    from qrservice.life.dues_io import apply_payments, read_payments

    with app.app_context():
        s = db.session()
        scope = s.scalar(select(Unit).where(Unit.code == "C01"))
        apply_payments(s, ACTOR, scope, read_payments(data, "payments.csv"))
        s.commit()
    assert (arrears_now(app, first), arrears_now(app, second)) == (0, 1)


def test_a_member_import_with_a_dues_start_gives_the_new_members_their_runs(client, auth, app):
    header = (
        "党员编号,姓名,性别,手机,入党日期,党员类别,所在单位,流动党员,流动地点,流动开始日期,"
        "党费起缴月份"
    )
    data = (
        f"{header}\n"
        f"S97001,新党员甲,男,,2001-07-01,正式,B01-G1,否,,,{ym(-4)}\n"
        f"S97002,新党员乙,女,,2001-07-01,正式,B01-G1,否,,,{ym(-2)}\n"
    ).encode()
    auth.login()
    response = client.post(
        "/members/import", data={"file": (io.BytesIO(data), "members.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert 'action="/members/import/' in page, page[-3000:]
    token = page.split('action="/members/import/')[1].split("/apply")[0]
    assert client.post(f"/members/import/{token}/apply").status_code == 302
    with app.app_context():
        s = db.session()
        ids = dict(
            s.execute(select(Member.number, Member.id).where(Member.number.like("S970%"))).all()
        )
        # Without an amount any payment pays a month; a zero amount settles every month.
        set_dues_rate(s, ACTOR, s.get(Member, ids["S97002"]), month_start(local_today()), 0)
        s.commit()
        assert sql_arrears(s, list(ids.values()), month_start(local_today())) == {
            ids["S97001"]: 4, ids["S97002"]: 0,
        }  # fmt: skip
    # Moving the first one's dues start by a second import refreshes it too.
    data = (f"{header}\nS97001,新党员甲,男,,2001-07-01,正式,B01-G1,否,,,{ym(-1)}\n").encode()
    response = client.post(
        "/members/import", data={"file": (io.BytesIO(data), "members.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert 'action="/members/import/' in page, page[-3000:]
    token = page.split('action="/members/import/')[1].split("/apply")[0]
    assert client.post(f"/members/import/{token}/apply").status_code == 302
    assert arrears_now(app, ids["S97001"]) == 1


# Cost


def test_refreshing_2_or_20_members_takes_the_same_statements(s, app):
    ids = generated_members(s, 8, 20)
    with_runs = sorted(
        set(s.scalars(select(DuesSettled.member_id).where(DuesSettled.member_id.in_(ids))))
    )
    ids = with_runs + [i for i in ids if i not in with_runs]  # the first two have rows to write
    refresh_settled(s, ids[:1])  # the organisation is read once per session
    _r, few = statements_of(app, lambda: refresh_settled(s, ids[:2]))
    _r, many = statements_of(app, lambda: refresh_settled(s, ids))
    assert len(few) == len(many) <= 4, many  # PostgreSQL locks the members' rows first
    assert_sql_agrees(s, ids, days=[TODAY])


# Two writers at once


def test_two_writers_changing_one_members_dues_at_once_leave_the_runs_of_both(app, backend):
    if backend != "postgresql":
        pytest.skip("on SQLite writers queue for the write lock: no two writers interleave")
    with app.app_context():
        s = db.session()
        update_organisation(s, ACTOR, dues_tracked_from="2020-01")
        member = new_member(s, "S96001", date(2016, 3, 1), date(2027, 1, 1))
        set_dues_rate(s, ACTOR, member, date(2027, 1, 1), 1000, today=TODAY)
        set_dues_rate(s, ACTOR, member, date(2027, 3, 1), 1000, today=TODAY)
        record_payment(
            s, ACTOR, member, first_month=date(2027, 1, 1), months=1, amount_fen=1000,
            method="cash", receipt_no="S-RACE-1", paid_on=date(2027, 1, 5), today=TODAY,
        )  # fmt: skip
        s.commit()
        member_id = member.id
    maker = app.extensions["db_sessionmaker"]
    holder = maker()
    errors: list[BaseException] = []
    try:
        with app.app_context():  # March and April exempt, not committed yet
            add_exemption(holder, ACTOR, holder.get(Member, member_id), date(2027, 3, 1),
                          date(2027, 4, 1), "病休", today=TODAY)  # fmt: skip

        def second_writer() -> None:  # February's amount 0 meanwhile
            with app.app_context(), maker() as other:
                try:
                    set_dues_rate(other, ACTOR, other.get(Member, member_id), date(2027, 2, 1),
                                  0, today=TODAY)  # fmt: skip
                    other.commit()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=1.0)  # it waits for the first's member lock, or is done
        holder.commit()
        thread.join()
    finally:
        holder.close()
    assert errors == []
    with app.app_context():
        s = db.session()
        runs = s.execute(
            select(DuesSettled.first_month, DuesSettled.last_month)
            .where(DuesSettled.member_id == member_id)
        ).all()  # fmt: skip
        # January paid, February at 0, March and April exempt: one run.
        assert runs == [(date(2027, 1, 1), date(2027, 4, 1))]
        assert_sql_agrees(s, [member_id], days=[TODAY, date(2027, 6, 1)])


# The migration


def test_upgrading_a_database_with_payments_fills_the_settled_months(empty_database_url):
    """Migration 0008 writes every member's runs from the records already there (here: a
    0005 database, whose organisation 0006 makes with dues tracked from 2025-12)."""
    from sqlalchemy import text

    from qrservice import schema
    from qrservice.db import make_engine

    engine = make_engine(empty_database_url)
    schema.upgrade(engine, "0005")
    payment = (
        "INSERT INTO dues_payment (member_id, first_month, months, amount_fen, method, "
        "receipt_no, paid_on, recorded_by, recorded_at) VALUES "
    )
    rows = [
        "INSERT INTO unit (id, kind, name, code, parent_id, path, created_at) VALUES "
        "(1, 'committee', '老党委', 'C01', NULL, '/1/', '2025-01-01 00:00:00'), "
        "(2, 'branch', '一支部', 'B01', 1, '/1/2/', '2025-01-01 00:00:00')",
        "INSERT INTO member (id, number, name, gender, joined_on, status, unit_id, floating, "
        "active, created_at, updated_at, dues_monthly_fen) VALUES (1, 'M1', '王一', 'male', "
        "'2001-07-01', 'full', 2, false, true, '2025-01-01 00:00:00', "
        "'2025-01-01 00:00:00', 1500), (2, 'M2', '王二', 'male', '2001-07-01', 'full', 2, "
        "false, true, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1500)",
        f"{payment}(1, '2025-12-01', 3, 4500, 'cash', 'R-1', '2026-01-05', 'cli', "
        "'2026-01-05 00:00:00'), (1, '2026-04-01', 1, 1500, 'cash', 'R-2', '2026-04-05', "
        "'cli', '2026-04-05 00:00:00'), (1, '2025-06-01', 1, 1500, 'cash', 'R-3', "
        "'2025-06-05', 'cli', '2025-06-05 00:00:00')",
    ]
    with engine.begin() as conn:
        for statement in rows:
            conn.execute(text(statement))
    try:
        schema.upgrade(engine)
        with engine.connect() as conn:
            runs = conn.execute(
                select(DuesSettled.member_id, DuesSettled.first_month, DuesSettled.last_month)
                .order_by(DuesSettled.member_id, DuesSettled.first_month)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    # 2025-06 was paid before dues were tracked: not a run. The second member paid nothing.
    assert runs == [
        (1, date(2025, 12, 1), date(2026, 2, 1)),
        (1, date(2026, 4, 1), date(2026, 4, 1)),
    ]
