"""Officers' accounts: the password rules, resets to a temporary password, the forced change
at the next login, deactivation, role and unit changes, the demo's passwords in production,
and the account commands of the CLI."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.demo import ORGANISER, SECRETARY_PASSWORD
from qrservice.models import AuditEvent, Unit, User
from qrservice.org.accounts import (
    MAX_PASSWORD,
    AccountError,
    check_password_rules,
    create_user,
    new_temporary_password,
)
from qrservice.org.officer_commands import warn_of_published_passwords
from tests.conftest import make_app
from tests.scanhelpers import open_meeting_id

#: Four groups of four letters and digits, none of 0, o, 1, l or i.
TEMPORARY = re.compile(r"\b([a-hj-km-np-z2-9]{4}(?:-[a-hj-km-np-z2-9]{4}){3})\b")
B01_ORGANISER = ("organiser-b01", "river-lantern-4471")
PRODUCTION = {"ENV": "production", "PUBLIC_BASE_URL": "https://cards.example.org"}


def _english(client):
    """A browser asking for English: the messages checked here are read in English."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, username="secretary1", password=SECRETARY_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def _logged_in(client) -> bool:
    return client.get("/members/").status_code == 200


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session().scalar(select(User.id).where(User.username == username))


def _account(app, username: str) -> User:
    with app.app_context():
        s = db.session()
        user = s.scalar(select(User).where(User.username == username))
        s.expunge(user)
        return user


def _unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def _add_organiser(app, username: str, password: str, unit_code: str) -> None:
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == unit_code))
        create_user(s, Actor.system("test"), username=username, password=password,
                    role="organiser", unit=unit)  # fmt: skip
        s.commit()


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        s = db.session()
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        s.expunge_all()
        return events


def _change_own_password(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new,
              "new_password_confirm": new if confirm is None else confirm},
    )  # fmt: skip


def _forget_kept_logins(app) -> None:
    """As on another worker, or a moment later: the officers kept for 2 seconds are gone (a
    change made by the command line ends the sessions in the database, not in this process)."""
    app.extensions.get("recent_officers", {}).clear()


def _reset_on_the_page(client, user_id: int) -> str:
    response = client.post(f"/users/{user_id}/reset-password", data={"confirm": "yes"})
    assert response.status_code == 200, response.get_data(as_text=True)
    found = TEMPORARY.search(response.get_data(as_text=True))
    assert found, "the temporary password is shown"
    return found.group(1)


# --- The password rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("kx7-mq2-p", ("10",)),  # 9 characters
        ("secretary1-ok", ("username",)),
        ("SECRETARY1!", ("username",)),
        ("机关第一党支部书记1", ("name",)),  # the display name with a digit
        ("Password2026", ("common",)),
        ("qwertyuiop123", ("common",)),
        ("1qaz2wsx3edc", ("common",)),
        ("zzzzzzzzzzzz", ("repeated",)),
        ("x" * 64 + "y" * 65, ("128",)),  # 129 characters
    ],
)
def test_a_password_breaking_a_rule_is_refused_on_the_new_password_field(app, password, words):
    client = _english(app.test_client())
    _login(client)
    response = _change_own_password(client, SECRETARY_PASSWORD, password)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(r'id="new_password-error">([^<]*)<', page)
    assert error, "the message is shown on the new password's field"
    assert any(word in error.group(1) for word in words), error.group(1)
    assert _logged_in(client)
    assert _login(app.test_client()).status_code == 302  # the old password still works


@pytest.mark.parametrize(
    "password",
    ["kx7-mq2-pz", "x" * 64 + "y" * 64, "my-secretary1-lantern-river", "password-lantern-7"],
)
def test_a_password_keeping_the_rules_is_accepted(app, password):
    """10 and 128 characters; the username with enough else around it; a common word inside
    a longer password."""
    client = app.test_client()
    _login(client)
    assert _change_own_password(client, SECRETARY_PASSWORD, password).status_code == 302
    assert _login(app.test_client(), password=password).status_code == 302


def test_the_demo_passwords_keep_the_rules_in_development(app):
    with app.test_request_context():
        check_password_rules(ORGANISER[1], username=ORGANISER[0], display_name="组织委员 陈明")
        check_password_rules(SECRETARY_PASSWORD, username="secretary1",
                             display_name="机关第一党支部书记")  # fmt: skip
        for _i in range(50):
            check_password_rules(new_temporary_password(), username="abc", display_name="abc")
        with pytest.raises(AccountError) as refused:
            check_password_rules("a" * (MAX_PASSWORD + 1), field="password")
        assert refused.value.field == "password"


def test_account_creation_applies_the_same_rules(client, auth):
    auth.login()
    data = {"username": "newsec", "display_name": "新书记", "role": "secretary",
            "unit_id": _unit_id(client.application, "B02")}  # fmt: skip
    for weak in ("newsec2026!", "Welcome2026", "short-pw1"):
        response = client.post(
            "/users/new", data={**data, "password": weak, "password_confirm": weak}
        )
        assert response.status_code == 422
        assert 'id="password-error"' in response.get_data(as_text=True)
    assert _user_id(client.application, "newsec") is None
    good = "lantern-river-4471"
    response = client.post("/users/new", data={**data, "password": good, "password_confirm": good})
    assert response.status_code == 302


# --- Reset to a temporary password and the forced change ------------------------------------


def test_a_reset_shows_a_temporary_password_once_and_ends_every_session_at_once(app):
    secretary, organiser = app.test_client(), app.test_client()
    _login(secretary)
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "secretary1")

    asked = organiser.post(f"/users/{user_id}/reset-password", data={})
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.get_data(True)
    assert _logged_in(secretary), "nothing happens before the confirmation"

    response = organiser.post(f"/users/{user_id}/reset-password", data={"confirm": "yes"})
    assert response.headers["Cache-Control"] == "no-store"
    temporary = TEMPORARY.search(response.get_data(as_text=True)).group(1)

    landing = secretary.get("/members/")
    assert landing.status_code == 302 and "/login" in landing.headers["Location"]
    assert temporary not in organiser.get(f"/users/{user_id}").get_data(as_text=True)
    assert _login(app.test_client()).status_code == 401  # the old password stops working
    account = _account(app, "secretary1")
    assert account.must_change_password
    assert check_password_hash(account.password_hash, temporary)
    (event,) = _events(app, "user.reset_password")
    assert temporary not in f"{event.before} {event.after}"
    assert '"temporary": true' in event.after
    history = _english(organiser).get(f"/users/{user_id}").get_data(as_text=True)
    assert "Organiser organiser reset the password of secretary1 to a temporary one" in history


def test_after_a_reset_the_officer_must_choose_a_password_before_anything_else(app):
    organiser = app.test_client()
    _login(organiser, *ORGANISER)
    temporary = _reset_on_the_page(organiser, _user_id(app, "secretary1"))

    secretary = app.test_client()
    response = _login(secretary, password=temporary)
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    for page in ("/", "/members/", "/units", "/meetings/", "/devices/"):
        response = secretary.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"] == "/account/password", page
    api = secretary.get(
        f"/api/v1/meetings/{open_meeting_id(app)}/status", headers={"Accept": "application/json"}
    )
    assert api.status_code == 403
    assert api.get_json()["reason"] == "password_change_required"
    form = secretary.get("/account/password")
    assert form.status_code == 200 and "new_password" in form.get_data(as_text=True)

    assert _change_own_password(secretary, temporary, temporary).status_code == 422  # the same
    assert _change_own_password(secretary, temporary, "lantern-river-4471").status_code == 302
    assert not _account(app, "secretary1").must_change_password
    again = app.test_client()
    assert _login(again, password="lantern-river-4471").headers["Location"] == "/meetings/"
    assert _logged_in(again)
    assert _login(app.test_client(), password=temporary).status_code == 401


@pytest.mark.parametrize(
    ("age", "works"),
    [(timedelta(hours=71, minutes=59), True), (timedelta(hours=72, minutes=1), False)],
)
def test_a_temporary_password_expires_72_hours_after_the_reset(app, age, works):
    organiser = app.test_client()
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "secretary1")
    temporary = _reset_on_the_page(organiser, user_id)
    with app.app_context():
        s = db.session()
        user = s.get(User, user_id)
        s.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_changed_at=user.password_changed_at - age)
        )
        s.commit()
    response = _login(_english(app.test_client()), password=temporary)
    if works:
        assert response.status_code == 302
        return
    assert response.status_code == 403
    assert "temporary password has expired" in response.get_data(as_text=True)
    _english(organiser)
    assert "temporary password has expired" in organiser.get(f"/users/{user_id}").get_data(True)


def test_an_organiser_cannot_reset_an_account_outside_their_subtree(app):
    _add_organiser(app, *B01_ORGANISER, "B01")
    organiser = app.test_client()
    assert _login(organiser, *B01_ORGANISER).status_code == 302
    for username in ("secretary2", "organiser"):  # another branch, the committee above
        user_id = _user_id(app, username)
        assert organiser.get(f"/users/{user_id}").status_code == 404
        response = organiser.post(f"/users/{user_id}/reset-password", data={"confirm": "yes"})
        assert response.status_code == 404
        assert organiser.get(f"/users/{user_id}/edit").status_code == 404
        assert organiser.post(f"/users/{user_id}/active", data={"active": "no"}).status_code == 404
    assert _login(app.test_client(), "secretary2").status_code == 302
    assert _events(app, "user.reset_password") == []
    # Their own branch's secretary is theirs to reset.
    assert TEMPORARY.match(_reset_on_the_page(organiser, _user_id(app, "secretary1")))


def test_a_secretary_cannot_reset_or_edit_accounts(app):
    secretary = app.test_client()
    _login(secretary, "secretary2")
    user_id = _user_id(app, "secretary2")
    assert secretary.get(f"/users/{user_id}").status_code == 403
    assert (
        secretary.post(f"/users/{user_id}/reset-password", data={"confirm": "yes"}).status_code
        == 403
    )
    assert not _account(app, "secretary2").must_change_password


def test_an_organiser_resets_their_own_password_only_on_the_password_page(app):
    organiser = app.test_client()
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "organiser")
    response = organiser.post(f"/users/{user_id}/reset-password", data={"confirm": "yes"})
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    assert _logged_in(organiser)
    assert not _account(app, "organiser").must_change_password


# --- Deactivation, role and unit --------------------------------------------------------------


def test_an_organiser_cannot_deactivate_demote_or_move_themselves(app):
    organiser = _english(app.test_client())
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "organiser")
    response = organiser.post(
        f"/users/{user_id}/active", data={"active": "no"}, follow_redirects=True
    )
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    changes = [
        ({"role": "secretary", "unit_id": _unit_id(app, "B01")}, "role"),
        ({"role": "organiser", "unit_id": _unit_id(app, "B02")}, "unit"),
    ]
    for change, field in changes:
        response = organiser.post(
            f"/users/{user_id}/edit", data={**change, "display_name": "陈明", "confirm": "yes"}
        )
        assert response.status_code == 422
        assert "your own role or unit" in response.get_data(as_text=True)
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    account = _account(app, "organiser")
    assert (account.active, account.role, account.display_name) == (
        True,
        "organiser",
        "组织委员 陈明",
    )
    assert _logged_in(organiser)


def test_changing_a_role_and_unit_asks_first_then_ends_the_officers_sessions(app):
    secretary, organiser = app.test_client(), app.test_client()
    _login(secretary)
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "secretary1")
    change = {
        "role": "organiser",
        "unit_id": _unit_id(app, "B01"),
        "display_name": "一支部组织委员",
    }
    asked = organiser.post(f"/users/{user_id}/edit", data=change)
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.get_data(True)
    assert _logged_in(secretary) and _account(app, "secretary1").role == "secretary"

    response = organiser.post(f"/users/{user_id}/edit", data={**change, "confirm": "yes"})
    assert response.status_code == 302
    assert not _logged_in(secretary)
    account = _account(app, "secretary1")
    assert (account.role, account.display_name) == ("organiser", "一支部组织委员")
    (event,) = _events(app, "user.update")
    assert '"role": "secretary"' in event.before and '"role": "organiser"' in event.after
    page = _english(organiser).get(f"/users/{user_id}").get_data(as_text=True)
    assert "一支部组织委员" in page
    assert (
        "changed the account secretary1: Role Secretary → Organiser, Name 机关第一党支部书记 → "
        "一支部组织委员; every login of the account ended"
    ) in page
    # Now an organiser of B01: the accounts page, with B01's accounts only.
    _login(secretary)
    listing = secretary.get("/users/").get_data(as_text=True)
    assert "secretary1" in listing and "secretary2" not in listing


def test_a_new_name_alone_keeps_the_officers_sessions(app):
    secretary, organiser = app.test_client(), app.test_client()
    _login(secretary)
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "secretary1")
    response = organiser.post(
        f"/users/{user_id}/edit",
        data={"role": "secretary", "unit_id": _unit_id(app, "B01"), "display_name": "王书记"},
    )
    assert response.status_code == 302
    assert _account(app, "secretary1").display_name == "王书记"
    assert _logged_in(secretary)


@pytest.mark.parametrize(
    ("role", "unit", "field"),
    [("secretary", "C01", "unit"), ("organiser", "B01-G1", "unit"), ("chief", "B01", "role")],
)
def test_a_role_that_does_not_fit_the_unit_is_refused_with_the_field_named(app, role, unit, field):
    organiser = app.test_client()
    _login(organiser, *ORGANISER)
    user_id = _user_id(app, "secretary1")
    response = organiser.post(
        f"/users/{user_id}/edit",
        data={"role": role, "unit_id": _unit_id(app, unit), "display_name": "x",
              "confirm": "yes"},
    )  # fmt: skip
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    account = _account(app, "secretary1")
    assert (account.role, account.unit_id) == ("secretary", _unit_id(app, "B01"))
    assert _events(app, "user.update") == []


def test_a_branch_organiser_cannot_move_an_account_out_of_their_branch(app):
    _add_organiser(app, *B01_ORGANISER, "B01")
    organiser = app.test_client()
    _login(organiser, *B01_ORGANISER)
    user_id = _user_id(app, "secretary1")
    response = organiser.post(
        f"/users/{user_id}/edit",
        data={"role": "secretary", "unit_id": _unit_id(app, "B02"), "confirm": "yes"},
    )
    assert response.status_code == 422 and 'id="unit-error"' in response.get_data(True)
    assert _account(app, "secretary1").unit_id == _unit_id(app, "B01")


# --- Production mode: the demo's published passwords ------------------------------------------


def test_production_refuses_a_login_with_a_published_demo_password(data_dir):
    app = make_app(data_dir, **PRODUCTION)
    client = _english(app.test_client())
    response = _login(client)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "published with the demo" in page and "reset-password secretary1" in page
    assert client.get("/members/").status_code == 302  # not logged in
    assert _login(client, "secretary1", "not-the-password").status_code == 401


def test_production_refuses_setting_a_published_demo_password(data_dir):
    app = make_app(data_dir, **PRODUCTION)
    with app.app_context():
        s = db.session()
        with pytest.raises(AccountError) as refused:
            b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
            create_user(s, Actor.system(), username="newsec", password=SECRETARY_PASSWORD,
                        role="secretary", unit=b02)  # fmt: skip
        assert refused.value.field == "password"
    _add_organiser(app, *B01_ORGANISER, "B01")
    client = app.test_client()
    assert _login(client, *B01_ORGANISER).status_code == 302
    response = _change_own_password(client, B01_ORGANISER[1], ORGANISER[1])
    assert response.status_code == 422
    assert 'id="new_password-error"' in response.get_data(as_text=True)


def test_serve_warns_of_accounts_with_published_passwords_in_production(data_dir, capsys):
    warn_of_published_passwords(make_app(data_dir))  # development: nothing said
    assert capsys.readouterr().err == ""
    app = make_app(data_dir, **PRODUCTION)
    with app.app_context():
        s = db.session()
        s.execute(update(User).where(User.username == "secretary4").values(active=False))
        s.commit()
    warn_of_published_passwords(app)
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert "organiser, secretary1, secretary2, secretary3." in err  # active accounts only
    assert "qrservice reset-password" in err


# --- The command line -------------------------------------------------------------------------


def test_list_users_shows_each_account_in_a_line(runner, app):
    result = runner.invoke(main, ["list-users"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split("\t") == ["username", "name", "role", "unit", "state", "last login"]
    assert "secretary1\t机关第一党支部书记\tsecretary\tB01\tactive\tnever" in lines
    assert any(
        line.startswith("organiser\t组织委员 陈明\torganiser\tC01\tactive") for line in lines
    )
    assert "5 accounts" in lines[-1]

    branch = runner.invoke(main, ["list-users", "--unit", "B02"]).output.splitlines()
    assert [line.split("\t")[0] for line in branch[1:-1]] == ["secretary2"]
    runner.invoke(main, ["deactivate-user", "secretary2"])
    assert "secretary2" not in runner.invoke(main, ["list-users"]).output
    everyone = runner.invoke(main, ["list-users", "--all"]).output
    assert "secretary2\t机关第二党支部书记\tsecretary\tB02\tdeactivated" in everyone
    bad = runner.invoke(main, ["list-users", "--unit", "B99"])
    assert bad.exit_code != 0 and "--unit" in bad.output


def test_reset_password_prints_a_temporary_password_to_log_in_with(runner, app):
    client = app.test_client()
    _login(client)
    result = runner.invoke(main, ["reset-password", "secretary1"])
    assert result.exit_code == 0, result.output
    temporary = TEMPORARY.search(result.output).group(1)
    _forget_kept_logins(app)
    assert not _logged_in(client)
    response = _login(app.test_client(), password=temporary)
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    (event,) = _events(app, "user.reset_password")
    assert event.actor == "cli" and temporary not in event.after


def test_reset_password_sets_a_chosen_password_checked_by_the_rules(runner, app):
    weak = runner.invoke(main, ["reset-password", "secretary1", "--password", "secretary1-x"])
    assert weak.exit_code != 0
    assert "--password:" in weak.output
    assert _login(app.test_client()).status_code == 302  # nothing changed
    result = runner.invoke(main, ["reset-password", "secretary1", "--prompt"],
                           input="lantern-river-4471\nlantern-river-4471\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lantern-river-4471" not in result.output
    response = _login(app.test_client(), password="lantern-river-4471")
    assert response.headers["Location"] == "/meetings/"  # a chosen password: no forced change
    unknown = runner.invoke(main, ["reset-password", "nobody"])
    assert unknown.exit_code != 0 and "nobody" in unknown.output


def test_reset_password_refuses_a_demo_password_in_production(runner, app, monkeypatch):
    monkeypatch.setenv("QRSERVICE_ENV", "production")
    monkeypatch.setenv("QRSERVICE_BASE_URL", "https://cards.example.org")
    result = runner.invoke(main, ["reset-password", "secretary1", "--password", ORGANISER[1]])
    assert result.exit_code != 0 and "--password:" in result.output
    result = runner.invoke(
        main, ["reset-password", "secretary1", "--password", "lantern-river-4471"]
    )
    assert result.exit_code == 0, result.output


def test_deactivate_user_ends_the_sessions_and_reactivate_user_lets_them_back(runner, app):
    client = app.test_client()
    _login(client)
    result = runner.invoke(main, ["deactivate-user", "secretary1"])
    assert result.exit_code == 0, result.output
    _forget_kept_logins(app)
    landing = client.get("/members/")
    assert landing.status_code == 302 and "/login" in landing.headers["Location"]
    assert _login(app.test_client()).status_code == 401
    assert [e.actor for e in _events(app, "user.deactivate")] == ["cli"]
    assert runner.invoke(main, ["reactivate-user", "secretary1"]).exit_code == 0
    assert _login(app.test_client()).status_code == 302


def test_the_last_organiser_of_the_committee_cannot_be_deactivated_or_demoted(runner, app):
    result = runner.invoke(main, ["deactivate-user", "organiser"])
    assert result.exit_code != 0 and "last active organiser" in result.output
    result = runner.invoke(main, ["set-role", "organiser", "--role", "secretary", "--unit", "B01"])
    assert result.exit_code != 0 and "--role:" in result.output
    result = runner.invoke(main, ["set-role", "organiser", "--unit", "B01"])
    assert result.exit_code != 0 and "--unit:" in result.output
    assert _account(app, "organiser").active
    # With a second organiser there, the first may go.
    _add_organiser(app, "organiser2", "lantern-river-4471", "C01")
    assert runner.invoke(main, ["deactivate-user", "organiser"]).exit_code == 0


def test_set_role_changes_role_and_unit_and_ends_the_sessions(runner, app):
    client = app.test_client()
    _login(client)
    result = runner.invoke(main, ["set-role", "secretary1", "--role", "organiser", "--unit", "C01"])
    assert result.exit_code == 0, result.output
    _forget_kept_logins(app)
    assert not _logged_in(client)
    account = _account(app, "secretary1")
    assert (account.role, account.unit_id) == ("organiser", _unit_id(app, "C01"))
    (event,) = _events(app, "user.update")
    assert event.actor == "cli"
    for args, option in ((["--role", "secretary", "--unit", "C01"], "--unit:"),
                         (["--unit", "NOPE"], "--unit")):  # fmt: skip
        bad = runner.invoke(main, ["set-role", "secretary1", *args])
        assert bad.exit_code != 0 and option in bad.output
    assert _account(app, "secretary1").unit_id == _unit_id(app, "C01")
