"""三会一课: the rules as data (who changes them, how they are checked, the trail, the page and
the CLI) and compliance counted on meetings a test made, slot by slot."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.boards.compliance import (
    ComplianceError,
    RuleChangeRefused,
    compliance_of,
    remove_rule,
    set_rule,
    slot_label,
)
from qrservice.boards.periods import parse_period
from qrservice.cli import main
from qrservice.models import AuditEvent, ComplianceRule, Meeting, Member, Unit, User
from qrservice.org.units import create_unit
from qrservice.timeutil import from_local
from tests.test_scan_costs import statements_of

ACTOR = Actor.system("test")
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
#: A day in the third quarter: August runs, July has ended.
TODAY = date(2026, 8, 20)


def _rules(app) -> list[tuple]:
    with app.app_context():
        rows = db.session().execute(
            select(ComplianceRule.meeting_kind, ComplianceRule.frequency,
                   ComplianceRule.per_unit, ComplianceRule.minimum)
            .order_by(ComplianceRule.meeting_kind)
        )  # fmt: skip
        return [tuple(r) for r in rows]


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        s = db.session()
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        s.expunge_all()
        return events


# The rules.


def test_the_national_defaults_are_there_to_start_with(app):
    assert ("group", "month", "group", 1) in _rules(app)
    assert ("branch_general", "quarter", "branch", 1) in _rules(app)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (("party", "month", "branch", 1), "kind"),
        (("group", "week", "branch", 1), "frequency"),
        (("group", "month", "committee", 1), "per_unit"),
        (("group", "month", "branch", 0), "minimum"),
        (("group", "month", "branch", 32), "minimum"),
        (("group", "month", "branch", "1.5"), "minimum"),
        (("group", "month", "branch", ""), "minimum"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field_and_nothing_changes(app, values, field):
    before = _rules(app)
    with app.app_context(), pytest.raises(ComplianceError) as refused:
        set_rule(db.session(), ACTOR, *values)
    assert list(refused.value.errors) == [field]
    assert _rules(app) == before


def test_changing_a_rule_is_audited_with_before_and_after(app):
    with app.app_context():
        s = db.session()
        set_rule(s, ACTOR, "group", "quarter", "group", "２")  # full-width digits too
        set_rule(s, ACTOR, "volunteer", "year", "branch", 4)
        set_rule(s, ACTOR, "volunteer", "year", "branch", 4)  # unchanged: no second event
        remove_rule(s, ACTOR, "lecture")
        s.commit()
    rules = _rules(app)
    assert ("group", "quarter", "group", 2) in rules
    assert ("volunteer", "year", "branch", 4) in rules
    assert not any(r[0] == "lecture" for r in rules)
    set_events = _events(app, "compliance_rule.set")
    assert len(set_events) == 2
    assert '"minimum": 1' in set_events[0].before and '"minimum": 2' in set_events[0].after
    assert set_events[1].before is None
    (removed,) = _events(app, "compliance_rule.remove")
    assert '"lecture"' in removed.before


def test_removing_a_rule_that_is_not_there_names_the_kind(app):
    with app.app_context():
        s = db.session()
        remove_rule(s, ACTOR, "lecture")
        with pytest.raises(ComplianceError) as refused:
            remove_rule(s, ACTOR, "lecture")
    assert list(refused.value.errors) == ["kind"]


def test_only_the_top_committees_organisers_may_change_rules(app):
    with app.app_context():
        s = db.session()
        secretary = s.scalar(select(User).where(User.username == "secretary1"))
        with pytest.raises(RuleChangeRefused):
            set_rule(s, Actor.of(secretary), "group", "month", "group", 2)
        with pytest.raises(RuleChangeRefused):
            remove_rule(s, Actor.of(secretary), "group")
    assert ("group", "month", "group", 1) in _rules(app)


def test_every_officer_reads_the_rules_page_with_kind_names(client, auth, app):
    auth.as_secretary(2)
    page = client.get("/boards/rules", headers=ZH)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "党小组会" in text and "支部党员大会" in text
    assert 'name="minimum"' not in text  # no forms for a secretary


def test_a_secretary_posting_a_rule_is_refused_and_nothing_changes(client, auth, app):
    before = _rules(app)
    auth.as_secretary(1)
    answer = client.post("/boards/rules", data={"kind": "group", "frequency": "month",
                                                "per_unit": "group", "minimum": "3"})  # fmt: skip
    assert answer.status_code == 403
    assert _rules(app) == before


def test_the_top_organiser_changes_and_adds_rules_on_the_page(client, auth, app):
    auth.login()
    answer = client.post("/boards/rules", data={"kind": "group", "frequency": "quarter",
                                                "per_unit": "group", "minimum": "2"})  # fmt: skip
    assert answer.status_code == 303
    answer = client.post("/boards/rules", data={"form": "new", "kind": "volunteer",
                                                "frequency": "year", "per_unit": "branch",
                                                "minimum": "6"})  # fmt: skip
    assert answer.status_code == 303
    assert ("group", "quarter", "group", 2) in _rules(app)
    assert ("volunteer", "year", "branch", 6) in _rules(app)
    trail = client.get("/boards/rules", headers=EN).get_data(as_text=True)
    assert "Volunteer service" in trail


def test_a_bad_rule_on_the_page_is_a_422_naming_the_field(client, auth, app):
    before = _rules(app)
    auth.login()
    bad = {"kind": "group", "frequency": "fortnight", "per_unit": "group", "minimum": "40"}
    answer = client.post("/boards/rules", headers=EN, data=bad)
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert 'id="rule-group-frequency-error"' in text
    assert 'id="rule-group-minimum-error"' in text
    assert "a whole number from 1 to 31" in text
    assert _rules(app) == before


def test_removing_a_rule_on_the_page_asks_first(client, auth, app):
    auth.login()
    asked = client.post("/boards/rules", data={"kind": "lecture", "action": "remove"})
    assert asked.status_code == 200 and 'name="confirm"' in asked.get_data(as_text=True)
    assert any(r[0] == "lecture" for r in _rules(app))
    done = client.post("/boards/rules",
                       data={"kind": "lecture", "action": "remove", "confirm": "yes"})  # fmt: skip
    assert done.status_code == 303
    assert not any(r[0] == "lecture" for r in _rules(app))


def test_rules_on_the_command_line(runner, app):
    listed = runner.invoke(main, ["rules", "list"])
    assert listed.exit_code == 0, listed.output
    assert "group" in listed.output and "every month per group" in listed.output
    done = runner.invoke(main, ["rules", "set", "lecture", "--every", "month", "--minimum", "2"])
    assert done.exit_code == 0, done.output
    assert ("lecture", "month", "branch", 2) in _rules(app)
    bad = runner.invoke(main, ["rules", "set", "lecture", "--every", "week", "--minimum", "0"])
    assert bad.exit_code != 0
    assert "frequency (--every)" in bad.output and "minimum (--minimum)" in bad.output
    assert ("lecture", "month", "branch", 2) in _rules(app)
    gone = runner.invoke(main, ["rules", "remove", "lecture"])
    assert gone.exit_code == 0, gone.output
    assert not any(r[0] == "lecture" for r in _rules(app))
    again = runner.invoke(main, ["rules", "remove", "lecture"])
    assert again.exit_code != 0 and "kind (KIND)" in again.output
    assert len(_events(app, "compliance_rule.set")) == 1
    assert len(_events(app, "compliance_rule.remove")) == 1


# Compliance on hand-made meetings.


def _branch(s, code: str, groups: int = 2) -> Unit:
    """A branch with ``groups`` groups, all made long ago, and no meetings."""
    committee = s.scalar(select(Unit).where(Unit.parent_id.is_(None)))
    branch = create_unit(s, ACTOR, kind="branch", name=f"测试支部{code}", code=code,
                         parent=committee)  # fmt: skip
    for n in range(1, groups + 1):
        create_unit(s, ACTOR, kind="group", name=f"第{n}党小组", code=f"{code}-G{n}",
                    parent=branch)  # fmt: skip
    for unit in s.scalars(select(Unit).where(Unit.path.startswith(branch.path))):
        unit.created_at = datetime(2025, 1, 1)
    s.flush()
    return branch


def _meeting(s, unit: Unit, kind: str, local_start: datetime, status: str = "closed") -> None:
    starts_at = from_local(local_start)
    s.add(
        Meeting(
            unit_id=unit.id, kind=kind, title="测试", starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=20), status=status, created_by="test",
            created_at=datetime(2025, 1, 1),
        )
    )  # fmt: skip
    s.flush()


def _only(s, *rules: tuple) -> None:
    """Just these rules."""
    s.execute(delete(ComplianceRule))
    for rule in rules:
        set_rule(s, ACTOR, *rule)


def _group(s, code: str) -> Unit:
    return s.scalar(select(Unit).where(Unit.code == code))


def _slots(compliance, kind: str | None = None) -> list[tuple]:
    return [
        (slot.kind, slot.unit_name, slot.slot.key, slot.held, slot.required, slot.state)
        for slot in compliance.slots
        if kind is None or slot.kind == kind
    ]


def test_held_against_required_per_kind_and_slot(app):
    with app.test_request_context(headers=ZH):
        s = db.session()
        branch = _branch(s, "T01")
        _only(
            s,
            ("branch_committee", "month", "branch", 1),
            ("branch_general", "quarter", "branch", 1),
            ("lecture", "quarter", "branch", 2),
        )
        _meeting(s, branch, "branch_committee", datetime(2026, 7, 3, 19))
        _meeting(s, branch, "branch_committee", datetime(2026, 9, 3, 19))  # after the period
        _meeting(s, branch, "branch_general", datetime(2026, 7, 10, 9))
        _meeting(s, branch, "lecture", datetime(2026, 8, 10, 9))
        # Cancelled, and never opened: not held.
        _meeting(s, branch, "branch_committee", datetime(2026, 8, 5, 19), status="cancelled")
        _meeting(s, branch, "lecture", datetime(2026, 8, 15, 9), status="scheduled")
        compliance = compliance_of(s, [branch], parse_period("2026-Q3", TODAY), TODAY)[branch.id]
    name = "测试支部T01"
    assert _slots(compliance) == [
        ("branch_general", name, "2026-Q3", 1, 1, "met"),
        ("branch_committee", name, "2026-07", 1, 1, "met"),
        # August has not ended: due, not missed (and September has not begun: no slot).
        ("branch_committee", name, "2026-08", 0, 1, "due"),
        ("lecture", name, "2026-Q3", 1, 2, "due"),
    ]
    assert compliance.met == 2 and compliance.counted == 2 and compliance.percent == 100


def test_an_ended_slot_without_its_meetings_is_missed_and_named(app):
    with app.test_request_context(headers=ZH):
        s = db.session()
        branch = _branch(s, "T02")
        _only(s, ("group", "month", "group", 1))
        _meeting(s, _group(s, "T02-G1"), "group", datetime(2026, 7, 8, 19))
        _meeting(s, _group(s, "T02-G2"), "group", datetime(2026, 7, 9, 19), status="cancelled")
        compliance = compliance_of(s, [branch], parse_period("2026-07", TODAY), TODAY)[branch.id]
        (missed,) = compliance.missed
        zh = slot_label(missed)
    with app.test_request_context(headers=EN):
        en = slot_label(missed)
    # A group rule counts each group.
    assert _slots(compliance) == [
        ("group", "第1党小组", "2026-07", 1, 1, "met"),
        ("group", "第2党小组", "2026-07", 0, 1, "missed"),
    ]
    assert zh.startswith("党小组会 · 第2党小组 · ")
    assert en == "Group meeting · 第2党小组 · 2026-07"
    assert compliance.percent == 50


def test_a_quarterly_slot_read_for_a_month_is_the_whole_quarter_and_says_so(app):
    with app.test_request_context(headers=EN):
        s = db.session()
        branch = _branch(s, "T03", groups=0)
        _only(s, ("lecture", "quarter", "branch", 1))
        _meeting(s, branch, "lecture", datetime(2026, 9, 10, 9))  # same quarter, not August
        august = parse_period("2026-08", date(2026, 10, 2))
        compliance = compliance_of(s, [branch], august, date(2026, 10, 2))[branch.id]
        (slot,) = compliance.slots
        label = slot_label(slot, august)
    assert (slot.slot.key, slot.held, slot.state) == ("2026-Q3", 1, "met")
    assert "the whole quarter" in label


def test_groups_closed_before_a_slot_do_not_count_groups_recorded_later_do(app):
    """A group closed before July owes nothing for July. One whose row was made in August
    still does: organisations record their tree after the fact (a new installation enters last
    quarter's meetings of groups it set up today)."""
    with app.app_context():
        s = db.session()
        branch = _branch(s, "T04", groups=3)
        _only(s, ("group", "month", "group", 1))
        _group(s, "T04-G2").created_at = datetime(2026, 8, 1)  # recorded after July
        _group(s, "T04-G3").closed_at = datetime(2026, 6, 1)  # closed before July
        s.flush()
        compliance = compliance_of(s, [branch], parse_period("2026-07", TODAY), TODAY)[branch.id]
    assert [slot.unit_name for slot in compliance.slots] == ["第1党小组", "第2党小组"]


def test_a_meeting_at_23_30_on_the_last_day_of_a_quarter_counts_in_that_quarter(app):
    with app.app_context():
        s = db.session()
        branch = _branch(s, "T05", groups=0)
        _only(s, ("branch_general", "quarter", "branch", 1))
        _meeting(s, branch, "branch_general", datetime(2026, 9, 30, 23, 30))
        stored = s.scalar(select(Meeting.starts_at).where(Meeting.unit_id == branch.id))
        today = date(2026, 12, 31)
        q3 = compliance_of(s, [branch], parse_period("2026-Q3", today), today)[branch.id]
        q4 = compliance_of(s, [branch], parse_period("2026-Q4", today), today)[branch.id]
    assert stored == datetime(2026, 9, 30, 15, 30)  # Asia/Shanghai, stored UTC
    assert _slots(q3)[0][3:] == (1, 1, "met")
    assert _slots(q4)[0][3:] == (0, 1, "due")


def test_a_period_not_yet_begun_has_no_slots(app):
    with app.app_context():
        s = db.session()
        branch = _branch(s, "T06")
        compliance = compliance_of(s, [branch], parse_period("2026-10", TODAY), TODAY)[branch.id]
    assert compliance.slots == () and compliance.percent is None


def _members_into(s, branch: Unit, count: int) -> None:
    template = s.scalar(select(Member).limit(1))
    for n in range(count):
        s.add(Member(number=f"{branch.code}{n:04d}", name=f"成员{n}", gender="male",
                     joined_on=template.joined_on, status="full", unit_id=branch.id,
                     created_at=template.created_at, updated_at=template.updated_at))  # fmt: skip
    s.flush()


def test_compliance_takes_the_same_statements_for_1_or_4_branches_and_2_or_20_members(app):
    with app.app_context():
        s = db.session()
        small, large = _branch(s, "T07"), _branch(s, "T08")
        _members_into(s, small, 2)
        _members_into(s, large, 20)
        for branch in (small, large):
            _meeting(s, branch, "branch_committee", datetime(2026, 7, 3, 19))
            _meeting(s, _group(s, f"{branch.code}-G1"), "group", datetime(2026, 7, 5, 19))
        s.commit()
        four = list(s.scalars(select(Unit).where(Unit.kind == "branch").order_by(Unit.code)))[:4]
        period = parse_period("2026-Q3", TODAY)
        counts = []
        for branches in ([four[0]], four, [small], [large]):
            [(b.id, b.name, b.path) for b in branches]  # loaded before counting
            _done, seen = statements_of(app, lambda b=branches: compliance_of(s, b, period, TODAY))
            counts.append(len(seen))
    assert len(four) == 4
    assert counts == [counts[0]] * 4, counts
    assert counts[0] <= 3, seen


def test_the_demos_branches_count_without_error(app):
    with app.app_context():
        s = db.session()
        branches = list(s.scalars(select(Unit).where(Unit.kind == "branch")))
        today = date.today()
        found = compliance_of(s, branches, parse_period("", today, "year"), today)
        held = s.scalar(select(func.count()).select_from(Meeting))
        assert set(found) == {b.id for b in branches}
    assert held > 0


def test_an_unknown_kind_on_the_page_is_a_422_shown_on_the_add_form(client, auth, app):
    before = _rules(app)
    auth.login()
    answer = client.post(
        "/boards/rules",
        headers=EN,
        data={"form": "new", "kind": "party", "frequency": "month", "per_unit": "branch",
              "minimum": "1"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert 'id="new-kind-error"' in answer.get_data(as_text=True)
    assert _rules(app) == before
