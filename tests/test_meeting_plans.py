"""Planning meetings: monthly and quarterly repeats keep the day (the month's last day when it is
shorter), titles fill in {month} and {quarter}, a committee's plan makes one meeting per open
branch, the preview writes nothing, every meeting is created or none, and the CLI does the same.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.cli import main
from qrservice.life.meeting_plans import fill_title
from qrservice.models import AuditEvent, Meeting, MeetingPlan, Unit
from qrservice.timeutil import local_time, utcnow
from qrservice.timeutil import same_day_months_later as add_months

EN = {"Accept-Language": "en"}
YEAR = date.today().year + 1


def unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def form(app, **overrides) -> dict[str, str]:
    data = {
        "unit_id": str(unit_id(app, "B01")), "kind": "theme_day", "title": "{month}主题党日",
        "first": f"{YEAR}-12-10T15:00", "minutes": "90", "place": "党员活动室",
        "remote_allowed": "no", "points": "2", "repeat": "monthly", "occurrences": "12",
    }  # fmt: skip
    data.update(overrides)
    return data


def last_plan_id(app) -> int:
    """The newest plan's id (0 if none): the demo's own plan comes before what a test plans."""
    with app.app_context():
        return db.session().scalar(select(func.max(MeetingPlan.id))) or 0


def planned_meetings(app, after: int) -> list[tuple[str, datetime, str, int | None]]:
    """(title, local start, unit code, plan id) of every meeting made by a plan newer than the
    plan ``after``, in order."""
    with app.app_context():
        rows = db.session().execute(
            select(Meeting.title, Meeting.starts_at, Unit.code, Meeting.plan_id)
            .join(Unit, Unit.id == Meeting.unit_id)
            .where(Meeting.plan_id > after)
            .order_by(Meeting.starts_at, Unit.code)
        )
        return [(t, local_time(at), code, plan) for t, at, code, plan in rows]


def plans_after(app, after: int) -> list[MeetingPlan]:
    """The plans newer than the plan ``after``, detached."""
    with app.app_context():
        s = db.session()
        plans = s.scalars(select(MeetingPlan).where(MeetingPlan.id > after)).all()
        s.expunge_all()
        return list(plans)


def last_event_id(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.max(AuditEvent.id))) or 0


def meeting_count(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(Meeting))


def test_a_day_past_a_months_end_becomes_its_last_day():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 12, 10), 1) == date(2028, 1, 10)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert fill_title("{month}主题党日", date(2027, 1, 10)) == "2027年01月主题党日"
    assert fill_title("{quarter}党课", date(2027, 8, 1)) == "2027年第3季度党课"


def test_twelve_monthly_meetings_across_december_and_january(client, auth, app):
    auth.as_secretary(1)
    before, since, demo_events = meeting_count(app), last_plan_id(app), last_event_id(app)
    response = client.post("/meetings/plan", data=form(app, confirm="yes"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"month={YEAR}-12")
    made = planned_meetings(app, since)
    assert len(made) == 12 and meeting_count(app) == before + 12
    titles = [title for title, *_ in made]
    assert titles[:3] == [f"{YEAR}年12月主题党日", f"{YEAR + 1}年01月主题党日",
                          f"{YEAR + 1}年02月主题党日"]  # fmt: skip
    assert [at for _t, at, *_ in made][:2] == [
        datetime(YEAR, 12, 10, 15, 0),
        datetime(YEAR + 1, 1, 10, 15, 0),
    ]
    assert all(at.day == 10 and at.hour == 15 for _t, at, *_ in made)
    assert {code for *_x, code, _p in made} == {"B01"}
    with app.app_context():
        s = db.session()
        (plan,) = s.scalars(select(MeetingPlan).where(MeetingPlan.id > since)).all()
        assert (plan.repeat, plan.occurrences, plan.title) == ("monthly", 12, "{month}主题党日")
        assert {p for *_x, p in made} == {plan.id}
        first = s.scalar(select(Meeting).where(Meeting.plan_id == plan.id).limit(1))
        assert (first.ends_at - first.starts_at).seconds == 90 * 60 and first.points == 2
        plan_id = plan.id
        (event,) = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "meeting.plan", AuditEvent.id > demo_events
            )
        )
        assert (event.entity_type, event.entity_id) == ("meeting_plan", plan_id)
        assert json.loads(event.after)["count"] == 12
        ids = select(Meeting.id).where(Meeting.plan_id == plan.id)
        creates = s.scalar(
            select(func.count()).where(
                AuditEvent.action == "meeting.create", AuditEvent.entity_id.in_(ids)
            )
        )
        assert creates == 0  # audited once, as a plan
    with app.test_request_context(headers=EN):
        from qrservice.audit_sentences import audit_trail

        s = db.session()
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "meeting.plan", AuditEvent.entity_id == plan_id
            )
        )
        (entry,) = audit_trail(s, [event])
        assert "planned 12 meetings “{month}主题党日” for B01" in entry.sentence


def test_monthly_meetings_on_the_31st_fall_on_each_months_last_day(client, auth, app):
    auth.as_secretary(1)
    year, since = YEAR + 1, last_plan_id(app)
    response = client.post("/meetings/plan", data=form(
        app, first=f"{year}-01-31T19:30", occurrences="4", title="月末会", confirm="yes",
    ))  # fmt: skip
    assert response.status_code == 302
    february = 29 if calendar.isleap(year) else 28
    days = [at.date() for _t, at, *_ in planned_meetings(app, since)]
    assert days == [date(year, 1, 31), date(year, 2, february), date(year, 3, 31),
                    date(year, 4, 30)]  # fmt: skip
    assert all(at.hour == 19 and at.minute == 30 for _t, at, *_ in planned_meetings(app, since))


def test_a_quarterly_plan_names_each_quarter(client, auth, app):
    auth.as_secretary(1)
    since = last_plan_id(app)
    client.post("/meetings/plan", data=form(
        app, kind="lecture", title="{quarter}党课", first=f"{YEAR}-02-15T09:00",
        repeat="quarterly", occurrences="4", confirm="yes",
    ))  # fmt: skip
    made = planned_meetings(app, since)
    assert [t for t, *_ in made] == [f"{YEAR}年第1季度党课", f"{YEAR}年第2季度党课",
                                     f"{YEAR}年第3季度党课", f"{YEAR}年第4季度党课"]  # fmt: skip
    assert [at.month for _t, at, *_ in made] == [2, 5, 8, 11]


def test_a_plan_for_the_committee_makes_one_meeting_per_open_branch(client, auth, app):
    with app.app_context():
        s = db.session()
        s.scalar(select(Unit).where(Unit.code == "B04")).closed_at = utcnow()
        s.commit()
    auth.login()
    since = last_plan_id(app)
    response = client.post("/meetings/plan", data=form(
        app, unit_id=str(unit_id(app, "C01")), occurrences="2", confirm="yes",
    ))  # fmt: skip
    assert response.status_code == 302
    made = planned_meetings(app, since)
    assert len(made) == 6
    assert [code for *_x, code, _p in made[:3]] == ["B01", "B02", "B03"]
    (plan,) = plans_after(app, since)
    assert plan.unit_id == unit_id(app, "C01") and plan.occurrences == 2
    assert {p for *_x, p in made} == {plan.id}


def test_the_preview_lists_the_meetings_and_creates_nothing(client, auth, app):
    auth.as_secretary(1)
    before, since = meeting_count(app), last_plan_id(app)
    response = client.post("/meetings/plan", data=form(app, occurrences="3"), headers=EN)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "3 meetings will be created" in page
    for month in (f"{YEAR}-12-10 15:00", f"{YEAR + 1}-01-10 15:00", f"{YEAR + 1}-02-10 15:00"):
        assert month in page
    assert f"{YEAR + 1}年01月主题党日" in page and 'name="confirm" value="yes"' in page
    assert meeting_count(app) == before
    assert plans_after(app, since) == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("occurrences", "25", "occurrences"),
        ("occurrences", "0", "occurrences"),
        ("occurrences", "many", "occurrences"),
        ("repeat", "weekly", "repeat"),
        ("minutes", "0", "minutes"),
        ("minutes", "20000", "minutes"),
        ("first", "next Tuesday", "first"),
        ("first", "1999-01-10T15:00", "first"),
        ("title", "", "title"),
        ("kind", "party", "kind"),
        ("points", "101", "points"),
        ("unit_id", "99999", "unit"),
    ],
)
def test_plan_errors_name_the_field_and_create_nothing(client, auth, app, field, value, error):
    auth.as_secretary(1)
    before = meeting_count(app)
    response = client.post("/meetings/plan", data=form(app, **{field: value}, confirm="yes"))
    assert response.status_code == 422
    assert f'id="{error}-error"' in response.get_data(as_text=True)
    assert meeting_count(app) == before


def test_a_plan_running_past_the_years_meetings_may_use_is_refused_whole(client, auth, app):
    auth.as_secretary(1)
    last_year = date.today().year + 5
    before = meeting_count(app)
    response = client.post("/meetings/plan", data=form(
        app, first=f"{last_year}-06-10T15:00", occurrences="12", confirm="yes",
    ), headers=EN)  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="occurrences-error"' in page and f"{last_year + 1}-01-10" in page
    assert meeting_count(app) == before


def test_a_branch_committee_plan_for_a_group_is_refused_on_the_unit(client, auth, app):
    auth.as_secretary(1)
    response = client.post("/meetings/plan", data=form(
        app, unit_id=str(unit_id(app, "B01-G1")), kind="branch_committee", confirm="yes",
    ))  # fmt: skip
    assert response.status_code == 422
    assert 'id="unit-error"' in response.get_data(as_text=True)


def test_a_secretary_cannot_plan_for_another_branch(client, auth, app):
    auth.as_secretary(1)
    before, since = meeting_count(app), last_plan_id(app)
    for code in ("B02", "C01"):
        response = client.post("/meetings/plan", data=form(
            app, unit_id=str(unit_id(app, code)), confirm="yes",
        ))  # fmt: skip
        assert response.status_code == 422
        assert 'id="unit-error"' in response.get_data(as_text=True)
    assert planned_meetings(app, since) == [] and plans_after(app, since) == []
    assert meeting_count(app) == before


def test_cli_plans_a_year_of_theme_days_for_every_branch(runner, app):
    args = [
        "meetings", "plan", "--unit", "C01", "--kind", "theme_day", "--title", "{month}主题党日",
        "--first", f"{YEAR}-01-10 15:00", "--minutes", "90", "--repeat", "monthly",
        "--times", "12",
    ]  # fmt: skip
    before = meeting_count(app)
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "48 meetings would be created" in dry.output
    assert f"{YEAR}-01-10 15:00-16:30  B01" in dry.output and f"{YEAR}年12月主题党日" in dry.output
    assert meeting_count(app) == before
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "48 meetings created" in done.output
    assert meeting_count(app) == before + 48


def test_cli_plan_errors_name_the_option_and_create_nothing(runner, app):
    before = meeting_count(app)
    result = runner.invoke(main, [
        "meetings", "plan", "--unit", "B01", "--kind", "theme_day", "--title", "会",
        "--first", f"{YEAR}-01-10 15:00", "--repeat", "monthly", "--times", "30",
    ])  # fmt: skip
    assert result.exit_code != 0 and "--times: " in result.output
    unknown = runner.invoke(main, [
        "meetings", "plan", "--unit", "B99", "--kind", "theme_day", "--title", "会",
        "--first", f"{YEAR}-01-10 15:00",
    ])  # fmt: skip
    assert unknown.exit_code != 0 and "--unit: " in unknown.output
    assert meeting_count(app) == before
