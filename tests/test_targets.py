"""Branch targets (必达/挑战) and plan–do–check–act notes: validation, who may set and write
them, checks in both directions, the pages, the trail and the CLI."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.boards.figures import BranchMeasures, Rate
from qrservice.boards.periods import parse_period
from qrservice.boards.targets import (
    TargetError,
    TargetRefused,
    check,
    measure_name,
    measure_unit,
    set_target,
    target_checks,
    write_note,
)
from qrservice.cli import main
from qrservice.models import BOARD_MEASURES, AuditEvent, BoardTarget, TargetNote, Unit, User
from tests.test_scan_costs import statements_of

ACTOR = Actor.system("test")
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _unit(s, code: str) -> Unit:
    return s.scalar(select(Unit).where(Unit.code == code))


def _unit_id(app, code: str) -> int:
    with app.app_context():
        return _unit(db.session(), code).id


def _targets(app, code: str) -> dict[str, tuple]:
    with app.app_context():
        s = db.session()
        rows = s.scalars(select(BoardTarget).where(BoardTarget.unit_id == _unit(s, code).id))
        return {t.measure: (t.must_reach, t.stretch) for t in rows}


def _count(app, model, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return db.session().scalar(query)


def _user(s, username: str) -> User:
    return s.scalar(select(User).where(User.username == username))


def _clear_targets(app, *codes: str) -> None:
    """Remove the targets the demo set for the branches, as an organiser does: both blank."""
    with app.app_context():
        s = db.session()
        for code in codes:
            for measure in BOARD_MEASURES:
                set_target(s, ACTOR, _unit(s, code), measure, "", "")
        s.commit()
    for code in codes:
        assert _targets(app, code) == {}


def _trail_mark(app) -> int:
    """The last trail entry so far: the entries after it are the test's own."""
    with app.app_context():
        return db.session().scalar(select(func.max(AuditEvent.id))) or 0


def _events(app, action: str, since: int) -> int:
    """How many trail entries of ``action`` were made after ``since``."""
    with app.app_context():
        query = select(func.count()).select_from(AuditEvent)
        query = query.where(AuditEvent.action == action, AuditEvent.id > since)
        return db.session().scalar(query)


# Setting targets.


@pytest.mark.parametrize(
    ("measure", "must", "stretch", "field"),
    [
        ("speed", "80", "90", "measure"),
        ("attendance", "eighty", "", "must_reach"),
        ("attendance", "-1", "", "must_reach"),
        ("attendance", "85.25", "", "must_reach"),
        ("attendance", "", "101", "stretch"),
        ("dues", "90", "80", "stretch"),  # higher is better: stretch below must-reach
        ("warnings", "2", "3", "stretch"),  # fewer is better: stretch above must-reach
    ],
)
def test_a_bad_target_is_refused_naming_its_field_and_nothing_is_written(
    app, measure, must, stretch, field
):
    before = _count(app, BoardTarget)
    with app.app_context():
        s = db.session()
        with pytest.raises(TargetError) as refused:
            set_target(s, ACTOR, _unit(s, "B01"), measure, must, stretch)
    assert list(refused.value.errors) == [field]
    assert _count(app, BoardTarget) == before


def test_targets_are_set_changed_and_removed_with_the_trail(app):
    _clear_targets(app, "B01")
    since = _trail_mark(app)
    with app.app_context():
        s = db.session()
        b01 = _unit(s, "B01")
        set_target(s, ACTOR, b01, "attendance", "85", "95")
        set_target(s, ACTOR, b01, "points", "4.5", "")  # one decimal; one of the two is enough
        set_target(s, ACTOR, b01, "warnings", "３", "0")  # full-width digits; fewer is better
        set_target(s, ACTOR, b01, "attendance", "85", "95")  # unchanged: no event
        set_target(s, ACTOR, b01, "attendance", "80", "95")
        s.commit()
    assert _targets(app, "B01") == {
        "attendance": (Decimal("80.0"), Decimal("95.0")),
        "points": (Decimal("4.5"), None),
        "warnings": (Decimal("3.0"), Decimal("0.0")),
    }
    with app.app_context():
        s = db.session()
        set_target(s, ACTOR, _unit(s, "B01"), "points", "", "  ")  # both blank: removed
        s.commit()
    assert "points" not in _targets(app, "B01")
    assert _events(app, "target.set", since) == 4
    assert _events(app, "target.remove", since) == 1


def test_targets_are_for_branches_only(app):
    with app.app_context():
        s = db.session()
        with pytest.raises(TargetError) as refused:
            set_target(s, ACTOR, _unit(s, "B01-G1"), "attendance", "80", "")
    assert list(refused.value.errors) == ["unit"]


def test_a_secretary_may_not_set_targets_nor_an_organiser_outside_the_branch(app):
    _clear_targets(app, "B01")
    with app.app_context():
        s = db.session()
        secretary = _user(s, "secretary1")
        with pytest.raises(TargetRefused):
            set_target(s, Actor.of(secretary), _unit(s, "B01"), "attendance", "80", "")
    assert _targets(app, "B01") == {}


@pytest.mark.parametrize(
    ("measure", "value", "must", "stretch", "state"),
    [
        ("attendance", 96, "85", "95", "stretch"),
        ("attendance", 95, "85", "95", "stretch"),
        ("attendance", 85, "85", "95", "met"),
        ("attendance", 84, "85", "95", "missed"),
        ("attendance", 84, None, "95", "missed"),
        ("attendance", None, "85", "95", "none"),
        ("points", Decimal("4.6"), "4.5", None, "met"),
        ("warnings", 0, "2", "0", "stretch"),
        ("warnings", 2, "2", "0", "met"),
        ("warnings", 3, "2", "0", "missed"),
        ("warnings", 1, "2", None, "met"),
    ],
)
def test_checks_in_both_directions(measure, value, must, stretch, state):
    target = BoardTarget(
        measure=measure,
        must_reach=None if must is None else Decimal(must),
        stretch=None if stretch is None else Decimal(stretch),
    )
    assert check(measure, value, target) == state
    assert check(measure, value, None) == "none"


def test_target_checks_fill_rows_with_the_periods_note_in_two_statements(app):
    period = parse_period("2026-Q3", date.today())
    with app.app_context():
        s = db.session()
        branches = list(s.scalars(select(Unit).where(Unit.kind == "branch").order_by(Unit.code)))
        for branch in branches:
            for measure in BOARD_MEASURES:  # the demo's targets: removed, as an organiser does
                set_target(s, ACTOR, branch, measure, "", "")
            set_target(s, ACTOR, branch, "attendance", "85", "95")
            set_target(s, ACTOR, branch, "warnings", "2", "0")
        write_note(s, ACTOR, branches[0], "attendance", "2026-q3", "多提醒", "", "", "")
        write_note(s, ACTOR, branches[0], "warnings", "2026-Q2", "另一季度", "", "", "")
        s.commit()
        rows = {
            b.id: BranchMeasures(b.id, b.code, b.name, attendance=Rate(attended=8, absent=2))
            for b in branches
        }
        one = {branches[0].id: rows[branches[0].id]}
        _done, few = statements_of(app, lambda: target_checks(s, one, period))
        _done, many = statements_of(app, lambda: target_checks(s, rows, period))
        first = rows[branches[0].id].targets
        assert len(few) == len(many) == 2
        assert set(first) == {"attendance", "warnings"}
        assert first["attendance"].state == "missed" and first["attendance"].value == 80
        assert first["attendance"].note.plan_text == "多提醒"
        assert first["warnings"].state == "stretch" and first["warnings"].note is None
        assert rows[branches[1].id].targets["attendance"].note is None


def test_measure_names_and_units_for_people(app):
    with app.test_request_context(headers=ZH):
        zh = [measure_name(m) for m in ("compliance", "attendance", "dues", "points", "warnings")]
        zh_units = [measure_unit(m) for m in ("attendance", "points", "warnings")]
    with app.test_request_context(headers=EN):
        assert measure_name("compliance") == "3+1 meetings held"
        assert measure_unit("warnings") == "members"
    assert all(name for name in zh) and zh_units[0] == "%"


# The targets page.


def test_the_organiser_sets_a_branchs_targets_on_its_page(client, auth, app):
    b01 = _unit_id(app, "B01")
    auth.login()
    page = client.get(f"/boards/{b01}/targets?period=2026-Q3", headers=ZH)
    assert page.status_code == 200 and 'name="must_reach-attendance"' in page.get_data(as_text=True)
    saved = client.post(f"/boards/{b01}/targets", data={
        "must_reach-attendance": "85", "stretch-attendance": "95", "must_reach-warnings": "2",
    })  # fmt: skip
    assert saved.status_code == 303
    assert _targets(app, "B01") == {
        "attendance": (Decimal("85.0"), Decimal("95.0")),
        "warnings": (Decimal("2.0"), None),
    }
    shown = client.get(f"/boards/{b01}/targets", headers=EN).get_data(as_text=True)
    assert "attendance rate" in shown and 'value="95.0"' in shown


def test_bad_targets_on_the_page_are_a_422_naming_each_field(client, auth, app):
    b01 = _unit_id(app, "B01")
    _clear_targets(app, "B01")
    auth.login()
    answer = client.post(f"/boards/{b01}/targets", headers=EN, data={
        "must_reach-attendance": "85", "must_reach-dues": "120", "stretch-points": "x",
    })  # fmt: skip
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert 'id="must_reach-dues-error"' in text and 'id="stretch-points-error"' in text
    assert "a percentage: at most 100" in text
    assert _targets(app, "B01") == {}  # the good one was not written either


def test_a_secretary_reads_the_targets_but_may_not_set_them(client, auth, app):
    b01 = _unit_id(app, "B01")
    _clear_targets(app, "B01")
    auth.as_secretary(1)
    page = client.get(f"/boards/{b01}/targets")
    assert page.status_code == 200
    assert 'name="must_reach-attendance"' not in page.get_data(as_text=True)
    refused = client.post(f"/boards/{b01}/targets", data={"must_reach-attendance": "10"})
    assert refused.status_code == 403
    assert _targets(app, "B01") == {}


def test_another_branchs_secretary_gets_404(client, auth, app):
    b01 = _unit_id(app, "B01")
    notes = _count(app, TargetNote)
    auth.as_secretary(2)
    assert client.get(f"/boards/{b01}/targets").status_code == 404
    assert client.get(f"/boards/{b01}/notes/attendance?period=2026-Q3").status_code == 404
    assert client.post(f"/boards/{b01}/notes/attendance?period=2026-Q3",
                       data={"plan": "x"}).status_code == 404  # fmt: skip
    assert _count(app, TargetNote) == notes


def test_a_group_or_an_unknown_unit_has_no_targets_page(client, auth, app):
    auth.login()
    group = _unit_id(app, "B01-G1")
    assert client.get(f"/boards/{group}/targets").status_code == 404
    assert client.get("/boards/999999/targets").status_code == 404


def test_a_bad_period_is_a_422_naming_it(client, auth, app):
    auth.login()
    answer = client.get(f"/boards/{_unit_id(app, 'B01')}/targets?period=2026-13", headers=EN)
    assert answer.status_code == 422
    assert 'id="period-error"' in answer.get_data(as_text=True)


def test_the_same_targets_for_every_branch_under_the_committee_after_confirming(client, auth, app):
    b01 = _unit_id(app, "B01")
    with app.app_context():
        branches = db.session().scalar(
            select(func.count()).select_from(Unit).where(Unit.kind == "branch",
                                                         Unit.closed_at.is_(None))
        )  # fmt: skip
    b03 = _targets(app, "B03")
    held = _count(app, BoardTarget)
    wanted = {"measure": "dues", "must_reach": Decimal("90.0"), "stretch": Decimal("100.0")}
    assert _count(app, BoardTarget, **wanted) == 0
    since = _trail_mark(app)
    auth.login()
    form = {"must_reach-dues": "90", "stretch-dues": "100", "apply": "all"}
    asked = client.post(f"/boards/{b01}/targets", data=form)
    assert asked.status_code == 200 and 'name="confirm"' in asked.get_data(as_text=True)
    assert _count(app, BoardTarget, **wanted) == 0 and _count(app, BoardTarget) == held
    assert _targets(app, "B03") == b03
    done = client.post(f"/boards/{b01}/targets", data={**form, "confirm": "yes"})
    assert done.status_code == 303
    assert _count(app, BoardTarget, **wanted) == branches
    assert _events(app, "target.set", since) == branches
    assert _targets(app, "B03") == {**b03, "dues": (Decimal("90.0"), Decimal("100.0"))}


# Notes.


def test_the_secretary_writes_and_edits_a_note(client, auth, app):
    b01 = _unit_id(app, "B01")
    since = _trail_mark(app)
    auth.as_secretary(1)
    url = f"/boards/{b01}/notes/attendance?period=2026-Q3"
    assert client.get(url).status_code == 200
    written = client.post(url, data={"plan": "会前一天电话提醒", "do": "", "check": "", "act": ""})
    assert written.status_code == 303
    edited = client.post(url, data={"plan": "会前一天电话提醒", "do": "提醒了12人",
                                    "check": "出勤率升到90%", "act": "保持"})  # fmt: skip
    assert edited.status_code == 303
    with app.app_context():
        notes = list(db.session().scalars(select(TargetNote).where(TargetNote.unit_id == b01)))
        assert [(n.measure, n.period, n.plan_text, n.do_text, n.act_text) for n in notes] == [
            ("attendance", "2026-Q3", "会前一天电话提醒", "提醒了12人", "保持")
        ]
        assert notes[0].written_by == "user:secretary1"
    assert _events(app, "target.note", since) == 2
    shown = client.get(url).get_data(as_text=True)
    assert "提醒了12人" in shown


def test_a_note_too_long_or_empty_is_refused_naming_the_field(client, auth, app):
    b01 = _unit_id(app, "B01")
    auth.as_secretary(1)
    notes = _count(app, TargetNote)
    url = f"/boards/{b01}/notes/dues?period=2026-08"
    long = client.post(url, headers=EN, data={"plan": "短", "check": "长" * 2001})
    assert long.status_code == 422
    assert 'id="check-error"' in long.get_data(as_text=True)
    empty = client.post(url, headers=EN, data={"plan": " ", "do": ""})
    assert empty.status_code == 422
    assert 'id="note-error"' in empty.get_data(as_text=True)
    fits = client.post(url, data={"act": "长" * 2000})
    assert fits.status_code == 303
    assert _count(app, TargetNote) == notes + 1


def test_note_validation_names_measure_and_period(app):
    notes = _count(app, TargetNote)
    with app.app_context():
        s = db.session()
        with pytest.raises(TargetError) as refused:
            write_note(s, ACTOR, _unit(s, "B01"), "speed", "2026-Q5", "计划", None, None, None)
        other = Actor.of(_user(s, "secretary2"))
        with pytest.raises(TargetRefused):
            write_note(s, other, _unit(s, "B01"), "dues", "2026-Q3", "计划", None, None, None)
    assert set(refused.value.errors) == {"measure", "period"}
    assert _count(app, TargetNote) == notes


def test_an_unknown_measure_in_a_note_address_is_404(client, auth, app):
    auth.as_secretary(1)
    assert client.get(f"/boards/{_unit_id(app, 'B01')}/notes/speed").status_code == 404


def test_the_trail_reads_as_sentences(app):
    from qrservice.audit_sentences import describe_event, load_names

    since = _trail_mark(app)
    with app.app_context():
        s = db.session()
        set_target(s, ACTOR, _unit(s, "B01"), "attendance", "85", "95")
        write_note(s, ACTOR, _unit(s, "B01"), "attendance", "2026-Q3", "计划", None, None, None)
        s.commit()
    with app.test_request_context(headers=EN):
        s = db.session()
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("target.%"),
                                                         AuditEvent.id > since)
                                .order_by(AuditEvent.id)))  # fmt: skip
        said = [describe_event(e, load_names(s, events)) for e in events]
    assert said[0].startswith("Test set the targets of ")
    assert "attendance rate: must-reach 85.0%, stretch 95.0%" in said[0]
    assert "note of" in said[1] and "2026-Q3" in said[1]


# The command line.


def test_targets_on_the_command_line(runner, app):
    _clear_targets(app, "B01")
    done = runner.invoke(main, ["targets", "set", "--unit", "B01", "--measure", "attendance",
                                "--must", "85", "--stretch", "95"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert _targets(app, "B01") == {"attendance": (Decimal("85.0"), Decimal("95.0"))}
    listed = runner.invoke(main, ["targets", "list", "--unit", "B01", "--period", "2026-Q3"])
    assert listed.exit_code == 0, listed.output
    assert "B01" in listed.output and "attendance" in listed.output and "85.0" in listed.output
    bad = runner.invoke(main, ["targets", "set", "--unit", "B01", "--measure", "attendance",
                               "--must", "90", "--stretch", "80"])  # fmt: skip
    assert bad.exit_code != 0 and "stretch (--stretch)" in bad.output
    unknown = runner.invoke(main, ["targets", "set", "--unit", "B01", "--measure", "speed"])
    assert unknown.exit_code != 0 and "measure (--measure)" in unknown.output
    assert _targets(app, "B01") == {"attendance": (Decimal("85.0"), Decimal("95.0"))}


def test_targets_for_every_branch_under_a_committee_on_the_command_line(runner, app):
    codes = ("B01", "B02", "B03", "B04")
    held = {code: _targets(app, code) for code in codes}
    assert all(held[code].get("warnings") != (Decimal("3.0"), Decimal("1.0")) for code in codes)
    done = runner.invoke(main, ["targets", "set", "--all-under", "C01", "--measure", "warnings",
                                "--must", "3", "--stretch", "1"])  # fmt: skip
    assert done.exit_code == 0, done.output
    for code in codes:
        assert _targets(app, code) == {**held[code], "warnings": (Decimal("3.0"), Decimal("1.0"))}
    listed = runner.invoke(main, ["targets", "list", "--unit", "C01"])
    assert listed.exit_code == 0
    lines = [line.split() for line in listed.output.splitlines()]
    for code in codes:
        assert [code, "warnings", "must", "3.0", "stretch", "1.0"] in lines


def test_a_note_on_the_command_line_keeps_the_parts_not_given(runner, app):
    note = ["targets", "note", "--unit", "B01", "--measure", "attendance", "--period", "2026-Q3"]
    first = runner.invoke(main, [*note, "--plan", "计划", "--do", "执行"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["targets", "note", "--unit", "B01", "--measure", "attendance",
                                  "--period", "2026-Q3", "--check", "检查"])  # fmt: skip
    assert second.exit_code == 0, second.output
    with app.app_context():
        b01 = _unit(db.session(), "B01")
        note = db.session().scalar(
            select(TargetNote).where(
                TargetNote.unit_id == b01.id,
                TargetNote.period == "2026-Q3",
                TargetNote.measure == "attendance",
            )
        )
        assert (note.plan_text, note.do_text, note.check_text, note.act_text) == (
            "计划", "执行", "检查", None,
        )  # fmt: skip
    bad = runner.invoke(main, ["targets", "note", "--unit", "B01", "--measure", "attendance",
                               "--period", "Q3"])  # fmt: skip
    assert bad.exit_code != 0 and "period (--period)" in bad.output
