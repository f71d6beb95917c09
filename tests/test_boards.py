"""Boards: the branch board and the organiser's overview show figures that match the records,
count in the database (a 200-member branch takes the statements a 20-member one does), and
the issue's "done when": an organiser reads last quarter's 三会一课 gaps, attendance and dues
against targets, and prints the committee's report, on a fresh organisation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from qrservice import create_app, db
from qrservice.audit import Actor
from qrservice.boards.board import branch_board
from qrservice.boards.overview import activity_record, overview
from qrservice.boards.periods import period_of
from qrservice.cli import main
from qrservice.life.attention import AttentionFilter, attention_list
from qrservice.life.meetings import (
    MeetingFields,
    cancel_meeting,
    close_checkin,
    create_meeting,
    open_checkin,
)
from qrservice.models import Attendance, Meeting, Member, PointsEntry, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.org.units import create_unit
from qrservice.signing_keys import key_ring
from qrservice.timeutil import add_months, from_local, local_today, utcnow
from scan.checkin import redeem
from tests.conftest import TEST_CONFIG
from tests.test_init_org import PASSWORD, init_args
from tests.test_scan_costs import statements_of

ACTOR = Actor.system("test")
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
EN = {"Accept-Language": "en"}


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return result.output


def unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


# The overview counts what the member pages say.


def test_overview_warnings_and_arrears_match_each_members_standing(app):
    """The overview counts warnings and arrears in SQL; the attention list works them out per
    member in Python: for every demo branch they agree."""
    with app.app_context():
        s = db.session()
        today = local_today()
        committee = s.scalar(select(Unit).where(Unit.code == "C01"))
        rows = overview(s, committee, period_of("month", today), today).rows
        assert len(rows) == 4
        for row in rows:
            branch = s.get(Unit, row.unit_id)
            listing = attention_list(s, branch, AttentionFilter("all"), today)
            warned = [r for r in listing.rows if r.standing.warning]
            assert row.red == sum(1 for r in warned if r.standing.warning == "red"), row.code
            assert row.yellow == sum(1 for r in warned if r.standing.warning == "yellow")
            assert row.dues.in_arrears == listing.counts["arrears"], row.code
            members = s.scalars(
                select(Member)
                .join(Unit, Unit.id == Member.unit_id)
                .where(Member.active.is_(True), Unit.path.startswith(branch.path))
            ).all()
            assert row.members == len(members)
        assert sum(r.red + r.yellow for r in rows) > 0  # the demo has warned members


def test_a_member_whose_dues_start_lately_is_warned_from_their_last_meeting(app):
    """The clock runs from the last meeting attended; only a member who never attended one
    counts from when they came under watch (their dues start). Both as the member's page."""
    from tests.test_attention import add_member, attend

    lapsed = add_member(app, "A0101", "B01-G1", dues_months_ago=1)
    attend(app, lapsed, "B01-G1", days_ago=240)
    newcomer = add_member(app, "A0102", "B01-G1", dues_months_ago=1)
    with app.app_context():
        s = db.session()
        today = local_today()
        committee = s.scalar(select(Unit).where(Unit.code == "C01"))
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        row = next(
            r
            for r in overview(s, committee, period_of("month", today), today).rows
            if r.code == "B01"
        )
        listing = attention_list(s, b01, AttentionFilter("all"), today)
        warning = {r.member.id: r.standing.warning for r in listing.rows}
    assert warning.get(lapsed) == "red" and warning.get(newcomer) is None
    assert row.red == sum(1 for w in warning.values() if w == "red")
    assert row.yellow == sum(1 for w in warning.values() if w == "yellow")


def test_board_attendance_matches_the_attendance_rows_of_its_closed_meetings(app):
    with app.app_context():
        s = db.session()
        today = local_today()
        branch = s.scalar(select(Unit).where(Unit.code == "B02"))
        period = period_of("quarter", today).previous()
        board = branch_board(s, branch, period, today)
        inside = select(Unit.id).where(Unit.path.startswith(branch.path))
        statuses = s.scalars(
            select(Attendance.status)
            .join(Meeting, Meeting.id == Attendance.meeting_id)
            .where(
                Meeting.unit_id.in_(inside),
                Meeting.status == "closed",
                Meeting.starts_at >= period.starts_at,
                Meeting.starts_at < period.ends_at,
            )
        ).all()
        attended = sum(1 for x in statuses if x in ("present", "late", "made_up"))
        absent = statuses.count("absent")
        assert attended + absent > 0
        assert board.measures.attendance.attended == attended
        assert board.measures.attendance.absent == absent
        assert board.measures.attendance.percent == round(100 * attended / (attended + absent))
        assert sum(r.meetings for r in board.by_kind.values()) == board.measures.attendance.meetings
        # The trend's last month is the period's last month, and holds its meetings.
        assert board.trend[-1].month == add_months(period.end, -1)
        assert len(board.trend) == 12


# Counted by the database: the statements do not grow with the branch.


def _branch_with(app, code: str, members: int) -> int:
    """A branch with a group, ``members`` members, two closed meetings they attended (or
    missed) and a points line each."""
    with app.app_context():
        s = db.session()
        committee = s.scalar(select(Unit).where(Unit.code == "C01"))
        branch = create_unit(s, ACTOR, kind="branch", name=f"测试支部{code}", code=code,
                             parent=committee)  # fmt: skip
        group = create_unit(s, ACTOR, kind="group", name="测试小组", code=f"{code}-G1",
                            parent=branch)  # fmt: skip
        people = []
        for i in range(members):
            raw = {
                "number": f"{code[1:]}{i:04d}", "name": f"成员{i}", "gender": "male",
                "joined_on": "2001-07-01", "status": "full", "unit": group.code,
            }  # fmt: skip
            people.append(create_member(s, ACTOR, clean_member(raw, {group.code: group}), "k" * 32))
        s.flush()
        starts = utcnow() - timedelta(days=20)
        for unit in (branch, group):
            meeting = Meeting(
                unit_id=unit.id, kind="theme_day" if unit is branch else "group", title="会",
                starts_at=starts, ends_at=starts + timedelta(hours=1), status="closed",
                created_by="test", created_at=starts, closed_at=starts,
            )  # fmt: skip
            s.add(meeting)
            s.flush()
            for k, member in enumerate(people):
                status = "present" if k % 3 else "absent"
                s.add(Attendance(meeting_id=meeting.id, member_id=member.id, status=status,
                                 via="manual", checked_in_at=starts,
                                 recorded_by="test"))  # fmt: skip
        for member in people:
            s.add(PointsEntry(member_id=member.id, at=starts, points=2, kind="award",
                              reason="测试", recorded_by="test"))  # fmt: skip
        s.commit()
        return branch.id


def test_a_200_member_branch_board_takes_the_statements_a_20_member_one_does(app, client, auth):
    small, large = _branch_with(app, "B71", 20), _branch_with(app, "B72", 200)
    today = local_today()
    period = period_of("month", today)

    def board_of(branch_id: int):  # type: ignore[no-untyped-def]
        def call():  # type: ignore[no-untyped-def]
            with app.app_context():
                s = db.new_session()
                try:
                    return branch_board(s, s.get(Unit, branch_id), period, today)
                finally:
                    s.close()

        return call

    few_board, few = statements_of(app, board_of(small))
    many_board, many = statements_of(app, board_of(large))
    assert few_board.measures.members == 20 and many_board.measures.members == 200
    assert many_board.measures.attendance.expected == 400
    assert len(many) == len(few), (len(few), len(many))

    # The pages too, as the organiser reads them.
    auth.login()
    client.get(f"/boards/{small}")
    _page, few_page = statements_of(app, lambda: client.get(f"/boards/{small}"))
    page, many_page = statements_of(app, lambda: client.get(f"/boards/{large}"))
    assert page.status_code == 200
    assert len(many_page) == len(few_page)


def test_the_overview_takes_the_same_statements_for_one_branch_and_for_six(app):
    with app.app_context():
        s = db.session()
        today = local_today()
        committee_id = s.scalar(select(Unit.id).where(Unit.code == "C01"))
        period = period_of("quarter", today)

        def read():  # type: ignore[no-untyped-def]
            inner = db.new_session()
            try:
                return overview(inner, inner.get(Unit, committee_id), period, today)
            finally:
                inner.close()

        _o, four = statements_of(app, read)
    _branch_with(app, "B73", 5)
    _branch_with(app, "B74", 50)
    with app.app_context():
        found, six = statements_of(app, read)
    assert len(found.rows) == 6
    assert len(six) == len(four)


# Pages, scope and bad input.


def test_board_page_shows_charts_with_their_figures_as_tables(client, auth, app):
    auth.as_secretary(1)
    page = client.get(f"/boards/{unit_id(app, 'B01')}?period=2026-Q3", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") >= 3
    assert 'role="img"' in html
    assert html.count('class="chart-data"') >= 3


def test_another_branchs_secretary_cannot_open_a_board(client, auth, app):
    auth.as_secretary(2)
    assert client.get(f"/boards/{unit_id(app, 'B01')}").status_code == 404
    assert client.get(f"/boards/activity?unit={unit_id(app, 'B01')}").status_code == 404
    assert client.get(f"/boards/?unit={unit_id(app, 'C01')}").status_code == 404
    # Their own overview is their own branch's board.
    own = client.get("/boards/")
    assert own.status_code == 302
    assert f"/boards/{unit_id(app, 'B02')}" in own.headers["Location"]


@pytest.mark.parametrize("period", ["2026-13", "2026-Q5", "next", "1999", "2026-Q3'"])
def test_a_bad_period_is_a_400_naming_the_period(client, auth, app, period):
    auth.login()
    for url in (f"/boards/{unit_id(app, 'B01')}", "/boards/"):
        page = client.get(url, query_string={"period": period}, headers=EN)
        assert page.status_code == 400
        assert "period:" in page.get_data(as_text=True)
    page = client.get("/boards/activity", query_string={"quarter": "2026-08"}, headers=EN)
    assert page.status_code == 400
    assert "quarter:" in page.get_data(as_text=True)


def test_overview_sorts_by_a_measure_both_ways(client, auth, app):
    auth.login()
    quarter = period_of("quarter", local_today()).previous()
    with app.app_context():
        s = db.session()
        committee = s.scalar(select(Unit).where(Unit.code == "C01"))
        rate = {
            r.code: r.attendance.percent
            for r in overview(s, committee, quarter, local_today()).rows
        }
    assert len(set(rate.values())) > 1  # the demo's branches differ: the order says something

    def order(direction: str) -> list[str]:
        page = client.get(
            f"/boards/?period={quarter.key}&sort=attendance&order={direction}", headers=EN
        )
        assert page.status_code == 200
        return re.findall(r">(B0\d)</small>", page.get_data(as_text=True))

    ascending, descending = order("asc"), order("desc")
    assert [rate[c] for c in ascending] == sorted(rate.values())
    assert [rate[c] for c in descending] == sorted(rate.values(), reverse=True)
    by_code = re.findall(
        r">(B0\d)</small>",
        client.get(f"/boards/?period={quarter.key}&sort=code&order=desc").get_data(as_text=True),
    )
    assert by_code == ["B04", "B03", "B02", "B01"]


def test_activity_record_counts_meetings_traces_and_officers_updates(client, auth, app):
    auth.as_secretary(1)
    quarter = period_of("quarter", local_today())
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        b01_id = b01.id
        before = {r.code: r for r in activity_record(s, b01, quarter)}
    # A secretary files minutes of a closed meeting of the quarter: one more trace and update.
    with app.app_context():
        s = db.session()
        meeting = s.scalars(
            select(Meeting).where(
                Meeting.unit_id == b01_id,
                Meeting.status == "closed",
                Meeting.starts_at >= quarter.starts_at,
            )
        ).first()
        meeting_id, unit_code, had_minutes = meeting.id, "B01", meeting.minutes_at is not None
    response = client.post(f"/meetings/{meeting_id}/trace/minutes",
                           data={"minutes": "会议讨论了下季度工作安排。"})  # fmt: skip
    assert response.status_code in (200, 302, 303)
    with app.app_context():
        s = db.session()
        after = {r.code: r for r in activity_record(s, s.get(Unit, b01_id), quarter)}
    assert after[unit_code].updates == before[unit_code].updates + 1
    assert after[unit_code].traces == before[unit_code].traces + (0 if had_minutes else 1)
    page = client.get(f"/boards/activity?unit={b01_id}&quarter={quarter.key}", headers=EN)
    assert page.status_code == 200
    assert "Meetings held" in page.get_data(as_text=True)


def test_boards_cli_shows_a_board_and_the_overview(runner, app):
    out = ok(runner.invoke(main, ["boards", "show", "--unit", "B01", "--period", "2026-Q3"]))
    assert "B01" in out and "warnings: red" in out
    out = ok(runner.invoke(main, ["boards", "overview", "--unit", "C01", "--period", "2026-Q3"]))
    assert [line.split("\t")[0] for line in out.splitlines()[1:]] == ["B01", "B02", "B03", "B04"]
    out = ok(runner.invoke(main, ["boards", "activity", "--unit", "C01", "--quarter", "2026-Q3"]))
    assert out.splitlines()[0] == "unit\tmeetings\ttraces\tupdates"
    bad = runner.invoke(main, ["boards", "show", "--unit", "B01", "--period", "2026-13"])
    assert bad.exit_code != 0 and "period" in bad.output
    bad = runner.invoke(main, ["boards", "show", "--unit", "C01"])
    assert bad.exit_code != 0 and "unit" in bad.output


# The "done when", on a fresh organisation.

MEMBERS = (
    (
        "党员编号,姓名,性别,手机,入党日期,党员类别,所在单位,流动党员,流动地点,流动开始日期,在册,"
        "身份证号,党费起缴月份\n"
    )
    + """20269101,周建国,男,,1998-07-01,正式,B01-G1,否,,,是,,{q}
20269102,吴晓燕,女,,2012-06-28,正式,B01-G2,否,,,是,,{q}
20269103,郑海,男,,2005-03-15,正式,B01,否,,,是,,{q}
20269201,王丽,女,,2001-09-09,正式,B02-G1,否,,,是,,{q}
20269202,李强,男,,1995-12-01,正式,B02-G2,否,,,是,,{q}
20269203,赵敏,女,,2016-05-20,预备,B02-G1,否,,,是,,{q}
"""
)


def _hold(s, ring, unit: Unit, kind: str, day: date, present: list[Member]) -> Meeting:  # type: ignore[no-untyped-def]
    """A meeting on ``day`` (local 19:00) run as a secretary runs it: opened, ``present``
    checked in by hand at the time they came, closed (everyone else expected is absent)."""
    starts = from_local(datetime(day.year, day.month, day.day, 19, 0))
    meeting = create_meeting(s, ACTOR, MeetingFields(
        unit=unit, kind=kind, title=f"{kind} {day:%Y-%m-%d}", starts_at=starts,
        ends_at=starts + timedelta(minutes=90), points=1,
    ))  # fmt: skip
    open_checkin(s, ACTOR, meeting)
    s.flush()
    for member in present:
        result = redeem(s, ring=ring, meeting_id=meeting.id, via="manual", recorded_by="test",
                        member_id=member.id, now=starts - timedelta(minutes=5))  # fmt: skip
        assert result.status == "ok", result
    close_checkin(s, ACTOR, meeting)
    return meeting


def test_organiser_reads_last_quarters_gaps_and_targets_and_prints_the_report(
    empty_runner, tmp_path
):
    cli = empty_runner
    today = local_today()
    quarter = period_of("quarter", today).previous()
    months = quarter.months()
    ok(cli.invoke(main, init_args()))
    ok(cli.invoke(main, ["units", "import", str(SAMPLES / "units-sample.csv")]))
    members_csv = tmp_path / "members.csv"
    members_csv.write_text(MEMBERS.format(q=f"{months[0]:%Y-%m}"), encoding="utf-8")
    ok(cli.invoke(main, ["import-members", str(members_csv)]))

    # Dues at 10 yuan a month from the quarter's first month. B01: one member paid the whole
    # quarter, one two months, one nothing. B02: everyone paid the quarter, one of them only
    # after it ended (settled, but not collected in the quarter).
    for number in ("20269101", "20269102", "20269103", "20269201", "20269202", "20269203"):
        ok(cli.invoke(main, ["dues", "set-amount", number, "--yuan", "10",
                             "--from", f"{months[0]:%Y-%m}"]))  # fmt: skip
    in_quarter = f"{add_months(quarter.end, -1):%Y-%m}-15"
    after_quarter = f"{quarter.end:%Y-%m-%d}"
    payments = [("20269101", 3, in_quarter), ("20269102", 2, in_quarter),
                ("20269201", 3, in_quarter), ("20269202", 3, in_quarter),
                ("20269203", 3, after_quarter)]  # fmt: skip
    for k, (number, n, paid_on) in enumerate(payments):
        ok(cli.invoke(main, ["dues", "pay", number, "--yuan", str(10 * n), "--first",
                             f"{months[0]:%Y-%m}", "--months", str(n), "--receipt",
                             f"R-{k}", "--paid-on", paid_on]))  # fmt: skip

    # Targets: every branch must hold all its 三会一课 meetings (stretch too); dues 80% a must.
    ok(cli.invoke(main, ["targets", "set", "--all-under", "C01", "--measure", "compliance",
                         "--must", "100"]))  # fmt: skip
    ok(cli.invoke(main, ["targets", "set", "--all-under", "C01", "--measure", "dues",
                         "--must", "80", "--stretch", "100"]))  # fmt: skip
    ok(cli.invoke(main, ["targets", "set", "--unit", "B01", "--measure", "attendance",
                         "--must", "75", "--stretch", "90"]))  # fmt: skip

    app = create_app(
        {**TEST_CONFIG, "DATABASE_URL": os.environ["DATABASE_URL"]}, data_dir=tmp_path / "data"
    )
    try:
        with app.app_context():
            s = db.session()
            ring = key_ring()
            unit = {u.code: u for u in s.scalars(select(Unit))}
            person = {m.number: m for m in s.scalars(select(Member))}
            b01 = [person[n] for n in ("20269101", "20269102", "20269103")]
            b02 = [person[n] for n in ("20269201", "20269202", "20269203")]
            attended = {"B01": [0, 0], "B02": [0, 0]}  # attended, absent

            def hold(code: str, kind: str, day: date, present: list[Member], expected: int):  # type: ignore[no-untyped-def]
                _hold(s, ring, unit[code], kind, day, present)
                branch = code[:3]
                attended[branch][0] += len(present)
                attended[branch][1] += expected - len(present)

            for k, month in enumerate(months):
                # B01 holds everything: theme day (周 and 郑 present, 吴 absent), a committee
                # meeting (no offices set: nobody expected), each group's meeting.
                hold("B01", "theme_day", month.replace(day=10), [b01[0], b01[2]], 3)
                hold("B01", "branch_committee", month.replace(day=3), [], 0)
                hold("B01-G1", "group", month.replace(day=20), [b01[0]], 1)
                hold("B01-G2", "group", month.replace(day=20), [b01[1]], 1)
                hold("B02", "branch_committee", month.replace(day=3), [], 0)
                hold("B02-G1", "group", month.replace(day=20), [b02[0], b02[2]], 2)
                if k != 1:  # B02 skipped the second month's theme day...
                    hold("B02", "theme_day", month.replace(day=10), b02, 3)
                if k != 2:  # ... and its second group's last meeting
                    hold("B02-G2", "group", month.replace(day=20), [], 1)
            hold("B01", "branch_general", months[1].replace(day=5), b01, 3)
            hold("B01", "lecture", months[2].replace(day=12), [b01[0]], 3)
            # B02's general meeting was cancelled and never held again; no lecture either.
            cancelled = create_meeting(s, ACTOR, MeetingFields(
                unit=unit["B02"], kind="branch_general", title="支部党员大会",
                starts_at=from_local(datetime.combine(months[1].replace(day=6),
                                                      datetime.min.time())) + timedelta(hours=11),
                ends_at=from_local(datetime.combine(months[1].replace(day=6),
                                                    datetime.min.time())) + timedelta(hours=12),
            ))  # fmt: skip
            cancel_meeting(s, ACTOR, cancelled, "台风停课")
            s.commit()

        web = app.test_client()
        login = web.post("/login", data={"username": "zuzhi", "password": PASSWORD})
        assert login.status_code in (302, 303)
        c01 = unit_id(app, "C01")
        page = web.get(f"/boards/?unit={c01}&period={quarter.key}", headers=EN)
        assert page.status_code == 200
        words = text_of(page.get_data(as_text=True))

        def rate(branch: str) -> int:
            a, b = attended[branch]
            return round(100 * a / (a + b))

        # B01 held all 14 required slots; B02 met 10 of 14 (general meeting, lecture, one
        # theme day, one group meeting missing).
        with app.app_context():
            s = db.session()
            rows = {r.code: r for r in overview(s, s.get(Unit, c01), quarter, today).rows}
        assert (rows["B01"].compliance.met, rows["B01"].compliance.counted) == (14, 14)
        assert (rows["B02"].compliance.met, rows["B02"].compliance.counted) == (10, 14)
        assert {(m.kind, m.unit_name) for m in rows["B02"].compliance.missed} == {
            ("branch_general", "机关第二党支部"), ("lecture", "机关第二党支部"),
            ("theme_day", "机关第二党支部"), ("group", "第二党小组"),
        }  # fmt: skip
        assert rows["B01"].attendance.percent == rate("B01")
        assert rows["B02"].attendance.percent == rate("B02")
        assert (rows["B01"].dues.settled, rows["B01"].dues.owing) == (1, 3)
        assert (rows["B02"].dues.settled, rows["B02"].dues.owing) == (3, 3)
        assert rows["B01"].dues.collected_fen == 5000
        assert rows["B02"].dues.collected_fen == 6000  # 20269203 paid after the quarter
        assert rows["B01"].targets["compliance"].state == "met"
        assert rows["B02"].targets["compliance"].state == "missed"
        assert rows["B01"].targets["dues"].state == "missed"
        assert rows["B02"].targets["dues"].state == "stretch"
        # The page shows those figures in each branch's row.
        assert "机关第一党支部 B01 3 100%" in words
        assert "机关第二党支部 B02 3 71%" in words
        assert f"{rate('B02')}%" in words and "33%" in words

        # The board names B02's missing meetings.
        board = web.get(f"/boards/{unit_id(app, 'B02')}?period={quarter.key}", headers=EN)
        board_words = text_of(board.get_data(as_text=True))
        assert "Missing meetings" in board_words
        assert board_words.count("held 0 of 1") == 4
        # Targets as they were set: "80%", not "80.0%".
        assert "dues settled 100% 80% 100% stretch reached" in board_words

        # The committee's report, printed: its summary and each branch's page say the same.
        pdf = web.get(f"/reports/committee/{c01}.pdf?period={quarter.key}", headers=EN)
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        path = tmp_path / "committee.pdf"
        path.write_bytes(pdf.data)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
        flat = re.sub(r"\s+", " ", text)
        assert "机关第一党支部" in flat and "机关第二党支部" in flat
        assert "71%" in flat and "33%" in flat and f"{rate('B01')}%" in flat
    finally:
        with app.app_context():
            db.engine_of(app).dispose()


def test_starting_the_app_loads_no_pdf_or_chart_renderer(tmp_path):
    """reportlab (charts, reports, greeting cards) is loaded when one is drawn, not when a
    worker starts: workers that only serve scans never load it."""
    code = (
        "import sys, pathlib; from qrservice import create_app; "
        f"create_app({{'TESTING': True, 'DATABASE_URL': 'sqlite:///{tmp_path}/x.db'}}, "
        f"data_dir=pathlib.Path('{tmp_path}')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'reportlab'))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout  # fmt: skip
    assert out.strip() == "[]"
