"""The issue's "done when", end to end on a fresh database: a new organisation set up from the
README's path (not the demo), its tree and members imported, a month of dues recorded, two
meetings held with a correction; then every page shows numbers that match those records."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from qrservice import create_app, db
from qrservice.cli import main
from qrservice.models import Meeting, Member
from qrservice.timeutil import add_months, local_time, month_start, utcnow
from tests.conftest import TEST_CONFIG
from tests.test_init_org import PASSWORD, init_args

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
EN = {"Accept-Language": "en"}


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result.output


def text_of(page: str) -> str:
    """A page's words, tags and runs of blanks gone, for reading numbers next to labels."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_new_organisation_from_nothing_shows_numbers_matching_its_records(
    empty_runner,
    tmp_path,
):
    cli = empty_runner
    ok(cli.invoke(main, init_args()))
    ok(cli.invoke(main, ["units", "import", str(SAMPLES / "units-sample.csv")]))
    ok(cli.invoke(main, ["import-members", str(SAMPLES / "members-sample.csv")]))

    # A month of dues: two members' amounts, a bank list paying one of them this month and
    # next (an advance), the other not yet.
    this_month = month_start(local_time(utcnow()).date())
    next_month = add_months(this_month, 1)
    ok(cli.invoke(main, ["dues", "set-amount", "20269001", "--yuan", "20",
                         "--from", f"{this_month:%Y-%m}"]))  # fmt: skip
    ok(cli.invoke(main, ["dues", "set-amount", "20269002", "--yuan", "12.5",
                         "--from", f"{this_month:%Y-%m}"]))  # fmt: skip
    bank = tmp_path / "bank.csv"
    bank.write_text(
        "党员编号,金额,起始月份,月数,方式,收据号,缴费日期,备注\n"
        f"20269001,40,{this_month:%Y-%m},2,转账,BK-0001,{local_time(utcnow()).date()},两个月\n",
        encoding="utf-8",
    )
    ok(cli.invoke(main, ["dues", "import", str(bank)]))

    # Two meetings: one of branch B01, one of group B02-G1, starting now.
    starts = local_time(utcnow()).strftime("%Y-%m-%d %H:%M")
    for unit, title in (("B01", "支部党员大会"), ("B02-G1", "党小组学习会")):
        ok(cli.invoke(main, ["meetings", "create", "--unit", unit, "--kind", "group"
                             if unit == "B02-G1" else "branch_general", "--title", title,
                             "--starts", starts, "--minutes", "90", "--points", "3"]))  # fmt: skip

    # The web side, on the same database the commands used.
    app = create_app(
        {**TEST_CONFIG, "DATABASE_URL": os.environ["DATABASE_URL"]}, data_dir=tmp_path / "data"
    )
    try:
        with app.app_context():
            s = db.session()
            meetings = {m.title: m.id for m in s.scalars(select(Meeting))}
            ids = {m.number: m.id for m in s.scalars(select(Member))}
            b01_expected = len(
                [m for m in s.scalars(select(Member)) if m.unit.code.startswith("B01")]
            )
        web: FlaskClient = app.test_client()
        login = web.post("/login", data={"username": "zuzhi", "password": PASSWORD})
        assert login.status_code == 302
        general, group = meetings["支部党员大会"], meetings["党小组学习会"]
        for meeting in (general, group):
            assert web.post(f"/meetings/{meeting}/open").status_code == 302
        checkin = web.post(
            f"/api/v1/meetings/{general}/checkins",
            json={"member_id": ids["20269001"], "nonce": uuid.uuid4().hex},
        )
        assert checkin.get_json()["status"] == "ok"
        for meeting in (general, group):
            closed = web.post(f"/meetings/{meeting}/close", data={"confirm": "yes"})
            assert closed.status_code == 302

        # The corrections, by command line: leave given by phone, a sign-in sheet's name.
        ok(cli.invoke(main, ["attendance", "correct", str(general), "--member", "20269002",
                             "--status", "excused", "--reason", "会前电话请假"]))  # fmt: skip
        ok(cli.invoke(main, ["attendance", "correct", str(group), "--member", "20269003",
                             "--status", "present", "--reason", "签到表有名"]))  # fmt: skip

        # The meeting's page: one present, one on leave, the rest of B01 absent.
        page = text_of(web.get(f"/meetings/{general}", headers=EN).get_data(as_text=True))
        assert "Present 1" in page and "On leave 1" in page, page
        listed = ok(cli.invoke(main, ["attendance", "list", str(general)]))
        statuses = sorted(re.findall(r"^2026\d+\t\S+\t(\w+)\t", listed, re.M))
        assert statuses == sorted(["present", "excused"] + ["absent"] * (b01_expected - 2))

        # Each member's page shows their own records.
        def member_page(number: str) -> str:
            response = web.get(f"/members/{ids[number]}", headers=EN)
            return text_of(response.get_data(as_text=True))

        first, second, third = (member_page(n) for n in ("20269001", "20269002", "20269003"))
        year = local_time(utcnow()).year
        assert f"Attendance {year} 1 / 1 (100%)" in first
        assert f"Points {year} 3 " in first
        assert f"Dues paid through {next_month:%Y-%m}" in first
        assert "Months in arrears 0" in first
        assert f"Attendance {year} 0 / 0" in second  # on leave: not against them
        assert f"Points {year} 0 " in second
        assert "Dues paid through nothing yet" in second
        assert f"Attendance {year} 1 / 1 (100%)" in third and f"Points {year} 3 " in third

        # The dues list of the committee: this month's collection and what is still due.
        dues = text_of(web.get("/dues/units/1", headers=EN).get_data(as_text=True))
        assert "20269001" in dues and "20269002" in dues
        status = ok(cli.invoke(main, ["dues", "status", "20269002"]))
        assert "12.50" in status

        # Nobody needs attention yet: new members, dues tracked from this month.
        attention = web.get("/attention/", headers=EN).get_data(as_text=True)
        assert "No one here needs attention." in attention
    finally:
        db.engine_of(app).dispose()
