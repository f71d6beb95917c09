"""Members: list, search, filters, pagination, create, edit, deactivate, validation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.models import AuditEvent, Member
from qrservice.org.members import hash_national_id, normalise_national_id

VALID_ID = "11010519491231002X"


def member_form(**overrides):
    form = {
        "number": "90000001",
        "name": "测试党员",
        "gender": "female",
        "phone": "13800000000",
        "joined_on": "2020-07-01",
        "status": "full",
        "unit": "B01-G1",
        "floating": "no",
        "floating_location": "",
        "floating_since": "",
    }
    form.update(overrides)
    return form


def count(app, model):
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model))


def test_list_is_paginated_and_searchable(client, auth):
    auth.login()
    page = client.get("/members/").get_data(as_text=True)
    assert "120" in page
    assert page.count('href="/members/') >= 25
    assert "?page=2" in page or "page=2" in page
    with client.application.app_context():
        last = db.session().scalars(select(Member).order_by(Member.id.desc())).first()
        number, name = last.number, last.name
    found = client.get(f"/members/?q={number}").get_data(as_text=True)
    assert name in found
    by_name = client.get(f"/members/?q={name}").get_data(as_text=True)
    assert number in by_name


def test_filter_floating_members(client, auth):
    auth.login()
    page = client.get("/members/?floating=yes").get_data(as_text=True)
    with client.application.app_context():
        numbers = db.session().scalars(select(Member.number).where(Member.floating.is_(True))).all()
    assert len(numbers) == 12
    for number in numbers:
        assert number in page
    assert re.search(r"\b12\b", page)


def test_search_with_like_wildcards_is_literal(client, auth):
    auth.login()
    page = client.get("/members/?q=%25").get_data(as_text=True)
    assert "0 " in page or "No member matches" in page or "没有" in page


def test_organiser_creates_a_member_and_it_is_audited(client, auth, app):
    auth.login()
    before = count(app, Member)
    response = client.post("/members/new", data=member_form(national_id=VALID_ID))
    assert response.status_code == 302
    assert count(app, Member) == before + 1
    with app.app_context():
        member = db.session().scalar(select(Member).where(Member.number == "90000001"))
        assert member.id_hash == hash_national_id(app.config["ID_HASH_KEY"], VALID_ID)
        event = db.session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.action == "member.create" and event.actor == "user:organiser"
        assert VALID_ID not in (event.after or "")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "测试党员" in page
    assert VALID_ID not in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("number", ""),
        ("number", "20260001"),  # already taken by a demo member
        ("name", "<script>alert(1)</script>"),
        ("joined_on", "2020-13-45"),
        ("joined_on", "2999-01-01"),
        ("unit", "NOPE"),
        ("unit", "C01"),
        ("gender", "x"),
        ("national_id", "110105194912310021"),
        ("floating", "yes"),  # without a location
        ("name", "=HYPERLINK(1)"),
    ],
)
def test_bad_member_fields_name_the_field_and_save_nothing(client, auth, app, field, value):
    auth.login()
    before = (count(app, Member), count(app, AuditEvent))
    response = client.post("/members/new", data=member_form(**{field: value}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error_field = "floating_location" if field == "floating" else field
    assert f'id="{error_field}-error"' in page
    assert "<script>alert" not in page
    assert "110105194912310021" not in page
    assert (count(app, Member), count(app, AuditEvent)) == before


def form_of(app, member_id: int, active: str) -> dict[str, str]:
    """The edit form as it comes filled in for this member, sending ``active``."""
    with app.app_context():
        m = db.session().get(Member, member_id)
        return member_form(
            number=m.number, name=m.name, gender=m.gender, phone=m.phone or "",
            joined_on=m.joined_on.isoformat(), status=m.status, unit=m.unit.code,
            floating="yes" if m.floating else "no", floating_location=m.floating_location or "",
            floating_since=m.floating_since.isoformat() if m.floating_since else "", active=active,
        )  # fmt: skip


def test_edit_changes_only_what_changed(client, auth, app):
    auth.login()
    form = client.get("/members/1/edit").get_data(as_text=True)
    assert 'name="number"' in form
    values = form_of(app, 1, active="yes")
    events = count(app, AuditEvent)
    client.post("/members/1/edit", data=values)
    assert count(app, AuditEvent) == events  # nothing changed, nothing recorded
    values["phone"] = "13912345678"
    client.post("/members/1/edit", data=values)
    with app.app_context():
        event = db.session().scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.action == "member.update"
        assert '"phone": "13912345678"' in event.after
        assert "name" not in event.after


def test_the_edit_form_cannot_mark_a_member_as_left_without_the_confirmation(client, auth, app):
    auth.login()
    values = form_of(app, 1, active="no")
    form = client.get("/members/1/edit").get_data(as_text=True)
    assert 'name="active"' not in form and 'id="active-state"' in form
    client.post("/members/1/edit", data=values)
    with app.app_context():
        assert db.session().get(Member, 1).active


def test_deactivate_and_reactivate(client, auth, app):
    auth.login()
    client.post("/members/1/active", data={"active": "no", "confirm": "yes"})
    assert (
        "20260001"
        not in client.get("/members/?q=20260001")
        .get_data(as_text=True)
        .split("<tbody>")[1]
        .split("</tbody>")[0]
    )
    left = client.get("/members/?q=20260001&active=no").get_data(as_text=True)
    assert "20260001" in left
    with app.app_context():
        assert db.session().get(Member, 1).left_on is not None
    client.post("/members/1/active", data={"active": "yes"})
    with app.app_context():
        member = db.session().get(Member, 1)
        assert member.active and member.left_on is None


def test_lookup_by_national_id_finds_the_member_without_putting_it_in_a_url(client, auth, app):
    auth.login()
    client.post("/members/new", data=member_form(national_id=VALID_ID.lower()))
    response = client.post("/members/lookup-id", data={"national_id": VALID_ID})
    assert response.status_code == 302
    assert VALID_ID not in response.headers["Location"]
    assert "测试党员" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_national_id_check_digit_is_verified():
    assert normalise_national_id(" 11010519491231002x ") == VALID_ID
    with pytest.raises(ValueError):
        normalise_national_id("110105194912310021")


def test_organiser_creates_a_secretary_account(client, auth):
    auth.login()
    page = client.get("/users/new").get_data(as_text=True)
    branch_id = re.search(r'<option value="(\d+)"[^>]*>机关第二党支部', page).group(1)
    data = {
        "username": "newsec", "display_name": "新书记", "role": "secretary",
        "unit_id": branch_id, "password": "long-enough-pw", "password_confirm": "long-enough-pw",
    }  # fmt: skip
    assert client.post("/users/new", data={**data, "password_confirm": "other"}).status_code == 422
    assert (
        client.post(
            "/users/new", data={**data, "password": "short", "password_confirm": "short"}
        ).status_code
        == 422
    )
    assert client.post("/users/new", data=data).status_code == 302
    assert client.post("/users/new", data=data).status_code == 422  # username taken
    auth.logout()
    assert auth.login("newsec", "long-enough-pw").status_code == 302
    assert "机关第二党支部" in client.get("/units").get_data(as_text=True)
