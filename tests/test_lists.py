"""Lists read right: the meetings list's column says what it shows, officers land on today's
and upcoming meetings with the open one first, the tree is in code order whatever the ids, times
are Beijing time, and a group is named with its branch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.meetings import MeetingFields, create_meeting
from qrservice.models import Meeting, Unit, User
from qrservice.org.units import create_unit
from qrservice.timeutil import utcnow
from tests.scanhelpers import open_meeting_id

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def test_meetings_list_heads_the_meeting_state_as_such(client, auth):
    auth.as_secretary(1)
    page = client.get("/meetings/", headers=ZH).get_data(as_text=True)
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "党员类别" not in head and "会议状态" in head


def add_meeting(app, title: str, starts_in: timedelta) -> None:
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == "B01"))
        start = utcnow() + starts_in
        fields = MeetingFields(unit=unit, kind="lecture", title=title, starts_at=start,
                               ends_at=start + timedelta(hours=1))  # fmt: skip
        create_meeting(s, Actor.system("cli"), fields)
        s.commit()


def test_a_secretary_lands_on_the_open_meeting_then_upcoming_ones(client, auth, app):
    add_meeting(app, "下周的党课", timedelta(days=7))
    add_meeting(app, "明天的党课", timedelta(days=1))
    add_meeting(app, "上周的党课", timedelta(days=-7))
    response = auth.as_secretary(1)
    assert response.headers["Location"] == "/meetings/"
    assert client.get("/").headers["Location"] == "/meetings/"
    page = client.get("/meetings/", headers=ZH).get_data(as_text=True)
    coming = page.split('id="coming"', 1)[1].split('id="list"', 1)[0]
    with app.app_context():
        open_title = db.session().get(Meeting, open_meeting_id(app)).title
    first_row = coming.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert open_title in first_row and 'class="open"' in first_row
    assert coming.index("明天的党课") < coming.index("下周的党课")
    assert "上周的党课" not in coming
    # Earlier meetings are in the list of their month.
    month = (utcnow() + timedelta(hours=8) - timedelta(days=7)).strftime("%Y-%m")
    listed = client.get(f"/meetings/?month={month}", headers=ZH).get_data(as_text=True)
    assert "上周的党课" in listed.split('id="list"', 1)[1]


def test_org_tree_lists_units_in_code_order_whatever_their_ids(client, auth, app):
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        create_unit(s, Actor.system("cli"), kind="group", name="第三党小组", code="B01-G3",
                    parent=b01)  # fmt: skip
        s.commit()
    auth.login()
    page = client.get("/units", headers=ZH).get_data(as_text=True)
    codes = ["C01", "B01", "B01-G1", "B01-G2", "B01-G3", "B02", "B02-G1", "B03", "B04", "B04-G2"]
    positions = [page.index(f'<span class="code">{code}</span>') for code in codes]
    assert positions == sorted(positions)


def test_accounts_page_shows_last_login_in_beijing_time(client, auth, app):
    auth.login()
    with app.app_context():
        s = db.session()
        user = s.scalar(select(User).where(User.username == "secretary2"))
        user.last_login_at = datetime(2026, 3, 1, 23, 30)
        s.commit()
    page = client.get("/users/", headers=EN).get_data(as_text=True)
    row = page.split("secretary2", 1)[1].split("</tr>", 1)[0]
    assert "2026-03-02 07:30" in row and "2026-03-01 23:30" not in row


def test_member_lists_name_a_members_group_with_its_branch(client, auth, app):
    auth.as_secretary(1)
    page = client.get("/members/?q=20260001", headers=ZH).get_data(as_text=True)
    row = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "机关第一党支部 · 第一党小组" in row
    missing = client.get(f"/meetings/{open_meeting_id(app)}", headers=ZH).get_data(as_text=True)
    assert "· 机关第一党支部 · 第" in missing
