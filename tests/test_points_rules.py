"""Points: officers' lines and their corrections, the rules per meeting kind, dues paid on
time, the settings of points and assessment, the pages and the CLI."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.dues import record_payment, void_payment
from qrservice.life.points_ledger import PointsError, add_entry, set_rule
from qrservice.models import AuditEvent, Member, Organisation, PointsEntry, PointsRule
from qrservice.org.issuance import active_card, set_new_pin

EN = {"Accept-Language": "en"}
ACTOR = Actor.system("test")
#: A member of B01 (secretary1's branch) and one of B02.
B01_MEMBER, B02_MEMBER = "20260001", "20260031"
_COLUMNS = [c.key for c in PointsEntry.__table__.columns]


def _member_id(app, number: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Member.id).where(Member.number == number))


def _lines(app, member_id: int, **where) -> list[SimpleNamespace]:
    with app.app_context():
        s = db.session()
        query = select(PointsEntry).where(PointsEntry.member_id == member_id)
        for key, value in where.items():
            query = query.where(getattr(PointsEntry, key) == value)
        return [
            SimpleNamespace(**{c: getattr(line, c) for c in _COLUMNS})
            for line in s.scalars(query.order_by(PointsEntry.id))
        ]


def _rules(s) -> list[tuple]:
    """Every rule as it stands in the session: kind, points, who set it and when."""
    rows = s.execute(
        select(
            PointsRule.meeting_kind, PointsRule.points, PointsRule.updated_by, PointsRule.updated_at
        ).order_by(PointsRule.meeting_kind)
    )
    return [tuple(r) for r in rows]


def _rules_now(app) -> list[tuple]:
    with app.app_context():
        return _rules(db.session())


def _count(app, model) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model))


def _count_rule_events(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).where(AuditEvent.action == "points.rule"))


# Rules


def test_a_rule_with_absurd_points_is_refused_naming_points(app):
    with app.app_context():
        s = db.session()
        rules = _rules(s)  # the demo's rules, group among them
        assert "group" in [kind for kind, *_ in rules]
        for absurd in ("101", "-1", "5x", ""):
            try:
                set_rule(s, ACTOR, "group", absurd)
            except PointsError as exc:
                assert set(exc.errors) == {"points"}
            else:
                raise AssertionError(f"{absurd!r} was accepted")
        assert _rules(s) == rules


def test_rules_page_sets_a_kind_and_refuses_absurd_points_with_the_field_marked(client, auth, app):
    rules = _rules_now(app)  # the demo's rules, group at other than 3
    assert ("group", 3) not in [(kind, points) for kind, points, *_ in rules]
    events = _count_rule_events(app)
    auth.login()
    page = client.post("/points/rules", data={"group": "3", "lecture": "500"}, headers=EN)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="rule-lecture-error"' in html and "between" in html
    assert _rules_now(app) == rules  # nothing half-written
    assert _count_rule_events(app) == events
    assert client.post("/points/rules", data={"group": "3"}).status_code == 303
    with app.app_context():
        s = db.session()
        assert s.scalar(select(PointsRule.points).where(PointsRule.meeting_kind == "group")) == 3
    assert _count_rule_events(app) == events + 1


def test_rules_page_is_refused_to_secretaries(client, auth):
    auth.as_secretary(1)
    assert client.get("/points/rules").status_code == 403
    assert client.post("/points/rules", data={"group": "3"}).status_code == 403


def test_cli_sets_and_shows_rules_and_names_the_option_of_bad_points(runner, app):
    result = runner.invoke(main, ["points", "rules", "--kind", "group", "--points", "4"])
    assert result.exit_code == 0, result.output
    assert "group\t4" in result.output
    result = runner.invoke(main, ["points", "rules", "--kind", "group", "--points", "400"])
    assert result.exit_code != 0 and "points (--points)" in result.output
    result = runner.invoke(main, ["points", "rules"])
    assert "group\t4" in result.output


def test_a_new_meeting_form_suggests_the_points_of_its_kinds_rule(client, auth, app):
    with app.app_context():
        s = db.session()
        set_rule(s, ACTOR, "group", 7)
        s.commit()
    auth.login()
    html = client.get("/meetings/new?kind=group", headers=EN).get_data(as_text=True)
    assert 'name="points" type="number" min="0" max="100" value="7"' in html
    assert '<option value="group" selected' in html


def test_a_meeting_created_by_the_cli_without_points_takes_its_kinds_rule(runner, app):
    with app.app_context():
        s = db.session()
        set_rule(s, ACTOR, "lecture", 6)
        s.commit()
    result = runner.invoke(main, ["meetings", "create", "--unit", "B01", "--kind", "lecture",
                                  "--title", "规则党课", "--starts", "2031-05-06 09:00",
                                  "--minutes", "60"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        from qrservice.models import Meeting

        points = db.session().scalar(select(Meeting.points).where(Meeting.title == "规则党课"))
    assert points == 6


# Officers' lines and corrections


def test_an_officers_deduction_needs_a_reason_and_nothing_is_written(client, auth, app):
    auth.as_secretary(1)
    member_id = _member_id(app, B01_MEMBER)
    before = len(_lines(app, member_id))
    page = client.post(f"/points/members/{member_id}/entries", headers=EN,
                       data={"kind": "deduction", "points": "3", "reason": " ",
                             "on": "2026-01-10"})  # fmt: skip
    assert page.status_code == 422
    assert 'id="reason-error"' in page.get_data(as_text=True)
    assert len(_lines(app, member_id)) == before


def test_an_officers_deduction_takes_points_whatever_sign_it_is_given(client, auth, app):
    auth.as_secretary(1)
    member_id = _member_id(app, B01_MEMBER)
    for value in ("3", "-3"):
        response = client.post(f"/points/members/{member_id}/entries",
                               data={"kind": "deduction", "points": value,
                                     "reason": "迟到早退", "on": "2026-01-10"})  # fmt: skip
        assert response.status_code == 303
    lines = _lines(app, member_id, kind="deduction")
    assert [line.points for line in lines] == [-3, -3]
    assert all(line.recorded_by == "user:secretary1" for line in lines)


def test_entry_points_out_of_range_or_zero_or_in_the_future_are_refused_by_field(app):
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == B01_MEMBER))
        cases = [
            ({"points": 0}, "points"), ({"points": 101}, "points"), ({"points": -5}, "points"),
            ({"on": "2099-01-01"}, "on"), ({"kind": "attendance"}, "kind"),
        ]  # fmt: skip
        for change, field in cases:
            fields = {"kind": "volunteer", "points": 5, "reason": "植树", "on": "2026-01-10"}
            fields.update(change)
            try:
                add_entry(s, ACTOR, member, **fields)
            except PointsError as exc:
                assert field in exc.errors, (change, exc.errors)
            else:
                raise AssertionError(f"{change} was accepted")
        # The boundaries themselves are accepted.
        add_entry(s, ACTOR, member, kind="award", points=100, reason="表彰", on="2026-01-10")
        add_entry(s, ACTOR, member, kind="deduction", points=-100, reason="处分", on="2026-01-10")


def test_a_correction_reverses_the_line_exactly_and_only_once(client, auth, app):
    auth.as_secretary(1)
    member_id = _member_id(app, B01_MEMBER)
    client.post(f"/points/members/{member_id}/entries",
                data={"kind": "volunteer", "points": "5", "reason": "社区服务",
                      "on": "2026-01-10"})  # fmt: skip
    (entry,) = _lines(app, member_id, kind="volunteer")
    # First the confirmation page: nothing is corrected yet.
    page = client.post(f"/points/entries/{entry.id}/correct", data={"reason": "记错人了"})
    assert page.status_code == 200 and 'name="confirm"' in page.get_data(as_text=True)
    assert _lines(app, member_id, kind="correction") == []
    response = client.post(f"/points/entries/{entry.id}/correct",
                           data={"reason": "记错人了", "confirm": "yes"})  # fmt: skip
    assert response.status_code == 303
    (correction,) = _lines(app, member_id, kind="correction")
    assert correction.points == -5 and correction.at == entry.at
    assert f"#{entry.id}" in correction.reason and "记错人了" in correction.reason
    again = client.post(f"/points/entries/{entry.id}/correct",
                        data={"reason": "again", "confirm": "yes"}, headers=EN)  # fmt: skip
    assert again.status_code == 422
    assert "already been corrected" in again.get_data(as_text=True)
    assert len(_lines(app, member_id, kind="correction")) == 1
    ledger = client.get(f"/points/members/{member_id}", headers=EN).get_data(as_text=True)
    assert "volunteer service" in ledger and "corrected" in ledger


def test_a_derived_attendance_line_cannot_be_corrected_by_hand(client, auth, app):
    auth.login()
    member_id = _member_id(app, B01_MEMBER)
    attendance = _lines(app, member_id, kind="attendance")[0]
    response = client.post(f"/points/entries/{attendance.id}/correct",
                           data={"reason": "x", "confirm": "yes"}, headers=EN)  # fmt: skip
    assert response.status_code == 422
    assert _lines(app, member_id, kind="correction") == []


def test_another_branchs_secretary_gets_404_on_a_members_ledger_and_entries(client, auth, app):
    auth.as_secretary(1)
    member_id = _member_id(app, B02_MEMBER)
    assert client.get(f"/points/members/{member_id}").status_code == 404
    response = client.post(f"/points/members/{member_id}/entries",
                           data={"kind": "award", "points": "5", "reason": "x",
                                 "on": "2026-01-10"})  # fmt: skip
    assert response.status_code == 404
    assert _lines(app, member_id, kind="award") == []


def test_cli_adds_and_corrects_a_line_and_names_the_option_at_fault(runner, app):
    result = runner.invoke(main, ["points", "add", B01_MEMBER, "--points", "5",
                                  "--source", "volunteer", "--reason", "义务献血",
                                  "--on", "2026-01-10"])  # fmt: skip
    assert result.exit_code == 0, result.output
    member_id = _member_id(app, B01_MEMBER)
    (entry,) = _lines(app, member_id, kind="volunteer")
    assert entry.points == 5 and entry.recorded_by == "cli"
    result = runner.invoke(main, ["points", "add", B01_MEMBER, "--points", "0",
                                  "--source", "award", "--reason", "x"])  # fmt: skip
    assert result.exit_code != 0 and "points (--points)" in result.output
    result = runner.invoke(main, ["points", "correct", str(entry.id)])
    assert result.exit_code != 0 and "reason (--reason)" in result.output
    result = runner.invoke(main, ["points", "correct", str(entry.id), "--reason", "重复"])
    assert result.exit_code == 0, result.output
    assert [line.points for line in _lines(app, member_id, kind="correction")] == [-5]


# Dues paid on time


def _pay(s, member, first: date, months: int, paid_on: date, receipt: str):
    return record_payment(s, ACTOR, member, first_month=first, months=months, amount_fen=1,
                          method="cash", receipt_no=receipt, paid_on=paid_on,
                          today=date(2031, 6, 1))  # fmt: skip


def _dues_member(s) -> Member:
    member = s.scalar(select(Member).where(Member.number == B01_MEMBER))
    s.scalar(select(Organisation)).dues_on_time_points = 2
    return member


def test_dues_for_december_and_january_paid_on_31_january_earn_points_for_both(app):
    with app.app_context():
        s = db.session()
        member = _dues_member(s)
        payment = _pay(s, member, date(2030, 12, 1), 2, date(2031, 1, 31), "ONTIME-1")
        s.commit()
        lines = _lines(app, member.id, payment_id=payment.id)
        assert [(line.kind, line.points) for line in lines] == [("dues", 4)]


def test_dues_paid_on_1_february_for_december_and_january_earn_nothing(app):
    with app.app_context():
        s = db.session()
        member = _dues_member(s)
        payment = _pay(s, member, date(2030, 12, 1), 2, date(2031, 2, 1), "LATE-1")
        s.commit()
        assert _lines(app, member.id, payment_id=payment.id) == []


def test_voiding_a_payment_reverses_its_dues_points_exactly(app):
    with app.app_context():
        s = db.session()
        member = _dues_member(s)
        payment = _pay(s, member, date(2031, 3, 1), 3, date(2031, 3, 5), "VOID-1")
        s.commit()
        void_payment(s, ACTOR, payment, "收据写错")
        s.commit()
        lines = _lines(app, member.id, payment_id=payment.id)
        assert [line.points for line in lines] == [6, -6]
        assert sum(line.points for line in lines) == 0


# Settings and the assessment page


def test_settings_page_turns_rankings_off_and_refuses_an_absurd_threshold(client, auth, app):
    auth.login()
    with app.app_context():
        name = db.session().scalar(select(Organisation.name))
    form = {"name": name, "dues_tracked_from": "2025-01", "makeup_days": "30",
            "makeup_min_chars": "50", "makeup_points": "1", "dues_on_time_points": "1",
            "assessment_threshold": "-2"}  # fmt: skip
    page = client.post("/settings/organisation", data=form, headers=EN)
    assert page.status_code == 422
    assert 'id="assessment_threshold-error"' in page.get_data(as_text=True)
    form["assessment_threshold"] = "5"
    assert client.post("/settings/organisation", data=form).status_code == 302
    with app.app_context():
        org = db.session().scalar(select(Organisation))
        assert org.assessment_threshold == 5 and org.rankings_enabled is False


def test_assessment_page_shows_ranks_only_when_rankings_are_enabled(client, auth, app):
    auth.as_secretary(1)
    on = client.get("/points/assessment?unit=B01&month=2026-03", headers=EN)
    assert on.status_code == 200 and ">Rank<" in on.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        s.scalar(select(Organisation)).rankings_enabled = False
        s.commit()
    off = client.get("/points/assessment?unit=B01&month=2026-03", headers=EN)
    html = off.get_data(as_text=True)
    assert off.status_code == 200 and "Rank" not in html and "For follow-up" in html


def test_assessment_page_of_another_branch_is_404_and_a_bad_month_names_the_field(client, auth):
    auth.as_secretary(1)
    assert client.get("/points/assessment?unit=B02").status_code == 404
    page = client.get("/points/assessment?unit=B01&month=2026-13", headers=EN)
    assert page.status_code == 422 and 'id="month-error"' in page.get_data(as_text=True)


def test_cli_prints_a_units_assessment(runner):
    result = runner.invoke(main, ["points", "assessment", "--unit", "B01", "--month", "2026-03"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("B01 ") and "follow-up (below" in result.output
    result = runner.invoke(main, ["points", "assessment", "--unit", "B99"])
    assert result.exit_code != 0 and "unit (--unit)" in result.output


def test_the_members_card_names_the_source_of_each_points_line(client, app):
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == B01_MEMBER))
        add_entry(s, ACTOR, member, kind="volunteer", points=4, reason="社区清扫", on="2026-01-10")
        card = active_card(s, member.id)
        pin = set_new_pin(card, app.config["SECRET_KEY"])
        s.commit()
        token = card.token
    client.post(f"/c/{token}/unlock", data={"pin": pin})
    html = client.get(f"/c/{token}", headers=EN).get_data(as_text=True)
    assert "volunteer service · 社区清扫" in html and "+4" in html


def test_cli_changes_points_settings_and_names_the_option_of_a_bad_value(runner, app):
    result = runner.invoke(main, ["points", "settings", "--no-rankings", "--threshold", "4"])
    assert result.exit_code == 0, result.output
    assert "rankings_enabled\tFalse" in result.output
    assert "assessment_threshold\t4" in result.output
    result = runner.invoke(main, ["points", "settings", "--dues-on-time", "101", "--rankings"])
    assert result.exit_code != 0 and "dues_on_time_points (--dues-on-time)" in result.output
    with app.app_context():
        org = db.session().scalar(select(Organisation))
        assert org.rankings_enabled is False and org.dues_on_time_points == 1
        assert org.assessment_threshold == 4
