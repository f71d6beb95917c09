"""The monthly PDF reports: a branch's board on paper and a committee's report, by route and
by command; read with poppler's tools (pdftotext, pdffonts, pdfimages, pdftoppm)."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.attendance import correct_attendance
from qrservice.life.meetings import MeetingFields, close_checkin, create_meeting
from qrservice.models import Attendance, AuditEvent, Member, Unit
from qrservice.timeutil import from_local

#: A month long before the demo's year of meetings: only this test's meeting is in it.
FRESH_MONTH = "2024-03"
TITLE = "三月支部党员大会（报告测试）"
#: Pages and reports in English: the tests read English words (Chinese is the default).
ENGLISH = {"Accept-Language": "en"}


def _poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    command = [tool, *args, str(path)] + (["-"] if tool == "pdftotext" else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stdout


def _held_meeting(app: Flask, present: int) -> tuple[int, int, int]:
    """A B01 general meeting in FRESH_MONTH, closed, with ``present`` members corrected to
    present: (meeting id, attended, expected) as the attendance rows hold them."""
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        starts = from_local(datetime(2024, 3, 12, 9, 0))
        meeting = create_meeting(s, Actor.system("test"), MeetingFields(
            unit=b01, kind="branch_general", title=TITLE, starts_at=starts,
            ends_at=starts.replace(hour=starts.hour + 2),
        ))  # fmt: skip
        close_checkin(s, Actor.system("test"), meeting)
        absent = list(s.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id)
                                .order_by(Attendance.member_id)))  # fmt: skip
        for row in absent[:present]:
            correct_attendance(s, Actor.system("test"), meeting, s.get(Member, row.member_id),
                               "present", "报告测试")  # fmt: skip
        s.commit()
        rows = list(s.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id)))
        attended = sum(1 for r in rows if r.status in ("present", "late", "made_up"))
        expected = attended + sum(1 for r in rows if r.status == "absent")
        return meeting.id, attended, expected


def _unit_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def _audits(app: Flask, action: str) -> list[tuple[int | None, dict]]:
    """(unit id, recorded values) of each event ``action``, oldest first."""
    with app.app_context():
        events = db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [(e.entity_id, json.loads(e.after or "{}")) for e in events]


def test_branch_report_shows_the_branch_the_period_and_the_rate_of_a_meeting_held(
    app: Flask, auth, client: FlaskClient, tmp_path: Path
) -> None:
    _meeting, attended, expected = _held_meeting(app, present=7)
    b01 = _unit_id(app, "B01")
    auth.login()
    response = client.get(f"/reports/branch/{b01}.pdf?period={FRESH_MONTH}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert f"report-B01-{FRESH_MONTH}.pdf" in response.headers["Content-Disposition"]
    text = _poppler("pdftotext", response.data, tmp_path, "-layout")
    assert "机关第一党支部" in text
    assert "2024-03" in text
    rate = round(100 * attended / expected)
    assert f"{rate}%" in text
    assert f"{attended}" in text and f"{expected}" in text


def test_branch_report_embeds_the_chinese_font_and_draws_charts_as_vectors(
    app: Flask, auth, client: FlaskClient, tmp_path: Path
) -> None:
    _held_meeting(app, present=3)
    auth.login()
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf?period={FRESH_MONTH}")
    fonts = _poppler("pdffonts", response.data, tmp_path)
    droid = [line for line in fonts.splitlines() if "DroidSansFallback" in line]
    assert droid and all(" yes " in line for line in droid), fonts
    images = _poppler("pdfimages", response.data, tmp_path, "-list")
    assert len(images.strip().splitlines()) == 2, images  # the header lines only: no raster
    text = _poppler("pdftotext", response.data, tmp_path)
    assert "签到率" in text or "出勤" in text or "Attendance rate" in text


def test_a_page_of_the_report_rasterises(app: Flask, auth, client: FlaskClient,
                                         tmp_path: Path) -> None:  # fmt: skip
    auth.login()
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf")
    (tmp_path / "r.pdf").write_bytes(response.data)
    subprocess.run(["pdftoppm", "-r", "30", "-f", "1", "-l", "1", "-png", str(tmp_path / "r.pdf"),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def test_branch_report_is_in_the_trail_with_unit_and_period(
    app: Flask, auth, client: FlaskClient
) -> None:
    before = len(_audits(app, "report.branch"))
    auth.as_secretary(1)
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf?period=2026-Q3")
    assert response.status_code == 200
    events = _audits(app, "report.branch")
    assert len(events) == before + 1
    assert events[-1] == (_unit_id(app, "B01"), events[-1][1])
    assert events[-1][1]["period"] == "2026-Q3" and events[-1][1]["unit"] == "B01"


def test_default_period_is_last_month(app: Flask, auth, client: FlaskClient) -> None:
    from qrservice.timeutil import add_months, local_today, month_start

    auth.login()
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf")
    last = add_months(month_start(local_today()), -1)
    assert f"report-B01-{last:%Y-%m}.pdf" in response.headers["Content-Disposition"]


def test_another_branchs_secretary_gets_404_and_nothing_is_recorded(
    app: Flask, auth, client: FlaskClient
) -> None:
    before = len(_audits(app, "report.branch"))
    auth.as_secretary(2)
    assert client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf").status_code == 404
    # A group or a committee is not a branch.
    auth.login()
    assert client.get(f"/reports/branch/{_unit_id(app, 'B01-G1')}.pdf").status_code == 404
    assert client.get(f"/reports/branch/{_unit_id(app, 'C01')}.pdf").status_code == 404
    assert len(_audits(app, "report.branch")) == before


@pytest.mark.parametrize("period", ["2026-13", "next month", "1999", "2026-Q5"])
def test_a_bad_period_is_400_naming_the_period(app: Flask, auth, client: FlaskClient,
                                               period: str) -> None:  # fmt: skip
    before = len(_audits(app, "report.branch"))
    auth.login()
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf",
                          query_string={"period": period}, headers=ENGLISH)  # fmt: skip
    assert response.status_code == 400
    assert "period: not a period" in response.get_data(as_text=True)
    committee = client.get(f"/reports/committee/{_unit_id(app, 'C01')}.pdf",
                           query_string={"period": period})  # fmt: skip
    assert committee.status_code == 400
    assert len(_audits(app, "report.branch")) == before


def test_committee_report_summarises_every_branch_then_a_page_each_in_code_order(
    app: Flask, auth, client: FlaskClient, tmp_path: Path
) -> None:
    _meeting, attended, expected = _held_meeting(app, present=5)
    before = len(_audits(app, "report.committee"))
    auth.login()
    response = client.get(f"/reports/committee/{_unit_id(app, 'C01')}.pdf?period={FRESH_MONTH}",
                          headers=ENGLISH)  # fmt: skip
    assert response.status_code == 200
    assert f"report-C01-{FRESH_MONTH}.pdf" in response.headers["Content-Disposition"]
    text = _poppler("pdftotext", response.data, tmp_path)
    with app.app_context():
        branches = [(u.code, u.name) for u in db.session().scalars(
            select(Unit).where(Unit.kind == "branch", Unit.closed_at.is_(None)).order_by(Unit.code)
        )]  # fmt: skip
    summary, *pages = text.split("\f")
    for code, _name in branches:
        assert code in summary
    assert f"{round(100 * attended / expected)}%" in summary  # B01's rate, from the rows
    # Each branch's board starts a page, in code order.
    starts = [text.index(f"{name} ({code})") for code, name in branches]
    assert starts == sorted(starts)
    assert len(_audits(app, "report.committee")) == before + 1


def test_committee_report_is_for_organisers_over_the_committee(
    app: Flask, auth, client: FlaskClient
) -> None:
    c01 = _unit_id(app, "C01")
    auth.as_secretary(1)
    assert client.get(f"/reports/committee/{c01}.pdf").status_code in (403, 404)
    auth.login()
    # A branch is not a committee.
    assert client.get(f"/reports/committee/{_unit_id(app, 'B01')}.pdf").status_code == 404


def test_cli_writes_the_branch_report_and_records_it(app: Flask, runner, tmp_path: Path) -> None:
    _meeting, attended, expected = _held_meeting(app, present=4)
    before = len(_audits(app, "report.branch"))
    out = tmp_path / "b01.pdf"
    result = runner.invoke(main, ["reports", "branch", "--unit", "B01", "--period", FRESH_MONTH,
                                  "--language", "en", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output
    text = _poppler("pdftotext", out.read_bytes(), tmp_path)
    assert "机关第一党支部 (B01): board for 2024-03" in text
    assert f"{attended} attended of {expected} expected" in text
    events = _audits(app, "report.branch")
    assert len(events) == before + 1 and events[-1][1]["period"] == FRESH_MONTH


def test_cli_committee_report_shows_progress_and_writes_the_file(
    app: Flask, runner, tmp_path: Path
) -> None:
    out = tmp_path / "c01.pdf"
    result = runner.invoke(main, ["reports", "committee", "--unit", "C01", "--period", "2026-Q3",
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Drawing pages" in result.output
    assert "branches." in result.output
    assert out.read_bytes().startswith(b"%PDF")


def test_cli_refuses_a_bad_period_or_unit_and_writes_nothing(
    app: Flask, runner, tmp_path: Path
) -> None:
    out = tmp_path / "none.pdf"
    bad = runner.invoke(main, ["reports", "branch", "--unit", "B01", "--period", "2026-13",
                              "-o", str(out)])  # fmt: skip
    assert bad.exit_code != 0 and "period (--period)" in bad.output
    wrong = runner.invoke(main, ["reports", "committee", "--unit", "B01", "-o", str(out)])
    assert wrong.exit_code != 0 and "unit (--unit)" in wrong.output
    missing = runner.invoke(main, ["reports", "branch", "--unit", "B99", "-o", str(out)])
    assert missing.exit_code != 0 and "unit (--unit)" in missing.output
    assert not out.exists()


def _paper_board(warned: int):  # type: ignore[no-untyped-def]
    """A board made by hand: a branch with ``warned`` members under a red warning."""
    from types import SimpleNamespace

    from qrservice.boards.figures import Board, BranchMeasures, Rate, TrendPoint
    from qrservice.boards.periods import period_of
    from qrservice.life.standing import Cause
    from qrservice.timeutil import add_months

    month = period_of("month", date(2026, 10, 1))
    unit = SimpleNamespace(id=1, code="B77", name="测试党支部")
    rows = [
        SimpleNamespace(
            member=SimpleNamespace(name=f"党员{k:03d}"),
            standing=SimpleNamespace(warning="red",
                                     causes=(Cause("meetings", date(2026, 3, 1), 7),)),
        )
        for k in range(warned)
    ]  # fmt: skip
    trend = [TrendPoint(add_months(date(2025, 11, 1), k), Rate(attended=k, absent=1))
             for k in range(12)]  # fmt: skip
    measures = BranchMeasures(1, "B77", "测试党支部", members=warned, red=warned)
    return Board(unit, month, date(2026, 11, 2), measures, trend=trend, warned=rows)


def test_a_long_list_continues_on_the_next_pages(app: Flask, tmp_path: Path) -> None:
    from qrservice.boards.reports import branch_report_pdf

    with app.test_request_context():
        short = branch_report_pdf(_paper_board(2), "示范党委")
        long = branch_report_pdf(_paper_board(150), "示范党委")
    pages = _poppler("pdfinfo", long, tmp_path)
    assert int(pages.split("Pages:")[1].split()[0]) > int(
        _poppler("pdfinfo", short, tmp_path).split("Pages:")[1].split()[0]
    )
    text = _poppler("pdftotext", long, tmp_path)
    assert "党员000" in text and "党员149" in text
    # The table's header is repeated on each page it runs over.
    assert text.count("Causes") + text.count("原因") >= 3


def test_committee_report_calls_progress_once_per_branch_in_order(app: Flask) -> None:
    from types import SimpleNamespace

    from qrservice.boards.figures import Overview
    from qrservice.boards.reports import committee_report_pdf

    boards = [_paper_board(1) for _ in range(3)]
    for k, board in enumerate(boards):
        board.unit = SimpleNamespace(id=k + 1, code=f"B7{k}", name=f"第{k}党支部")
        board.measures.code = board.unit.code
    scope = SimpleNamespace(id=9, code="C09", name="测试党委")
    overview = Overview(scope, boards[0].period, date(2026, 11, 2), [b.measures for b in boards])
    calls: list[tuple[int, int]] = []
    with app.test_request_context():
        committee_report_pdf(
            overview, boards[::-1], "", lambda done, total: calls.append((done, total))
        )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_a_missed_target_and_its_note_are_on_paper(app: Flask, auth, client: FlaskClient,
                                                   tmp_path: Path) -> None:  # fmt: skip
    from qrservice.boards.targets import set_target, write_note

    _meeting, attended, expected = _held_meeting(app, present=2)
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        set_target(s, Actor.system("test"), b01, "attendance", "95", "99")
        write_note(s, Actor.system("test"), b01, "attendance", FRESH_MONTH,
                   "逐一电话通知", "", "", "下月复查")  # fmt: skip
        s.commit()
    auth.as_secretary(1)
    response = client.get(f"/reports/branch/{_unit_id(app, 'B01')}.pdf?period={FRESH_MONTH}",
                          headers=ENGLISH)  # fmt: skip
    text = _poppler("pdftotext", response.data, tmp_path, "-layout")
    line = next(x for x in text.splitlines() if "95" in x and "99" in x)
    assert f"{round(100 * attended / expected)}%" in line
    assert "target missed" in line
    assert "逐一电话通知" in text and "下月复查" in text
