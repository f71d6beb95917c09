"""Exports for the committee: the roster, a meeting's attendance, attendance over a period,
the points and dues ledgers and the warnings list, as CSV and XLSX, on the web and the CLI;
in the viewer's scope and language, formulas made inert, every export in the trail, and a
long export never holding up a check-in."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import describe_event
from qrservice.boards import exports
from qrservice.boards.periods import parse_period
from qrservice.life.dues import record_payment, set_dues_rate
from qrservice.life.points_ledger import add_entry
from qrservice.models import Attendance, AttendanceCorrection, AuditEvent, Meeting, Member, Unit
from qrservice.org.members import clean_member, create_member
from qrservice.org.units import create_unit
from qrservice.timeutil import from_local, local_today, utcnow
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, nonce, open_meeting_id
from tests.test_scan_costs import statements_of

EN = {"Accept-Language": "en"}
ACTOR = Actor.system("test")
PERIOD = "2026-08"
#: The cycle of statuses the test branch's members have at its August group meeting.
STATUSES = ("present", "late", "excused", "absent", "made_up")
FORMULA = "=1+1"


def _local(day: date, hour: int = 14) -> datetime:
    return from_local(datetime(day.year, day.month, day.day, hour))


def make_branch(app, code: str, members: int) -> dict:  # type: ignore[type-arg]
    """A new branch ``code`` under C01 with a group ``code-G1`` of ``members`` members (the
    first named "=1+1"), 15 yuan a month each; in August 2026: a closed group meeting where
    member i is STATUSES[i % 5] (the first one's leave corrected from absent), a closed branch
    meeting expecting all but the first, a cancelled meeting, a deduction of 2 points and a
    paid month per member, and one voided payment; a closed meeting in July."""
    with app.app_context():
        s = db.session()
        c01 = s.scalar(select(Unit).where(Unit.code == "C01"))
        branch = create_unit(s, ACTOR, kind="branch", name=f"测试支部{code}", code=code,
                             parent=c01)  # fmt: skip
        group = create_unit(s, ACTOR, kind="group", name="测试小组", code=f"{code}-G1",
                            parent=branch)  # fmt: skip
        people = []
        for i in range(members):
            raw = {
                "number": f"{code}{i:04d}", "name": f"测试{i}", "gender": "female",
                "joined_on": "2010-05-04", "status": "full", "unit": group.code,
                "floating": "no", "dues_from": "2026-01",
            }  # fmt: skip
            member = create_member(s, ACTOR, clean_member(raw, {group.code: group}), "k" * 32)
            set_dues_rate(s, ACTOR, member, date(2026, 1, 1), 1500)
            people.append(member)
        people[0].name = FORMULA  # as an old import might have left it

        def meeting(unit: Unit, day: date, title: str, status: str = "closed") -> Meeting:
            m = Meeting(unit_id=unit.id, kind="group", title=title, starts_at=_local(day),
                        ends_at=_local(day, 15), status=status, created_by="test",
                        created_at=_local(day))  # fmt: skip
            s.add(m)
            s.flush()
            return m

        group_meeting = meeting(group, date(2026, 8, 12), "八月学习")
        branch_meeting = meeting(branch, date(2026, 8, 26), "=2+3")
        meeting(branch, date(2026, 8, 20), "取消的会", status="cancelled")
        july = meeting(group, date(2026, 7, 10), "七月学习")
        at = _local(date(2026, 8, 12))
        for i, member in enumerate(people):
            row = Attendance(meeting_id=group_meeting.id, member_id=member.id,
                             status=STATUSES[i % 5], via="manual", checked_in_at=at,
                             recorded_by="test")  # fmt: skip
            s.add(row)
            if i:
                s.add(Attendance(meeting_id=branch_meeting.id, member_id=member.id,
                                 status="present", via="scan", checked_in_at=at,
                                 recorded_by="test"))  # fmt: skip
            s.add(Attendance(meeting_id=july.id, member_id=member.id, status="absent",
                             via="closing", checked_in_at=at, recorded_by="test"))  # fmt: skip
            s.flush()
            if i == 2:
                s.add(AttendanceCorrection(attendance_id=row.id, from_status="absent",
                                           to_status="excused", reason="病假",
                                           corrected_by="test", corrected_at=at))  # fmt: skip
            add_entry(s, ACTOR, member, kind="deduction", points=2, reason="迟到未说明",
                      on=date(2026, 8, 20))  # fmt: skip
            record_payment(s, ACTOR, member, first_month=date(2026, 1, 1), months=1,
                           amount_fen=1500, method="cash", receipt_no=f"R{code}{i:04d}",
                           paid_on=date(2026, 8, 10))  # fmt: skip
        s.commit()
        return {
            "branch": branch.id, "group": group.id, "meeting": group_meeting.id,
            "branch_meeting": branch_meeting.id, "numbers": [p.number for p in people],
        }  # fmt: skip


@pytest.fixture
def b90(app) -> dict:  # type: ignore[type-arg]
    return make_branch(app, "B90", 6)


def read_csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def read_xlsx(data: bytes) -> list[tuple]:  # type: ignore[type-arg]
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [tuple(c for c in row) for row in sheet.iter_rows()]


def exported(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session().scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export.table")
        )


# Content


def test_roster_lists_the_branch_members_with_group_dues_and_no_id_number(client, auth, b90):
    auth.login()
    rows = read_csv(client.get(f"/exports/roster?unit={b90['branch']}&format=csv"))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["党员编号", "姓名"] and "身份证号" not in header
    assert {"所在支部", "所在党小组", "活动所在支部", "月缴党费(元)"} <= set(header)
    assert [r[0] for r in body] == b90["numbers"]
    line = dict(zip(header, body[1], strict=True))
    assert line["所在支部"] == "测试支部B90" and line["所在党小组"] == "测试小组"
    assert line["月缴党费(元)"] == "15.00" and line["党员类别"] == "正式"


def test_roster_headers_are_english_for_an_english_viewer(client, auth, b90):
    auth.login()
    rows = read_csv(client.get(f"/exports/roster?unit={b90['branch']}", headers=EN))
    assert rows[0][:2] == ["number", "name"]
    assert "monthly_dues_yuan" in rows[0] and "national_id" not in rows[0]


def test_meeting_attendance_lists_everyone_expected_with_status_via_and_corrections(
    client, auth, app, b90
):
    auth.login()
    rows = read_csv(client.get(f"/exports/attendance?meeting={b90['meeting']}&format=csv"))
    assert rows[0] == ["党员编号", "姓名", "所在单位", "应到", "状态", "记录时间", "记录方式",
                       "更正次数"]  # fmt: skip
    by_number = {r[0]: r for r in rows[1:]}
    assert set(by_number) == set(b90["numbers"])
    assert by_number[b90["numbers"][0]][4] == "出席"
    assert by_number[b90["numbers"][2]][4] == "请假"
    assert by_number[b90["numbers"][2]][7] == "1"
    assert by_number[b90["numbers"][3]][4] == "缺席"
    assert by_number[b90["numbers"][1]][5] == "2026-08-12 14:00"
    assert by_number[b90["numbers"][1]][6] == "手动登记"


def test_meeting_attendance_in_english_names_statuses_in_english(client, auth, b90):
    auth.login()
    rows = read_csv(client.get(f"/exports/attendance?meeting={b90['meeting']}", headers=EN))
    assert rows[0][4] == "status"
    assert [r[4] for r in rows[1:6]] == ["present", "late", "on leave", "absent", "made up"]


def test_matrix_shows_each_member_at_each_meeting_of_the_period_with_their_rate(client, auth, b90):
    auth.login()
    rows = read_csv(client.get(f"/exports/matrix?unit={b90['branch']}&period={PERIOD}"))
    header = rows[0]
    # The held meetings of August in order: not the cancelled one, not July's.
    assert header == ["党员编号", "姓名", "所在单位", "08-12 八月学习", "08-26 =2+3",
                      "出席", "请假", "缺席", "出席率(%)"]  # fmt: skip
    body = {r[0]: r[1:] for r in rows[1:]}
    first, second, third, fourth, fifth, sixth = (body[n] for n in b90["numbers"])
    # Not expected at the branch meeting: blank.
    assert first[2:] == ["出席", "", "1", "0", "0", "100"]
    assert second[2:] == ["迟到", "出席", "2", "0", "0", "100"]
    assert third[2:] == ["请假", "出席", "1", "1", "0", "100"]
    assert fourth[2:] == ["缺席", "出席", "1", "0", "1", "50"]
    assert fifth[2:] == ["补课", "出席", "2", "0", "0", "100"]
    assert sixth[2:4] == ["出席", "出席"]


def test_matrix_in_english_over_a_quarter_includes_july(client, auth, b90):
    auth.login()
    response = client.get(f"/exports/matrix?unit={b90['group']}&period=2026-Q3", headers=EN)
    rows = read_csv(response)
    assert rows[0][3] == "07-10 七月学习" and rows[0][-4:] == [
        "attended", "on leave", "absent", "rate (%)"
    ]  # fmt: skip
    # The group's scope holds only the group's meetings.
    assert len(rows[0]) == 3 + 2 + 4
    assert rows[1][3:5] == ["absent", "present"]


def test_points_ledger_lists_the_period_lines_and_corrections_negative_points_as_numbers(
    client, auth, app, b90
):
    from qrservice.life.points_ledger import correct_entry
    from qrservice.models import PointsEntry

    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member.id).where(Member.number == b90["numbers"][1]))
        entry = s.scalar(
            select(PointsEntry).where(PointsEntry.member_id == member,
                                      PointsEntry.kind == "deduction")
        )  # fmt: skip
        correct_entry(s, ACTOR, entry, "扣错了")
        s.commit()
    auth.login()
    rows = read_csv(client.get(f"/exports/points?unit={b90['branch']}&period={PERIOD}"))
    assert rows[0] == ["日期", "党员编号", "姓名", "所在单位", "积分", "来源", "会议", "事由",
                       "记录人"]  # fmt: skip
    deductions = [r for r in rows[1:] if r[7] == "迟到未说明"]
    assert len(deductions) == 6
    assert deductions[0][0] == "2026-08-20" and deductions[0][4] == "-2"
    assert deductions[0][5] == "扣分" and deductions[0][8] == "test"
    # The correction is a line of its own, with its opposite points, counted on the same day.
    corrections = [r for r in rows[1:] if r[5] == "更正" and r[1] == b90["numbers"][1]]
    assert len(corrections) == 1 and corrections[0][4] == "2" and "扣错了" in corrections[0][7]
    assert corrections[0][0] == "2026-08-20"
    empty = read_csv(client.get(f"/exports/points?unit={b90['branch']}&period=2026-07"))
    assert [r for r in empty[1:] if r[7] == "迟到未说明"] == []


def test_dues_ledger_lists_payments_of_the_period_with_void_state(client, auth, app, b90):
    from qrservice.life.dues import void_payment
    from qrservice.models import DuesPayment

    with app.app_context():
        s = db.session()
        payment = s.scalar(select(DuesPayment).where(DuesPayment.receipt_no == "RB900001"))
        void_payment(s, ACTOR, payment, "收据填错")
        s.commit()
    auth.login()
    rows = read_csv(client.get(f"/exports/dues?unit={b90['branch']}&period=2026-Q3&format=csv"))
    assert rows[0][:6] == ["收据号", "党员编号", "姓名", "所在单位", "所缴月份", "金额(元)"]
    by_receipt = {r[0]: r for r in rows[1:]}
    assert set(by_receipt) == {f"RB90{i:04d}" for i in range(6)}
    assert by_receipt["RB900000"][4:11] == ["2026-01", "15.00", "现金", "2026-08-10", "test",
                                            "否", ""]  # fmt: skip
    assert by_receipt["RB900001"][9:11] == ["是", "收据填错"]


def test_warnings_list_is_the_attention_lists_members_with_a_warning(client, auth, app):
    auth.login()
    rows = read_csv(client.get("/exports/warnings?format=csv"))
    with app.app_context():
        from qrservice.life.attention import AttentionFilter, attention_list

        s = db.session()
        c01 = s.scalar(select(Unit).where(Unit.code == "C01"))
        listing = attention_list(s, c01, AttentionFilter(show="warnings"), local_today())
        expected = [r.member.number for r in listing.rows]
    assert expected and [r[0] for r in rows[1:]] == expected
    assert all(r[4] in ("红色预警", "黄色预警") for r in rows[1:])


# Formulas


@pytest.mark.parametrize("kind", ["roster", "attendance", "matrix", "points", "dues"])
def test_a_member_named_like_a_formula_comes_out_inert_in_csv_and_xlsx(client, auth, b90, kind):
    auth.login()
    query = f"meeting={b90['meeting']}" if kind == "attendance" else f"unit={b90['branch']}"
    csv_rows = read_csv(client.get(f"/exports/{kind}?{query}&period={PERIOD}&format=csv"))
    assert any("'" + FORMULA in row for row in csv_rows)
    assert not any(FORMULA in row for row in csv_rows)
    response = client.get(f"/exports/{kind}?{query}&period={PERIOD}&format=xlsx")
    assert response.status_code == 200
    cells = [c for row in read_xlsx(response.get_data()) for c in row]
    named = [c for c in cells if c.value == FORMULA]
    assert named and all(c.data_type == "s" for c in named)
    assert not any(c.data_type == "f" for c in cells)


def test_a_meeting_titled_like_a_formula_heads_its_column_inert(client, auth, b90):
    auth.login()
    rows = read_csv(client.get(f"/exports/matrix?unit={b90['branch']}&period={PERIOD}"))
    assert "08-26 =2+3" in rows[0]  # the title follows the date: the cell is text
    response = client.get(f"/exports/matrix?unit={b90['branch']}&period={PERIOD}&format=xlsx")
    header = read_xlsx(response.get_data())[0]
    assert all(c.data_type == "s" for c in header)


# Scope


def test_another_branchs_secretary_gets_404_for_the_branch_and_its_meeting(client, auth, b90):
    auth.as_secretary(2)
    assert client.get(f"/exports/roster?unit={b90['branch']}").status_code == 404
    assert client.get(f"/exports/matrix?unit={b90['group']}&period=2026").status_code == 404
    assert client.get(f"/exports/attendance?meeting={b90['meeting']}").status_code == 404
    # Their own branch by default, and nobody else's members.
    rows = read_csv(client.get("/exports/roster?format=csv"))
    assert rows[1:] and not {r[0] for r in rows[1:]} & set(b90["numbers"])
    assert {r[6] for r in rows[1:]} <= {"B02", "B02-G1", "B02-G2"}


def test_the_organiser_of_c01_sees_every_branch(client, auth, app, b90):
    auth.login()
    rows = read_csv(client.get("/exports/roster?format=csv"))
    with app.app_context():
        active = db.session().scalar(
            select(func.count()).select_from(Member).where(Member.active.is_(True))
        )
    assert len(rows) - 1 == active
    assert set(b90["numbers"]) <= {r[0] for r in rows[1:]}


def test_exports_page_offers_the_six_exports_and_the_officers_units(client, auth, b90):
    auth.as_secretary(1)
    page = client.get("/exports/", headers=EN).get_data(as_text=True)
    for title in ("Member roster", "s attendance", "Attendance over a period",
                  "Points ledger", "Dues ledger", "Warnings list"):  # fmt: skip
        assert title in page
    assert "B01-G1" in page and "B90" not in page and "B02" not in page


# Bad input


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("matrix?period=2026-13", "period"),
        ("points?period=next%20year", "period"),
        ("roster?format=pdf", "format"),
        ("attendance?meeting=abc", "meeting"),
        ("attendance?format=csv", "meeting"),
        ("roster?unit=B01", "unit"),
    ],
)
def test_a_bad_parameter_is_400_naming_it_and_nothing_is_exported(client, auth, app, query, field):
    auth.login()
    before = exported(app)
    response = client.get(f"/exports/{query}", headers=EN)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"{field}:" in page and 'aria-invalid="true"' in page
    assert exported(app) == before


def test_every_bad_parameter_is_named_at_once(client, auth, app):
    auth.login()
    response = client.get("/exports/points?unit=x&period=2026-00&format=ods", headers=EN)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "unit:" in page and "period:" in page and "format:" in page


def test_unknown_units_meetings_and_exports_are_404(client, auth, app):
    auth.login()
    before = exported(app)
    assert client.get("/exports/roster?unit=999999").status_code == 404
    assert client.get("/exports/attendance?meeting=999999").status_code == 404
    assert client.get("/exports/ledger").status_code == 404
    assert exported(app) == before


# The trail


def test_every_export_is_in_the_trail_with_its_kind_period_and_format(client, auth, app, b90):
    auth.login()
    before = exported(app)
    client.get(f"/exports/matrix?unit={b90['branch']}&period={PERIOD}&format=xlsx")
    client.get(f"/exports/attendance?meeting={b90['meeting']}&format=csv")
    assert exported(app) == before + 2
    with app.app_context():
        s = db.session()
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "export.table").order_by(AuditEvent.id)
        ).all()[-2:]
        assert events[0].actor == "user:organiser" and events[0].entity_id == b90["branch"]
        assert '"period": "2026-08"' in events[0].after and '"rows": 6' in events[0].after
        assert events[1].entity_id == b90["group"]
        assert f'"meeting_id": {b90["meeting"]}' in events[1].after
        with app.test_request_context(headers=EN):
            text = describe_event(events[0])
    assert "attendance over a period" in text and "2026-08" in text and "XLSX" in text


# Cost


def test_roster_and_matrix_take_the_same_statements_for_2_and_20_members(app):
    few, many = make_branch(app, "B91", 2), make_branch(app, "B92", 20)
    period = parse_period(PERIOD, date(2026, 8, 1))
    counts = []
    with app.app_context():
        s = db.session()
        for unit_id in (few["branch"], many["branch"]):
            unit = s.get(Unit, unit_id)
            for call in (
                lambda unit=unit: exports.roster(s, unit, "zh", date(2026, 9, 1)),
                lambda unit=unit: exports.attendance_matrix(s, unit, period, "zh"),
            ):
                call()  # warm: the unit and its relations loaded
                (_headers, rows), seen = statements_of(app, call)
                counts.append((len(rows), len(seen)))
    assert [c[0] for c in counts] == [2, 2, 20, 20]
    assert counts[0][1] == counts[2][1] and counts[1][1] == counts[3][1]


# Check-ins go on


def test_a_check_in_commits_while_an_export_holds_its_read_open(app, data_dir, monkeypatch, b90):
    """The export's read transaction is open (rows read, file not yet written) when a
    scanner's check-in commits in another thread: the check-in does not wait for it."""
    organiser = app.test_client()
    organiser.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    scanner = make_app(data_dir).test_client()  # apps are made before the threads start
    scanner.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    meeting = open_meeting_id(app)
    code = card_url_of(app, "20260001")
    answers: list = []  # type: ignore[type-arg]
    held: list = []  # type: ignore[type-arg]
    real_matrix = exports.attendance_matrix

    def matrix_then_a_check_in(s, *args, **kwargs):  # type: ignore[no-untyped-def]
        table = real_matrix(s, *args, **kwargs)
        held.append(s.in_transaction())
        body = {"code": code, "nonce": nonce()}
        scan = threading.Thread(
            target=lambda: answers.append(
                scanner.post(f"/api/v1/meetings/{meeting}/checkins", json=body).get_json()
            )
        )
        scan.start()
        scan.join(10)
        held.append(scan.is_alive())
        return table

    monkeypatch.setattr(exports, "attendance_matrix", matrix_then_a_check_in)
    response = organiser.get(f"/exports/matrix?unit={b90['branch']}&period=2026&format=xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert held == [True, False]
    assert [a["status"] for a in answers] == ["ok"]
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member.id).where(Member.number == "20260001"))
        row = s.scalar(
            select(Attendance).where(Attendance.meeting_id == meeting,
                                     Attendance.member_id == member)
        )  # fmt: skip
        assert row is not None and row.checked_in_at >= utcnow() - timedelta(minutes=5)
    assert exported(app) >= 1


# The CLI


def test_cli_writes_each_export_and_records_it(runner, app, b90, tmp_path):
    from qrservice.cli import main

    before = exported(app)
    out = tmp_path / "matrix.xlsx"
    result = runner.invoke(
        main, ["export", "matrix", "--unit", "B90", "--period", PERIOD, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "6 rows" in result.output
    assert "matrix (B90)" in result.stderr  # the progress bar's label (the bar on a terminal)
    rows = read_xlsx(out.read_bytes())
    assert rows[0][3].value == "08-12 八月学习"
    assert [r[0].value for r in rows[1:]] == b90["numbers"]
    meeting = tmp_path / "attendance.csv"
    result = runner.invoke(
        main, ["export", "attendance", "--meeting", str(b90["meeting"]), "--lang", "en",
               "-o", str(meeting)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(meeting.read_text("utf-8-sig"))))
    assert lines[0][0] == "number" and len(lines) == 7
    for kind in ("roster", "points", "dues", "warnings"):
        target = tmp_path / f"{kind}.csv"
        result = runner.invoke(main, ["export", kind, "--unit", "B90", "--period", "2026",
                                      "-o", str(target)])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert exported(app) == before + 6
    with app.app_context():
        event = (
            db.session()
            .scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "export.table")
                .order_by(AuditEvent.id)
            )
            .all()[before]
        )
        assert event.actor == "cli" and '"kind": "matrix"' in event.after


def test_cli_names_the_bad_parameter_and_writes_nothing(runner, app, tmp_path):
    from qrservice.cli import main

    before = exported(app)
    out = tmp_path / "x.csv"
    result = runner.invoke(main, ["export", "matrix", "--period", "2026-13", "-o", str(out)])
    assert result.exit_code == 2 and "period" in result.output
    result = runner.invoke(main, ["export", "attendance", "-o", str(out)])
    assert result.exit_code == 2 and "meeting" in result.output
    result = runner.invoke(main, ["export", "roster", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2 and "--format" in result.output
    result = runner.invoke(main, ["export", "roster", "--unit", "NOPE", "-o", str(out)])
    assert result.exit_code != 0 and "NOPE" in result.output
    assert not out.exists() and exported(app) == before
