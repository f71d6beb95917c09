"""Branch committee members (支委) and group leaders: recorded on a branch's page by an
organiser over it or its secretary, checked, audited, and read by ``office_holders``."""

from __future__ import annotations

from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import audit_trail
from qrservice.cli import main
from qrservice.models import AuditEvent, Member, Unit, UnitRole
from qrservice.org.members import set_member_active
from qrservice.org.roles import add_role, office_holders, remove_role

EN = {"Accept-Language": "en"}
#: Members of B01: its first group holds 20260001–015, its second 20260016–030; B02 starts at 031.
B01_G1_MEMBER, B01_G2_MEMBER, B02_MEMBER = "20260001", "20260016", "20260031"


def unit_id(app, code: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Unit.id).where(Unit.code == code))


def member_name(app, number: str) -> str:
    with app.app_context():
        return db.session().scalar(select(Member.name).where(Member.number == number))


def offices(app, code: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session().execute(
            select(UnitRole.role, Member.number)
            .join(Member, Member.id == UnitRole.member_id)
            .join(Unit, Unit.id == UnitRole.unit_id)
            .where(Unit.code == code)
            .order_by(UnitRole.id)
        )
        return [tuple(row) for row in rows]


def vacate(app, code: str) -> None:
    """Remove every office the demo records in the unit (its branch committee), through
    ``remove_role``, so that a test starts from a unit with no office holders."""
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == code))
        held = s.execute(
            select(UnitRole.role, Member.number)
            .join(Member, Member.id == UnitRole.member_id)
            .where(UnitRole.unit_id == unit.id)
        ).all()
        for role, number in held:
            remove_role(s, Actor.system("test"), unit, member_number=number, role=role)
        s.commit()
    assert offices(app, code) == []


def last_event_id(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.max(AuditEvent.id))) or 0


def test_the_branch_page_shows_its_facts_committee_and_groups(client, auth, app):
    auth.as_secretary(1)
    page = client.get(f"/units/{unit_id(app, 'B01')}", headers=EN).get_data(as_text=True)
    assert "机关第一党支部" in page and "Branch committee" in page
    assert "<dd><a href=" in page and ">30</a></dd>" in page  # active members, groups included
    assert "B01-G1" in page and "B01-G2" in page and "Group leader" in page
    assert 'name="role"' in page and f'value="{B01_G2_MEMBER}"' in page


def test_a_secretary_records_the_branch_secretary_and_a_second_one_is_refused(client, auth, app):
    vacate(app, "B01")
    auth.as_secretary(1)
    b01 = unit_id(app, "B01")
    response = client.post(
        f"/units/{b01}/roles", data={"member": B01_G1_MEMBER, "role": "secretary",
                                     "since": "2025-01-01"},
    )  # fmt: skip
    assert response.status_code == 302
    second = client.post(
        f"/units/{b01}/roles", data={"member": B01_G2_MEMBER, "role": "secretary"}, headers=EN
    )
    assert second.status_code == 422
    page = second.get_data(as_text=True)
    assert f'id="role-{b01}-error"' in page
    assert f"{member_name(app, B01_G1_MEMBER)} holds this office already" in page
    also = client.post(f"/units/{b01}/roles", data={"member": B01_G2_MEMBER, "role": "publicity"})
    assert also.status_code == 302
    assert offices(app, "B01") == [("secretary", B01_G1_MEMBER), ("publicity", B01_G2_MEMBER)]


def test_a_member_of_another_branch_is_refused_without_being_named(client, auth, app):
    before = offices(app, "B01")
    auth.as_secretary(1)
    response = client.post(
        f"/units/{unit_id(app, 'B01')}/roles", data={"member": B02_MEMBER, "role": "discipline"},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"no active member of this branch has the number {B02_MEMBER}" in page
    assert member_name(app, B02_MEMBER) not in page
    assert offices(app, "B01") == before


def test_one_leader_per_group_who_is_a_member_of_that_group(client, auth, app):
    auth.login()
    g1 = unit_id(app, "B01-G1")
    elsewhere = client.post(
        f"/units/{g1}/roles", data={"member": B01_G2_MEMBER, "role": "group_leader"}, headers=EN
    )
    assert elsewhere.status_code == 422
    assert "no active member of this group" in elsewhere.get_data(as_text=True)
    ok = client.post(f"/units/{g1}/roles", data={"member": B01_G1_MEMBER, "role": "group_leader"})
    assert ok.status_code == 302 and ok.headers["Location"] == f"/units/{unit_id(app, 'B01')}"
    second = client.post(
        f"/units/{g1}/roles", data={"member": "20260002", "role": "group_leader"}, headers=EN
    )
    assert second.status_code == 422 and "holds this office already" in second.get_data(True)
    wrong = client.post(f"/units/{g1}/roles", data={"member": "20260002", "role": "secretary"})
    assert wrong.status_code == 422
    assert offices(app, "B01-G1") == [("group_leader", B01_G1_MEMBER)]


def test_bad_fields_are_named(client, auth, app):
    auth.login()
    response = client.post(
        f"/units/{unit_id(app, 'B01')}/roles", data={"member": "", "role": "chairman",
                                                      "since": "2099-01-01"}, headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    b01 = unit_id(app, "B01")
    for field in ("role", "member", "since"):
        assert f'id="{field}-{b01}-error"' in page, field
    committee = client.post(
        f"/units/{unit_id(app, 'C01')}/roles", data={"member": B01_G1_MEMBER, "role": "secretary"}
    )
    assert committee.status_code == 422


def test_removing_an_office_asks_first_then_is_audited(client, auth, app):
    vacate(app, "B01")
    since = last_event_id(app)
    auth.as_secretary(1)
    b01 = unit_id(app, "B01")
    client.post(f"/units/{b01}/roles", data={"member": B01_G1_MEMBER, "role": "organisation"})
    form = {"member": B01_G1_MEMBER, "role": "organisation"}
    asked = client.post(f"/units/{b01}/roles/remove", data=form, headers=EN)
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.get_data(True)
    assert offices(app, "B01") == [("organisation", B01_G1_MEMBER)]
    done = client.post(f"/units/{b01}/roles/remove", data={**form, "confirm": "yes"})
    assert done.status_code == 302 and offices(app, "B01") == []
    gone = client.post(f"/units/{b01}/roles/remove", data={**form, "confirm": "yes"})
    assert gone.status_code == 404
    name = member_name(app, B01_G1_MEMBER)
    with app.test_request_context(headers=EN):
        s = db.session()
        events = s.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action.in_(("unit.role_add", "unit.role_remove")),
                AuditEvent.id > since,
            )
            .order_by(AuditEvent.id)
        ).all()
        said = [entry.sentence for entry in audit_trail(s, events)]
    assert said == [
        f"Secretary secretary1 recorded {name} as Organisation member of 机关第一党支部",
        f"Secretary secretary1 recorded that {name} is no longer Organisation member of "
        "机关第一党支部",
    ]


def test_another_branchs_secretary_sees_no_roles_page_and_changes_nothing(client, auth, app):
    before = offices(app, "B01")
    auth.as_secretary(2)
    b01 = unit_id(app, "B01")
    assert client.get(f"/units/{b01}").status_code == 404
    response = client.post(f"/units/{b01}/roles", data={"member": B01_G1_MEMBER,
                                                        "role": "secretary"})  # fmt: skip
    assert response.status_code == 404
    assert member_name(app, B01_G1_MEMBER) not in response.get_data(as_text=True)
    assert offices(app, "B01") == before


def test_office_holders_are_the_active_members_holding_a_committee_office(app):
    vacate(app, "B01")
    b02_holders = sorted({number for _role, number in offices(app, "B02")})
    assert b02_holders  # the demo's committee of B02, untouched by B01's offices
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        g1 = s.scalar(select(Unit).where(Unit.code == "B01-G1"))
        actor = Actor.system("test")
        add_role(s, actor, b01, member_number="20260003", role="secretary")
        add_role(s, actor, b01, member_number="20260003", role="organisation")
        add_role(s, actor, b01, member_number="20260020", role="publicity")
        add_role(s, actor, b01, member_number="20260004", role="committee_member")
        add_role(s, actor, g1, member_number="20260005", role="group_leader")
        leaving = s.scalar(select(Member).where(Member.number == "20260004"))
        set_member_active(s, actor, leaving, False)
        s.commit()
        holders = office_holders(s, b01)
        assert [m.number for m in holders] == ["20260003", "20260020"]
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        assert [m.number for m in office_holders(s, b02)] == b02_holders


def test_roles_by_command_line(runner, app):
    vacate(app, "B01")
    added = runner.invoke(
        main, ["roles", "add", "--unit", "B01", "--member", B01_G1_MEMBER, "--role", "secretary",
               "--since", "2024-03-01"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        main, ["roles", "add", "--unit", "B01", "--member", B01_G2_MEMBER, "--role", "secretary"]
    )
    assert again.exit_code != 0 and "role:" in again.output
    stranger = runner.invoke(
        main, ["roles", "add", "--unit", "B01", "--member", B02_MEMBER, "--role", "publicity"]
    )
    assert stranger.exit_code != 0 and "member:" in stranger.output
    listed = runner.invoke(main, ["roles", "list", "--unit", "B01"])
    assert (
        f"B01\tsecretary\t{B01_G1_MEMBER}" in listed.output and "since 2024-03-01" in listed.output
    )
    removed = runner.invoke(
        main, ["roles", "remove", "--unit", "B01", "--member", B01_G1_MEMBER, "--role",
               "secretary"],
    )  # fmt: skip
    assert removed.exit_code == 0, removed.output
    assert "No offices recorded in B01" in runner.invoke(main, ["roles", "list", "--unit",
                                                                "B01"]).output  # fmt: skip
