"""Transfers of members between units (组织关系转接): pages, rules, scope, the command line."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.meetings import close_checkin
from qrservice.models import Attendance, AuditEvent, Meeting, Member, Transfer, Unit, UnitRole
from qrservice.org.roles import add_role
from qrservice.org.transfers import (
    PENDING,
    TransferError,
    accept_transfer,
    start_transfer,
)
from qrservice.org.units import close_unit, create_unit
from qrservice.timeutil import utcnow
from tests.scanhelpers import card_url_of, member_in_branch, new_meeting

EN = {"Accept-Language": "en"}


def _member(app, number: str) -> Member:
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        s.expunge(member)
        return member


def _unit_code(app, number: str) -> str:
    with app.app_context():
        s = db.session()
        return s.scalar(
            select(Unit.code).join(Member, Member.unit_id == Unit.id).where(Member.number == number)
        )


def _transfers(app, number: str) -> list[Transfer]:
    with app.app_context():
        s = db.session()
        rows = s.scalars(
            select(Transfer).join(Member).where(Member.number == number).order_by(Transfer.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _login(client, username: str) -> None:
    password = "demo-organiser-2026" if username == "organiser" else None
    if password is None:
        from qrservice.demo import SECRETARY_PASSWORD

        password = SECRETARY_PASSWORD
    client.post("/logout")
    assert (
        client.post("/login", data={"username": username, "password": password}).status_code == 302
    )


def test_old_branch_starts_and_releases_new_branch_accepts_and_the_member_moves(client, app):
    number = member_in_branch(app, "B01")
    path = card_url_of(app, number).replace("https://cards.example.org", "")
    _login(client, "secretary1")
    response = client.post("/transfers/start", data={"member": number, "to_unit": "B02",
                                                      "reason": "搬家"})  # fmt: skip
    assert response.status_code == 302
    [transfer] = _transfers(app, number)
    assert transfer.status == "released"  # starting on the old side releases
    # The receiving branch sees it as incoming, with an accept button.
    _login(client, "secretary2")
    page = client.get("/transfers/", headers=EN).get_data(as_text=True)
    assert number in page and f"/transfers/{transfer.id}/accept" in page
    # Without confirmation nothing moves.
    assert client.post(f"/transfers/{transfer.id}/accept").status_code == 200
    assert _unit_code(app, number).startswith("B01")
    response = client.post(f"/transfers/{transfer.id}/accept", data={"confirm": "yes"})
    assert response.status_code == 302
    assert _unit_code(app, number) == "B02"
    assert _transfers(app, number)[0].status == "accepted"
    with app.app_context():
        s = db.session()
        member_id = s.scalar(select(Member.id).where(Member.number == number))
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "member", AuditEvent.entity_id == member_id
            )
        ).all()
        moved = s.scalar(
            select(AuditEvent)
            .where(AuditEvent.entity_id == member_id, AuditEvent.action == "member.update")
            .order_by(AuditEvent.id.desc())
        )
        assert {"transfer.start", "transfer.accept"} <= set(actions)
        assert "B02" in str(moved.after) and "B01" in str(moved.before)
        b02 = s.scalar(select(Unit.name).where(Unit.code == "B02"))
    # The same card URL still opens and shows the new branch.
    card = app.test_client().get(path, headers=EN)
    assert card.status_code == 200 and b02 in card.get_data(as_text=True)
    # The new branch's member page shows the move in its history.
    page = client.get(f"/members/{member_id}", headers=EN).get_data(as_text=True)
    assert "accepted" in page


def test_new_branch_requests_old_branch_releases_then_new_accepts(client, app):
    number = member_in_branch(app, "B01", skip=1)
    _login(client, "secretary2")
    assert (
        client.post("/transfers/start", data={"member": number, "to_unit": "B02"}).status_code
        == 302
    )
    [transfer] = _transfers(app, number)
    assert transfer.status == "requested"
    # Accepting before the old branch releases is refused, naming the step.
    response = client.post(f"/transfers/{transfer.id}/accept", data={"confirm": "yes"}, headers=EN)
    assert response.status_code == 422 and "released by the old branch" in response.get_data(
        as_text=True
    )
    _login(client, "secretary1")
    assert (
        client.post(f"/transfers/{transfer.id}/release", data={"confirm": "yes"}).status_code == 302
    )
    _login(client, "secretary2")
    assert (
        client.post(f"/transfers/{transfer.id}/accept", data={"confirm": "yes"}).status_code == 302
    )
    assert _unit_code(app, number) == "B02"


def test_a_transfer_to_the_members_own_unit_is_refused(client, app, auth):
    number = member_in_branch(app, "B01")
    own = _unit_code(app, number)
    auth.login()
    response = client.post("/transfers/start", data={"member": number, "to_unit": own}, headers=EN)
    assert response.status_code == 422
    assert "to_unit" in response.get_data(as_text=True)
    assert "already in this unit" in response.get_data(as_text=True)
    assert _transfers(app, number) == []


def test_a_starter_over_neither_side_is_refused_without_naming_the_member(client, app):
    number = member_in_branch(app, "B01")
    name = _member(app, number).name
    _login(client, "secretary2")  # B02: neither B01 nor B03
    response = client.post(
        "/transfers/start", data={"member": number, "to_unit": "B03"}, headers=EN
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "member" in text
    assert name not in text
    # The same answer as for a number nobody has.
    unknown = client.post("/transfers/start", data={"member": "99999999", "to_unit": "B03"},
                          headers=EN).get_data(as_text=True)  # fmt: skip
    assert "no active member with this number is in your units" in text
    assert "no active member with this number is in your units" in unknown
    assert _transfers(app, number) == []


def test_destinations_that_cannot_take_a_member_are_refused(client, app, auth):
    number = member_in_branch(app, "B01")
    with app.app_context():
        s = db.session()
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        group = create_unit(s, Actor.system("test"), kind="group", name="待关闭", code="B02-G9",
                            parent=b02)  # fmt: skip
        close_unit(s, Actor.system("test"), group)
        s.commit()
    auth.login()
    for code, words in (("C01", "not a committee"), ("B02-G9", "closed"), ("NOPE", "no unit")):
        response = client.post("/transfers/start", data={"member": number, "to_unit": code},
                               headers=EN)  # fmt: skip
        assert response.status_code == 422, code
        assert words in response.get_data(as_text=True), code
    assert _transfers(app, number) == []


def test_a_second_pending_transfer_of_the_same_member_is_refused(client, app, auth):
    number = member_in_branch(app, "B01")
    auth.login()
    assert (
        client.post("/transfers/start", data={"member": number, "to_unit": "B02"}).status_code
        == 302
    )
    response = client.post(
        "/transfers/start", data={"member": number, "to_unit": "B03"}, headers=EN
    )
    assert response.status_code == 422 and "already pending" in response.get_data(as_text=True)
    assert len(_transfers(app, number)) == 1


def test_a_refusal_needs_a_reason_and_either_side_may_refuse(client, app):
    number = member_in_branch(app, "B01")
    _login(client, "secretary1")
    client.post("/transfers/start", data={"member": number, "to_unit": "B02"})
    [transfer] = _transfers(app, number)
    _login(client, "secretary2")
    response = client.post(f"/transfers/{transfer.id}/refuse", data={"confirm": "yes"}, headers=EN)
    assert response.status_code == 422 and "refusal_reason" in response.get_data(as_text=True)
    assert _transfers(app, number)[0].status == "released"
    response = client.post(f"/transfers/{transfer.id}/refuse",
                           data={"confirm": "yes", "refusal_reason": "不在本地工作"})  # fmt: skip
    assert response.status_code == 302
    [refused] = _transfers(app, number)
    assert refused.status == "refused" and refused.refusal_reason == "不在本地工作"
    assert _unit_code(app, number).startswith("B01")


def test_officers_of_neither_side_get_404_on_a_transfer(client, app):
    number = member_in_branch(app, "B01")
    with app.app_context():
        s = db.session()
        transfer = start_transfer(s, Actor.system("test"), None, member_number=number,
                                  to_unit="B03")  # fmt: skip
        s.commit()
        transfer_id = transfer.id
    _login(client, "secretary2")
    for action in ("release", "accept", "refuse", "cancel"):
        response = client.post(f"/transfers/{transfer_id}/{action}",
                               data={"confirm": "yes", "refusal_reason": "x"})  # fmt: skip
        assert response.status_code == 404, action
    assert number not in client.get("/transfers/").get_data(as_text=True)
    assert _transfers(app, number)[0].status == "released"


def test_offices_in_the_old_branch_end_when_the_transfer_is_accepted(app):
    number = member_in_branch(app, "B01")
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        add_role(s, Actor.system("test"), b01, member_number=number, role="publicity")
        transfer = start_transfer(s, Actor.system("test"), None, member_number=number,
                                  to_unit="B02")  # fmt: skip
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))
        accept_transfer(s, Actor.system("test"), None, transfer)
        s.commit()
        member = s.scalar(select(Member).where(Member.number == number))
        assert s.scalars(select(UnitRole).where(UnitRole.member_id == member.id)).all() == []
        removed = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "unit.role_remove",
                                     AuditEvent.entity_id == b01.id).order_by(AuditEvent.id.desc())
        ).first()  # fmt: skip
        before = json.loads(removed.before)
        assert before["member"] == number and before["role"] == "publicity"
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > events_before


def test_mid_month_transfer_expects_the_member_where_they_are_at_each_meeting(app):
    number = member_in_branch(app, "B01")
    now = utcnow()
    before_move = new_meeting(app, "B01", starts_at=now - timedelta(hours=3),
                              ends_at=now - timedelta(hours=2))  # fmt: skip
    old_after = new_meeting(app, "B01")
    new_after = new_meeting(app, "B02")
    with app.app_context():
        s = db.session()
        actor = Actor.system("test")
        # The old branch's first meeting closes before the move: the member is absent there.
        close_checkin(s, actor, s.get(Meeting, before_move))
        transfer = start_transfer(s, actor, None, member_number=number, to_unit="B02")
        accept_transfer(s, actor, None, transfer)
        # Meetings closed after the move: the old branch no longer expects them, the new does.
        close_checkin(s, actor, s.get(Meeting, old_after))
        close_checkin(s, actor, s.get(Meeting, new_after))
        s.commit()
        member_id = s.scalar(select(Member.id).where(Member.number == number))

        def status(meeting_id: int) -> str | None:
            return s.scalar(
                select(Attendance.status).where(
                    Attendance.meeting_id == meeting_id, Attendance.member_id == member_id
                )
            )

        assert status(before_move) == "absent"  # their row at the old branch stays
        assert status(old_after) is None
        assert status(new_after) == "absent"


def test_transfers_from_the_command_line(runner, app):
    # The demo's own pending transfers are withdrawn first, so the list can empty.
    with app.app_context():
        pending = (
            db.session().scalars(select(Transfer.id).where(Transfer.status.in_(PENDING))).all()
        )
    for transfer_id in pending:
        assert runner.invoke(main, ["transfers", "cancel", str(transfer_id)]).exit_code == 0
    assert "No transfers." in runner.invoke(main, ["transfers", "list"]).output
    number = member_in_branch(app, "B01")
    result = runner.invoke(main, ["transfers", "start", number, "--to", "B02", "--reason", "调动"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["transfers", "list"])
    assert number in listed.output and "B02" in listed.output
    [transfer] = _transfers(app, number)
    result = runner.invoke(main, ["transfers", "accept", str(transfer.id)])
    assert result.exit_code == 0, result.output
    assert _unit_code(app, number) == "B02"
    again = runner.invoke(main, ["transfers", "refuse", str(transfer.id)])
    assert again.exit_code != 0 and "--reason" in again.output
    same = runner.invoke(main, ["transfers", "start", number, "--to", "B02"])
    assert same.exit_code != 0 and "--to" in same.output
    # Back again, then withdrawn: the list no longer shows it.
    runner.invoke(main, ["transfers", "start", number, "--to", "B01"])
    back = _transfers(app, number)[-1]
    assert runner.invoke(main, ["transfers", "cancel", str(back.id)]).exit_code == 0
    assert _transfers(app, number)[-1].status == "cancelled"
    assert "No transfers." in runner.invoke(main, ["transfers", "list"]).output
    assert runner.invoke(main, ["transfers", "release", str(back.id)]).exit_code != 0


def test_an_accept_after_the_member_was_moved_by_an_edit_is_refused(app):
    number = member_in_branch(app, "B01")
    with app.app_context():
        s = db.session()
        transfer = start_transfer(s, Actor.system("test"), None, member_number=number,
                                  to_unit="B02")  # fmt: skip
        member = s.scalar(select(Member).where(Member.number == number))
        member.unit = s.scalar(select(Unit).where(Unit.code == "B03"))
        s.flush()
        try:
            accept_transfer(s, Actor.system("test"), None, transfer)
        except TransferError as exc:
            assert "status" in exc.errors
        else:
            raise AssertionError("accepted a transfer whose member had moved")
        assert member.unit.code == "B03"
