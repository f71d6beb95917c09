"""Hosting of floating members (流动党员): a branch where they are hosts them; they keep their
home. Set and end from the member page, the command line and the member import."""

from __future__ import annotations

import json

from sqlalchemy import select

from qrservice import db
from qrservice.cli import main
from qrservice.demo import SECRETARY_PASSWORD
from qrservice.life.meetings import expected_members
from qrservice.models import AuditEvent, Meeting, Member
from tests.scanhelpers import member_in_branch, new_meeting

EN = {"Accept-Language": "en"}


def _login(client, username: str) -> None:
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": SECRETARY_PASSWORD})
    assert response.status_code == 302


def _member(app, number: str) -> tuple[int, int | None]:
    with app.app_context():
        member = db.session().scalar(select(Member).where(Member.number == number))
        return member.id, member.host_unit_id


def _host_code(app, number: str) -> str | None:
    with app.app_context():
        member = db.session().scalar(select(Member).where(Member.number == number))
        return member.host_unit.code if member.host_unit else None


def _actions(app, member_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session().scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_type == "member", AuditEvent.entity_id == member_id)
                .order_by(AuditEvent.id)
            )
        )


def test_home_secretary_sets_hosting_and_the_host_sees_the_member_read_only(client, app):
    number = member_in_branch(app, "B01", floating=True)
    member_id, _host = _member(app, number)
    _login(client, "secretary1")
    page = client.get(f"/members/{member_id}", headers=EN).get_data(as_text=True)
    assert f"/members/{member_id}/host" in page
    response = client.post(f"/members/{member_id}/host", data={"host_unit": "B02"})
    assert response.status_code == 302
    assert _host_code(app, number) == "B02"
    assert "member.host" in _actions(app, member_id)
    # The host branch's meetings expect them (and their home's still do).
    host_meeting = new_meeting(app, "B02")
    home_meeting = new_meeting(app, "B01")
    with app.app_context():
        s = db.session()
        for meeting_id in (host_meeting, home_meeting):
            expected = expected_members(s, s.get(Meeting, meeting_id))
            assert member_id in {m.id for m in expected}
    # The host's secretary reads the member page, without the home's controls.
    _login(client, "secretary2")
    response = client.get(f"/members/{member_id}", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and number in page
    assert "read only" in page and f"/members/{member_id}/host" not in page
    meeting_page = client.get(f"/meetings/{host_meeting}", headers=EN).get_data(as_text=True)
    assert number in meeting_page or f"/members/{member_id}" in meeting_page
    # ... but changes nothing.
    assert client.get(f"/members/{member_id}/edit").status_code in (403, 404)
    assert client.get(f"/members/{member_id}/host").status_code == 404
    assert client.post(f"/members/{member_id}/unhost", data={"confirm": "yes"}).status_code == 404
    assert client.get(f"/dues/members/{member_id}").status_code == 404
    assert _host_code(app, number) == "B02"
    # A third branch sees nothing.
    _login(client, "secretary3")
    assert client.get(f"/members/{member_id}").status_code == 404


def test_a_member_who_is_not_floating_cannot_be_hosted(client, app, auth):
    number = member_in_branch(app, "B01", floating=False)
    member_id, _host = _member(app, number)
    auth.login()
    response = client.post(f"/members/{member_id}/host", data={"host_unit": "B02"}, headers=EN)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="host_unit-error"' in text and "floating" in text
    assert _member(app, number)[1] is None
    assert "member.host" not in _actions(app, member_id)


def test_the_host_must_be_an_open_branch_other_than_home(client, app, auth):
    number = member_in_branch(app, "B01", floating=True)
    member_id, _host = _member(app, number)
    auth.login()
    for code, words in (("B01", "own branch"), ("B02-G1", "by a branch"), ("ZZ", "no unit")):
        response = client.post(f"/members/{member_id}/host", data={"host_unit": code}, headers=EN)
        assert response.status_code == 422, code
        assert words in response.get_data(as_text=True), code
    assert _member(app, number)[1] is None


def test_ending_hosting_asks_first_then_is_audited(client, app, auth, runner):
    number = member_in_branch(app, "B01", floating=True)
    member_id, _host = _member(app, number)
    assert runner.invoke(main, ["hosting", "set", number, "--host", "B03"]).exit_code == 0
    assert _host_code(app, number) == "B03"
    auth.as_secretary(1)
    asked = client.post(f"/members/{member_id}/unhost", headers=EN)
    assert asked.status_code == 200 and "End hosting" in asked.get_data(as_text=True)
    assert _host_code(app, number) == "B03"
    assert client.post(f"/members/{member_id}/unhost", data={"confirm": "yes"}).status_code == 302
    assert _host_code(app, number) is None
    assert _actions(app, member_id)[-2:] == ["member.host", "member.unhost"]
    page = client.get(f"/members/{member_id}", headers=EN).get_data(as_text=True)
    assert "ended the hosting" in page


def test_hosting_from_the_command_line_names_the_option(runner, app):
    number = member_in_branch(app, "B01", floating=False)
    result = runner.invoke(main, ["hosting", "set", number, "--host", "B02"])
    assert result.exit_code != 0 and "--host" in result.output
    assert _member(app, number)[1] is None


def _export_row(app, number: str) -> tuple[str, str]:
    """The English header line and the member's line of an export of B01."""
    from qrservice.models import Unit
    from qrservice.org.members_io import export_members

    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        text = export_members(s, b01, "csv", "en").decode("utf-8-sig")
    lines = text.splitlines()
    return lines[0], next(line for line in lines if line.startswith(number + ","))


def test_hosting_set_and_ended_by_import(runner, app, tmp_path):
    floating = member_in_branch(app, "B01", floating=True)
    settled = member_in_branch(app, "B01", floating=False)
    header, row = _export_row(app, floating)
    path = tmp_path / "members.csv"
    path.write_text(f"{header},host_unit\n{row},B02\n", encoding="utf-8")
    result = runner.invoke(main, ["import-members", str(path)])
    assert result.exit_code == 0, result.output
    assert _host_code(app, floating) == "B02"
    member_id, _host = _member(app, floating)
    with app.app_context():
        event = db.session().scalar(
            select(AuditEvent).where(
                AuditEvent.entity_id == member_id, AuditEvent.action == "member.host"
            )
        )
        assert json.loads(event.after)["host"] == "B02"
    # An empty cell ends hosting.
    path.write_text(f"{header},host_unit\n{row},\n", encoding="utf-8")
    assert runner.invoke(main, ["import-members", str(path)]).exit_code == 0
    assert _host_code(app, floating) is None
    assert _actions(app, member_id)[-1] == "member.unhost"
    # A member who is not floating is refused by row and column; nothing is written.
    _header, other = _export_row(app, settled)
    path.write_text(f"{header},host_unit\n{row},B02\n{other},B02\n", encoding="utf-8")
    result = runner.invoke(main, ["import-members", str(path)])
    assert result.exit_code != 0 and "host_unit" in result.output
    assert _host_code(app, floating) is None and _host_code(app, settled) is None


def test_the_host_secretary_scans_the_hosted_member_in_as_expected(client, app, auth):
    from tests.scanhelpers import card_url_of, nonce

    number = member_in_branch(app, "B01", floating=True)
    assert set_host_now(app, number, "B02")
    meeting = new_meeting(app, "B02")
    auth.as_secretary(2)
    body = {"code": card_url_of(app, number), "nonce": nonce()}
    answer = client.post(f"/api/v1/meetings/{meeting}/checkins", json=body).get_json()
    assert answer["status"] == "ok", answer
    assert answer["attendance"]["status"] in ("present", "late")  # expected, not a visitor


def set_host_now(app, number: str, code: str) -> bool:
    from qrservice.audit import Actor
    from qrservice.org.transfers import set_host

    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        changed = set_host(s, Actor.system("test"), member, code)
        s.commit()
        return changed
