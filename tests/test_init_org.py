"""Setting up an organisation from nothing: ``qrservice init-org``, the first-run page, and the
organisation's settings (its name on every page, its dues tracking start)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from qrservice import create_app, db, schema
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.models import AuditEvent, Organisation, Unit, User
from qrservice.org.organisation import (
    OrganisationError,
    OrganisationExists,
    current_month,
    init_org,
    organisation_name,
)
from tests.conftest import TEST_CONFIG

PASSWORD = "Kite-string-never-breaks"
EN = {"Accept-Language": "en"}


@pytest.fixture
def fresh_app(tmp_path: Path, empty_database_url: str) -> Iterator[Flask]:
    """An app on a migrated database that holds nothing yet."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": empty_database_url}, data_dir=tmp_path)
    schema.upgrade(db.engine_of(app))
    try:
        yield app
    finally:
        db.engine_of(app).dispose()


def init_args(**changes: str) -> list[str]:
    values = {
        "--name": "中共示例公司委员会", "--code": "C01", "--committee-name": "公司党委",
        "--dues-from": "2025-01", "--username": "zuzhi", "--display-name": "组织委员 李华",
        "--password": PASSWORD,
    }  # fmt: skip
    values.update(changes)
    return ["init-org", *[part for pair in values.items() for part in pair]]


def test_init_org_on_an_empty_database_then_create_user_for_the_committee_works(
    empty_runner, tmp_path
):
    result = empty_runner.invoke(main, init_args())
    assert result.exit_code == 0, result.output
    assert "Organisation 中共示例公司委员会 set up: committee 公司党委 (C01), organiser zuzhi" in (
        result.output
    )
    assert "qrservice serve" in result.output and "qrservice units import" in result.output
    made = empty_runner.invoke(
        main,
        ["create-user", "--username", "secretary-c01", "--role", "organiser", "--unit", "C01",
         "--password", "Another-good-password-9"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    again = empty_runner.invoke(main, init_args(**{"--code": "C02"}))
    assert again.exit_code != 0
    assert "already holds the organisation 中共示例公司委员会" in again.output


def test_init_org_asks_for_what_the_options_do_not_give(empty_runner):
    answers = "\n".join(["示例党委", "", "", "", "", "", PASSWORD, PASSWORD]) + "\n"
    result = empty_runner.invoke(main, ["init-org"], input=answers)
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and PASSWORD not in result.output
    assert "committee 示例党委 (C01), organiser organiser" in result.output
    listed = empty_runner.invoke(main, ["org-settings"])
    assert f"dues tracked from: {current_month():%Y-%m}" in listed.output


def test_init_org_names_every_bad_value_and_creates_nothing(empty_runner, empty_database_url):
    result = empty_runner.invoke(
        main,
        init_args(**{"--code": "C 01", "--dues-from": "2025-13", "--username": "x",
                     "--password": "short"}),
    )  # fmt: skip
    assert result.exit_code != 0
    for field in ("committee_code", "dues_tracked_from", "username", "password"):
        assert f"{field}:" in result.output
    assert "Nothing was created" in result.output
    listed = empty_runner.invoke(main, ["org-settings"])
    assert "no organisation yet" in listed.output


def test_init_org_function_refuses_a_second_organisation(fresh_app):
    with fresh_app.app_context(), db.transaction(fresh_app) as s:
        init_org(s, Actor.system(), org_name="甲党委", committee_code="C01", username="alpha",
                 display_name="", password=PASSWORD)  # fmt: skip
    with fresh_app.app_context(), db.transaction(fresh_app) as s:
        with pytest.raises(OrganisationExists) as refused:
            init_org(s, Actor.system(), org_name="乙党委", committee_code="C09",
                     username="beta", display_name="", password=PASSWORD)  # fmt: skip
        assert "甲党委" in refused.value.errors["organisation"]
        assert s.scalar(select(Unit).where(Unit.code == "C09")) is None
        assert len(s.scalars(select(Organisation)).all()) == 1


def test_init_org_function_refuses_a_long_name_and_defaults_the_committee_name(fresh_app):
    with fresh_app.app_context(), db.transaction(fresh_app) as s:
        with pytest.raises(OrganisationError) as refused:
            init_org(s, Actor.system(), org_name="党" * 121, committee_code="C01",
                     username="alpha", display_name="", password=PASSWORD)  # fmt: skip
        assert set(refused.value.errors) == {"org_name", "committee_name"}
        org, committee, user = init_org(
            s, Actor.system(), org_name="丙党委", committee_code="C01", username="alpha",
            display_name="", password=PASSWORD,
        )  # fmt: skip
        assert committee.name == "丙党委" and committee.parent_id is None
        assert org.dues_tracked_from == current_month()
        assert user.role == "organiser" and user.display_name == "alpha"


# The first-run page


def test_every_page_leads_to_setup_until_the_organisation_exists(fresh_app):
    client = fresh_app.test_client()
    for path in ("/", "/login", "/units", "/members/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/setup", path
    assert client.get("/healthz").status_code == 200
    with client.get("/static/css/app.css") as static:
        assert static.status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/c/not-a-card").headers.get("Location") != "/setup"
    page = client.get("/setup", headers=EN).get_data(as_text=True)
    assert "Set up your organisation" in page and 'name="committee_code"' in page


def test_the_setup_form_creates_everything_and_logs_the_organiser_in(fresh_app):
    client = fresh_app.test_client()
    response = client.post(
        "/setup",
        data={"org_name": "中共示例公司委员会", "committee_code": "C01", "committee_name": "",
              "dues_tracked_from": "2025-07", "username": "zuzhi", "display_name": "李华",
              "password": PASSWORD, "password_confirm": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/units"
    tree = client.get("/units", headers=EN).get_data(as_text=True)
    assert '<span class="code">C01</span>' in tree and "中共示例公司委员会" in tree
    assert client.get("/setup").status_code == 404
    with fresh_app.app_context():
        s = db.session()
        org = s.scalar(select(Organisation))
        assert (org.name, org.dues_tracked_from) == ("中共示例公司委员会", date(2025, 7, 1))
        user = s.scalar(select(User).where(User.username == "zuzhi"))
        assert user.role == "organiser" and user.unit.code == "C01"
        events = s.execute(select(AuditEvent.action, AuditEvent.actor)).all()
        assert {(action, "user:zuzhi") for action in ("org.create", "unit.create",
                                                       "user.create")} <= set(events)  # fmt: skip
    # Another worker that has not seen the organisation yet answers 404 too.
    other = create_app(
        {**TEST_CONFIG, "DATABASE_URL": fresh_app.config["DATABASE_URL"]},
        data_dir=Path(fresh_app.instance_path).parent,
    )
    try:
        assert other.test_client().get("/setup").status_code == 404
        assert other.test_client().get("/login").status_code == 200
    finally:
        db.engine_of(other).dispose()


def test_the_setup_form_names_each_bad_field_and_writes_nothing(fresh_app):
    client = fresh_app.test_client()
    response = client.post(
        "/setup",
        data={"org_name": "", "committee_code": "C/01", "dues_tracked_from": "July",
              "username": "zuzhi", "password": PASSWORD, "password_confirm": PASSWORD + "x"},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("org_name", "committee_code", "dues_tracked_from"):
        assert f'id="{field}-error"' in page, field
    assert PASSWORD not in page
    with fresh_app.app_context():
        assert db.session().scalar(select(Organisation)) is None
        assert db.session().scalar(select(Unit)) is None


def test_a_second_setup_sent_from_an_old_page_is_told_it_is_set_up_already(fresh_app):
    first, second = fresh_app.test_client(), fresh_app.test_client()
    assert second.get("/setup").status_code == 200
    form = {"org_name": "甲党委", "committee_code": "C01", "username": "alpha",
            "password": PASSWORD, "password_confirm": PASSWORD}  # fmt: skip
    assert first.post("/setup", data=form).status_code == 302
    late = second.post("/setup", data={**form, "org_name": "乙党委", "committee_code": "C02",
                                       "username": "beta"}, headers=EN)  # fmt: skip
    assert late.status_code == 409
    assert "甲党委" in late.get_data(as_text=True)
    with fresh_app.app_context():
        s = db.session()
        assert s.scalar(select(User).where(User.username == "beta")) is None
        assert len(s.scalars(select(Unit)).all()) == 1


def test_the_name_falls_back_to_the_configured_one_only_without_an_organisation(fresh_app):
    with fresh_app.app_context(), db.transaction(fresh_app) as s:
        assert organisation_name(s) == fresh_app.config["ORG_NAME"]
        init_org(s, Actor.system(), org_name="丁党委", committee_code="C01", username="alpha",
                 display_name="", password=PASSWORD)  # fmt: skip
        assert organisation_name(s) == "丁党委"


# The organisation's settings


def test_an_organiser_renames_the_organisation_and_every_page_says_so(client, auth, app):
    auth.login()
    page = client.get("/settings/organisation", headers=EN).get_data(as_text=True)
    assert 'value="示范党委"' in page
    response = client.post(
        "/settings/organisation", data={"name": "新的党委", "dues_tracked_from": "2025-03"}
    )
    assert response.status_code == 302
    assert "<title>Organisation · 新的党委</title>" in client.get("/units", headers=EN).get_data(
        as_text=True
    )
    with app.app_context():
        s = db.session()
        org = s.scalar(select(Organisation))
        assert (org.name, org.dues_tracked_from) == ("新的党委", date(2025, 3, 1))
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "org.update"))
        assert "示范党委" in event.before and "新的党委" in event.after


def test_bad_settings_are_refused_by_field(client, auth, app):
    auth.login()
    response = client.post(
        "/settings/organisation", data={"name": "<b>", "dues_tracked_from": "1999-01"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="name-error"' in page and 'id="dues_tracked_from-error"' in page
    with app.app_context():
        assert db.session().scalar(select(Organisation.name)) == "示范党委"


def test_only_the_top_committees_organisers_change_the_settings(client, auth):
    auth.as_secretary(1)
    assert client.get("/settings/organisation").status_code == 403
    assert client.post("/settings/organisation", data={"name": "x"}).status_code == 403


def test_org_settings_by_command_line(runner, app):
    result = runner.invoke(main, ["org-settings", "--name", "命令行党委", "--dues-from", "2024-09"])
    assert result.exit_code == 0, result.output
    assert "Saved." in result.output and "dues tracked from: 2024-09" in result.output
    bad = runner.invoke(main, ["org-settings", "--dues-from", "2024-13"])
    assert bad.exit_code != 0 and "dues_tracked_from:" in bad.output
    with app.app_context():
        assert db.session().scalar(select(Organisation.name)) == "命令行党委"


def test_the_readme_path_from_nothing_to_members(empty_runner):
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    assert empty_runner.invoke(main, init_args()).exit_code == 0
    units = empty_runner.invoke(main, ["units", "import", str(samples / "units-sample.csv")])
    assert units.exit_code == 0, units.output
    assert "12 rows: created 12" in units.output
    members = empty_runner.invoke(main, ["import-members", str(samples / "members-sample.csv")])
    assert members.exit_code == 0, members.output
    assert "created 10" in members.output
    listed = empty_runner.invoke(main, ["units", "list"])
    assert "B01\tbranch\t机关第一党支部\t3 members" in listed.output


def test_two_setups_sent_at_once_make_one_organisation_and_a_clear_refusal(fresh_app, tmp_path):
    # Each on an app of its own (as two workers), made before the threads start (see
    # tests/test_checkin_races.py); both have seen the form, so neither knows the other.
    url = fresh_app.config["DATABASE_URL"]
    apps = [fresh_app]
    apps.append(create_app({**TEST_CONFIG, "DATABASE_URL": url}, data_dir=tmp_path))
    clients = [a.test_client() for a in apps]
    for client in clients:
        assert client.get("/setup").status_code == 200
    barrier = threading.Barrier(2)
    answers: list[int] = []
    errors: list[BaseException] = []

    def submit(client, n: int) -> None:  # type: ignore[no-untyped-def]
        form = {"org_name": f"党委{n}", "committee_code": f"C0{n}", "username": f"organiser{n}",
                "password": PASSWORD, "password_confirm": PASSWORD}  # fmt: skip
        try:
            barrier.wait(timeout=60)
            answers.append(client.post("/setup", data=form).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(c, n)) for n, c in enumerate(clients, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(answers) == [302, 409]
        with fresh_app.app_context():
            s = db.session()
            assert len(s.scalars(select(Organisation)).all()) == 1
            assert len(s.scalars(select(Unit)).all()) == 1
            assert len(s.scalars(select(User)).all()) == 1
    finally:
        db.engine_of(apps[1]).dispose()
