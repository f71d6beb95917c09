"""Make-up study (补课): a member who missed a closed meeting writes what they studied within the
organisation's period; accepted make-up counts as attended and earns the make-up points, which
a later correction takes back."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.life.attendance import correct_attendance
from qrservice.life.meetings import close_checkin, open_checkin
from qrservice.life.requests import accept_makeup, submit_makeup
from qrservice.life.standing import member_standing
from qrservice.models import (
    Attendance,
    AuditEvent,
    MakeupStudy,
    Meeting,
    Member,
    Organisation,
    PointsEntry,
    User,
)
from qrservice.timeutil import from_local, local_today
from tests.scanhelpers import member_in_branch, new_meeting
from tests.test_leave import last_event_id, unlock

STUDIED = (
    "学习了习近平新时代中国特色社会主义思想的有关论述，重点理解了党支部建设的基本要求和党员的义务，"
    * 2
)


def closed_meeting(app, local_day: date, branch: str = "B01") -> int:
    """A meeting of the branch at 10:00 on ``local_day`` (the organisation's day), closed: every
    member expected is absent."""
    starts = from_local(datetime.combine(local_day, time(10)))
    meeting_id = new_meeting(
        app, branch, opened=False, starts_at=starts, ends_at=starts + timedelta(hours=2)
    )
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        open_checkin(s, Actor.system("test"), meeting)
        close_checkin(s, Actor.system("test"), meeting)
        s.commit()
    return meeting_id


def studies(app, meeting_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session().scalars(
                select(MakeupStudy.status)
                .where(MakeupStudy.meeting_id == meeting_id)
                .order_by(MakeupStudy.id)
            )
        )


def status_of(app, meeting_id: int, number: str) -> str | None:
    with app.app_context():
        return db.session().scalar(
            select(Attendance.status)
            .join(Member, Member.id == Attendance.member_id)
            .where(Attendance.meeting_id == meeting_id, Member.number == number)
        )


def points_of(app, meeting_id: int, number: str, kind: str) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0))
            .join(Member, Member.id == PointsEntry.member_id)
            .where(
                PointsEntry.meeting_id == meeting_id,
                Member.number == number,
                PointsEntry.kind == kind,
            )
        )


def study_id(app, meeting_id: int) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.max(MakeupStudy.id)).where(MakeupStudy.meeting_id == meeting_id)
        )


def test_make_up_on_day_30_is_accepted_and_on_day_31_refused(app):
    number = member_in_branch(app, "B01")
    day30 = closed_meeting(app, local_today() - timedelta(days=30))
    day31 = closed_meeting(app, local_today() - timedelta(days=31))
    client = app.test_client()
    card = unlock(app, client, number)
    page = client.get(card).get_data(as_text=True)
    assert f"/makeup/{day30}" in page
    assert f"/makeup/{day31}" not in page
    assert client.post(f"{card}/makeup/{day30}", data={"text": STUDIED}).status_code == 303
    assert studies(app, day30) == ["pending"]
    response = client.post(f"{card}/makeup/{day31}", data={"text": STUDIED})
    assert response.status_code == 422
    assert 'data-field="meeting"' in response.get_data(as_text=True)
    assert studies(app, day31) == []


def test_empty_or_space_padded_text_is_refused_naming_the_text(app):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=3))
    client = app.test_client()
    card = unlock(app, client, number)
    with app.app_context():
        needed = db.session().scalar(select(Organisation.makeup_min_chars))
    padded = " ".join("学" * (needed - 1)) + " " * 40  # long enough only with its spaces
    for text in ("", "   ", padded):
        response = client.post(f"{card}/makeup/{meeting}", data={"text": text})
        assert response.status_code == 422
        assert 'data-field="text"' in response.get_data(as_text=True)
    assert studies(app, meeting) == []
    assert client.post(f"{card}/makeup/{meeting}", data={"text": "学" * needed}).status_code == 303
    assert studies(app, meeting) == ["pending"]


def test_accepted_make_up_counts_as_attended_and_earns_the_make_up_points(app, auth):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=5))
    client = app.test_client()
    card = unlock(app, client, number)
    since = last_event_id(app)  # the demo's own make-up is logged before
    client.post(f"{card}/makeup/{meeting}", data={"text": STUDIED})
    auth.as_secretary(1)
    listing = auth.client.get("/requests/").get_data(as_text=True)
    assert STUDIED in listing
    sid = study_id(app, meeting)
    response = auth.client.post(f"/requests/makeup/{sid}/accept", data={"comment": "认真"})
    assert response.status_code == 303
    assert studies(app, meeting) == ["accepted"]
    assert status_of(app, meeting, number) == "made_up"
    with app.app_context():
        makeup_points = db.session().scalar(select(Organisation.makeup_points))
    assert points_of(app, meeting, number, "make_up") == makeup_points
    assert points_of(app, meeting, number, "attendance") == 0
    with app.app_context():
        actors = (
            db.session()
            .execute(
                select(AuditEvent.action, AuditEvent.actor)
                .where(
                    AuditEvent.action.in_(("makeup.submit", "makeup.accept")),
                    AuditEvent.id > since,
                )
                .order_by(AuditEvent.id)
            )
            .all()
        )
    assert [tuple(a) for a in actors] == [
        ("makeup.submit", f"member:{number}"),
        ("makeup.accept", "user:secretary1"),
    ]
    assert "认真" in client.get(card).get_data(as_text=True)


def test_points_are_reversed_when_a_correction_undoes_the_make_up(app):
    number = member_in_branch(app, "B01")
    meeting_id = closed_meeting(app, local_today() - timedelta(days=5))
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        secretary = s.scalar(select(User).where(User.username == "secretary1"))
        s.get(Organisation, s.scalar(select(Organisation.id))).makeup_points = 2
        meeting = s.get(Meeting, meeting_id)
        study = submit_makeup(s, member, meeting, STUDIED)
        accept_makeup(s, Actor.of(secretary), study)
        s.commit()
    assert points_of(app, meeting_id, number, "make_up") == 2
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        secretary = s.scalar(select(User).where(User.username == "secretary1"))
        correct_attendance(s, Actor.of(secretary), s.get(Meeting, meeting_id), member, "absent",
                           "补课材料系抄袭")  # fmt: skip
        s.commit()
        lines = list(
            s.scalars(
                select(PointsEntry.points)
                .where(
                    PointsEntry.meeting_id == meeting_id,
                    PointsEntry.member_id == member.id,
                    PointsEntry.kind == "make_up",
                )
                .order_by(PointsEntry.id)
            )
        )
    assert lines == [2, -2]
    assert status_of(app, meeting_id, number) == "absent"


def test_a_warning_clears_when_make_up_is_accepted(app):
    number = member_in_branch(app, "B01")
    later = date.today() + timedelta(days=125)
    meeting_day = local_today() + timedelta(days=120)
    meeting_id = closed_meeting(app, meeting_day)
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        before = member_standing(s, member, later)
        assert "meetings" in [c.kind for c in before.causes]
        secretary = s.scalar(select(User).where(User.username == "secretary1"))
        study = submit_makeup(s, member, s.get(Meeting, meeting_id), STUDIED, today=meeting_day)
        accept_makeup(s, Actor.of(secretary), study)
        s.commit()
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        after = member_standing(s, member, later)
    assert after.months_without_meeting == 0
    assert "meetings" not in [c.kind for c in after.causes]
    assert after.attended == before.attended + (1 if meeting_day.year == later.year else 0)


def test_returned_make_up_may_be_submitted_again(app, auth):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    client = app.test_client()
    card = unlock(app, client, number)
    client.post(f"{card}/makeup/{meeting}", data={"text": STUDIED})
    auth.as_secretary(1)
    sid = study_id(app, meeting)
    response = auth.client.post(f"/requests/makeup/{sid}/return", data={"comment": ""})
    assert response.status_code == 422
    assert 'data-field="comment"' in response.get_data(as_text=True)
    auth.client.post(f"/requests/makeup/{sid}/return", data={"comment": "请写得具体一些"})
    assert studies(app, meeting) == ["returned"]
    assert status_of(app, meeting, number) == "absent"
    page = client.get(card).get_data(as_text=True)
    assert "请写得具体一些" in page and f"/makeup/{meeting}" in page
    assert client.post(f"{card}/makeup/{meeting}", data={"text": STUDIED}).status_code == 303
    assert studies(app, meeting) == ["returned", "pending"]


def test_another_branchs_secretary_cannot_decide_make_up(app, auth):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    client = app.test_client()
    card = unlock(app, client, number)
    client.post(f"{card}/makeup/{meeting}", data={"text": STUDIED})
    sid = study_id(app, meeting)
    auth.as_secretary(2)
    assert STUDIED not in auth.client.get("/requests/").get_data(as_text=True)
    assert auth.client.post(f"/requests/makeup/{sid}/accept").status_code == 404
    assert (
        auth.client.post(f"/requests/makeup/{sid}/return", data={"comment": "x"}).status_code == 404
    )
    assert studies(app, meeting) == ["pending"]
    assert status_of(app, meeting, number) == "absent"


def test_a_stranger_cannot_submit_make_up_for_a_card(app):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    card = unlock(app, app.test_client(), number)
    response = app.test_client().post(f"{card}/makeup/{meeting}", data={"text": STUDIED})
    assert response.status_code == 403
    assert studies(app, meeting) == []


def test_make_up_is_only_for_a_meeting_the_member_missed(app, auth):
    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        correct_attendance(s, Actor.system("test"), s.get(Meeting, meeting), member, "present",
                           "扫码失败")  # fmt: skip
        s.commit()
    client = app.test_client()
    card = unlock(app, client, number)
    response = client.post(f"{card}/makeup/{meeting}", data={"text": STUDIED})
    assert response.status_code == 422
    assert studies(app, meeting) == []


def test_leave_and_make_up_from_the_command_line(app, runner):
    from qrservice.cli import main

    number = member_in_branch(app, "B01")
    other = member_in_branch(app, "B01", skip=1)
    missed = closed_meeting(app, local_today() - timedelta(days=2))
    at = from_local(datetime.combine(local_today() + timedelta(days=3), time(10)))
    coming = new_meeting(app, "B01", opened=False, starts_at=at, ends_at=at + timedelta(hours=1))
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == number))
        submit_makeup(s, member, s.get(Meeting, missed), STUDIED)
        s.commit()

    result = runner.invoke(main, ["makeup", "list", "--unit", "B01"])
    assert result.exit_code == 0, result.output
    assert number in result.output
    sid = study_id(app, missed)
    result = runner.invoke(main, ["makeup", "return", str(sid), "--comment", "再具体些"])
    assert result.exit_code == 0, result.output
    assert studies(app, missed) == ["returned"]
    result = runner.invoke(main, ["makeup", "accept", str(sid)])
    assert result.exit_code == 1 and "makeup:" in result.output

    result = runner.invoke(main, ["leave", "record", str(coming), "--member", other,
                                  "--reason", "电话请假"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert status_of(app, coming, other) == "excused"
    result = runner.invoke(main, ["leave", "record", str(missed), "--member", number,
                                  "--reason", "补请假"])  # fmt: skip
    assert result.exit_code == 1 and "meeting:" in result.output
    result = runner.invoke(main, ["leave", "list", "--unit", "B01"])
    assert result.exit_code == 0 and result.output.startswith("0 pending")
    result = runner.invoke(main, ["leave", "refuse", "999999", "--comment", "x"])
    assert result.exit_code == 1 and "no request for leave" in result.output


def _png_with_metadata() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    image = Image.new("RGB", (40, 30), (0, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    image.save(out, "PNG", exif=exif)
    return out.getvalue()


def test_a_photo_of_notes_is_kept_re_encoded_and_shown_only_to_the_branch(app, auth):
    import io

    from PIL import Image

    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    client = app.test_client()
    card = unlock(app, client, number)
    form = {"text": STUDIED, "photo": (io.BytesIO(_png_with_metadata()), "notes.png")}
    response = client.post(f"{card}/makeup/{meeting}", data=form,
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 303
    sid = study_id(app, meeting)
    auth.as_secretary(1)
    assert f"/requests/makeup/{sid}/photo" in auth.client.get("/requests/").get_data(as_text=True)
    photo = auth.client.get(f"/requests/makeup/{sid}/photo")
    assert photo.status_code == 200 and photo.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG" and image.size == (40, 30)
    assert not image.getexif()
    auth.logout()
    auth.as_secretary(2)
    assert auth.client.get(f"/requests/makeup/{sid}/photo").status_code == 404


def test_a_photo_that_is_not_an_image_is_refused_and_nothing_written(app):
    import io

    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    client = app.test_client()
    card = unlock(app, client, number)
    form = {"text": STUDIED, "photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "notes.jpg")}
    response = client.post(f"{card}/makeup/{meeting}", data=form,
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 422
    assert 'data-field="photo"' in response.get_data(as_text=True)
    assert studies(app, meeting) == []


def test_the_card_with_leave_and_make_up_forms_stays_light_without_javascript(app):
    import re

    number = member_in_branch(app, "B01")
    for days in (2, 9, 16):
        closed_meeting(app, local_today() - timedelta(days=days))
    client = app.test_client()
    card = unlock(app, client, number)
    page = client.get(card).get_data(as_text=True)
    assert page.count('name="text"') >= 3 and 'name="reason"' in page
    assert "<script" not in page
    with client.get(re.search(r'href="(/static/css/[^"]+)"', page)[1]) as css:
        css_size = len(css.data)
    assert len(page.encode()) + css_size <= 30 * 1024, (len(page.encode()), css_size)


def test_a_refused_make_up_keeps_no_photo_file(app):
    import io
    from pathlib import Path

    number = member_in_branch(app, "B01")
    meeting = closed_meeting(app, local_today() - timedelta(days=2))
    client = app.test_client()
    card = unlock(app, client, number)
    folder = Path(app.config["UPLOADS_DIR"]) / "makeup"
    before = set(folder.glob("*")) if folder.exists() else set()
    form = {"text": "太短", "photo": (io.BytesIO(_png_with_metadata()), "notes.png")}
    response = client.post(f"{card}/makeup/{meeting}", data=form,
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 422
    assert (set(folder.glob("*")) if folder.exists() else set()) == before
    assert studies(app, meeting) == []
