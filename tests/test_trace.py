"""The trace of a meeting (痕迹管理): minutes, photos served safely, overdue traces, CLI."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.meetings import close_checkin
from qrservice.life.trace import OVERDUE_AFTER, add_photo, overdue_traces
from qrservice.models import AuditEvent, Meeting, MeetingPhoto, Unit
from qrservice.org.accounts import create_user
from qrservice.timeutil import utcnow
from tests.scanhelpers import new_meeting
from tests.test_photos import jpeg_with_gps


def closed_meeting(app, unit_code: str = "B01", closed_ago: timedelta = timedelta(hours=1)) -> int:
    meeting_id = new_meeting(app, unit_code, opened=True, title="痕迹测试会议")
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        close_checkin(s, Actor.system("test"), meeting)
        meeting.closed_at = utcnow() - closed_ago
        s.commit()
    return meeting_id


def png_bytes(size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


def uploads(app) -> Path:
    return Path(app.config["UPLOADS_DIR"])


def stored_files(app) -> list[Path]:
    return sorted(p for p in uploads(app).rglob("*") if p.is_file())


def new_files(app, before: list[Path]) -> list[Path]:
    """Files stored since ``before`` was taken (the demo's own photos are there already); the
    files of ``before`` must all still be there."""
    now = stored_files(app)
    assert set(before) <= set(now)
    return sorted(set(now) - set(before))


def photo_rows(app, meeting_id: int) -> list:
    """(id, path) of the meeting's photos."""
    with app.app_context():
        return list(
            db.session().execute(
                select(MeetingPhoto.id, MeetingPhoto.path)
                .where(MeetingPhoto.meeting_id == meeting_id)
                .order_by(MeetingPhoto.id)
            )
        )


def upload(client, meeting_id: int, data: bytes, name: str = "photo.jpg", caption: str = ""):
    return client.post(
        f"/meetings/{meeting_id}/trace/photos",
        data={"photo": (io.BytesIO(data), name), "caption": caption},
        content_type="multipart/form-data",
    )


def events(app, action: str, meeting_id: int) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count()).where(
                AuditEvent.action == action, AuditEvent.entity_id == meeting_id
            )
        )


def test_secretary_files_minutes_and_organiser_reads_them(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting_id}/trace/minutes",
                           data={"minutes": "  学习了党章第三章。\n讨论发言五人。  "})  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        meeting = db.session().get(Meeting, meeting_id)
        assert meeting.minutes == "学习了党章第三章。\n讨论发言五人。"
        assert meeting.minutes_by and meeting.minutes_at
    assert events(app, "trace.minutes", meeting_id) == 1
    auth.logout()
    auth.login()
    page = client.get(f"/meetings/{meeting_id}/trace", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "学习了党章第三章。" in page.get_data(as_text=True)
    # Organisers above read only: no form, and a POST is refused.
    assert f"/meetings/{meeting_id}/trace/minutes" not in page.get_data(as_text=True)
    refused = client.post(f"/meetings/{meeting_id}/trace/minutes", data={"minutes": "改写"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session().get(Meeting, meeting_id).minutes.startswith("学习了党章")


def test_blank_minutes_are_refused_naming_the_field(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting_id}/trace/minutes", data={"minutes": " \n "},
                           headers={"Accept-Language": "en"})  # fmt: skip
    assert response.status_code == 422
    assert 'id="minutes-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().get(Meeting, meeting_id).minutes is None
    assert events(app, "trace.minutes", meeting_id) == 0


def test_minutes_longer_than_the_limit_are_refused(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting_id}/trace/minutes", data={"minutes": "字" * 20001})
    assert response.status_code == 422
    assert 'id="minutes-error"' in response.get_data(as_text=True)
    ok = client.post(f"/meetings/{meeting_id}/trace/minutes", data={"minutes": "字" * 20000})
    assert ok.status_code == 302


def test_minutes_of_a_meeting_not_yet_held_are_refused(app, client, auth) -> None:
    meeting_id = new_meeting(app, "B01", opened=False)
    auth.as_secretary(1)
    response = client.post(f"/meetings/{meeting_id}/trace/minutes", data={"minutes": "提前写"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session().get(Meeting, meeting_id).minutes is None


def test_photo_with_gps_is_served_by_id_without_any_metadata(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    response = upload(client, meeting_id, jpeg_with_gps(), caption="集体学习")
    assert response.status_code == 302
    [row] = photo_rows(app, meeting_id)
    assert row.path.startswith(f"meetings/{meeting_id}/")
    assert (uploads(app) / row.path).is_file()
    assert events(app, "trace.photo_add", meeting_id) == 1

    page = client.get(f"/meetings/{meeting_id}/trace").get_data(as_text=True)
    assert f"/trace/photos/{row.id}" in page
    assert row.path not in page and Path(row.path).name not in page

    served = client.get(f"/trace/photos/{row.id}")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert "no-store" in served.headers["Cache-Control"]
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and not image.getexif() and "exif" not in image.info
    small = client.get(f"/trace/photos/{row.id}?size=small")
    assert small.status_code == 200 and small.headers["Content-Type"] == "image/jpeg"


def test_text_file_named_jpg_is_refused_and_nothing_is_written(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    before = stored_files(app)
    auth.as_secretary(1)
    response = upload(client, meeting_id, b"<?php system($_GET['c']); ?>", name="photo.jpg")
    assert response.status_code == 422
    assert 'id="photo-error"' in response.get_data(as_text=True)
    assert photo_rows(app, meeting_id) == []
    assert new_files(app, before) == []


def test_oversized_photo_is_refused_and_no_file_is_left(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    app.config["PHOTO_MAX_BYTES"] = 2000
    big = io.BytesIO()
    Image.effect_noise((200, 200), 80).convert("RGB").save(big, "PNG")
    assert len(big.getvalue()) > 2000
    before = stored_files(app)
    auth.as_secretary(1)
    response = upload(client, meeting_id, big.getvalue(), name="big.png")
    assert response.status_code == 413
    assert 'id="photo-error"' in response.get_data(as_text=True)
    assert photo_rows(app, meeting_id) == []
    assert new_files(app, before) == []


def test_photo_of_a_rolled_back_upload_leaves_no_file(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    before = stored_files(app)
    auth.as_secretary(1)
    too_long_caption = "说明" * 150
    response = upload(client, meeting_id, png_bytes(), caption=too_long_caption)
    assert response.status_code == 422
    assert 'id="caption-error"' in response.get_data(as_text=True)
    assert new_files(app, before) == []


def test_a_meeting_keeps_at_most_the_configured_number_of_photos(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    app.config["PHOTOS_PER_MEETING"] = 2
    before = stored_files(app)
    auth.as_secretary(1)
    assert upload(client, meeting_id, png_bytes(), "a.png").status_code == 302
    assert upload(client, meeting_id, png_bytes(), "b.png").status_code == 302
    third = upload(client, meeting_id, png_bytes(), "c.png")
    assert third.status_code == 422
    assert len(photo_rows(app, meeting_id)) == 2
    assert len(new_files(app, before)) == 2


def test_photo_of_another_subtree_is_404_for_its_organiser_and_secretary(app, client, auth):
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    upload(client, meeting_id, png_bytes(), "p.png")
    [row] = photo_rows(app, meeting_id)
    auth.logout()
    with app.app_context():
        s = db.session()
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        create_user(s, Actor.system("test"), username="organiser-b02-trace", role="organiser",
                    unit=b02, password="trace-organiser-2026")  # fmt: skip
        s.commit()
    auth.login("organiser-b02-trace", "trace-organiser-2026")
    assert client.get(f"/trace/photos/{row.id}").status_code == 404
    assert client.get(f"/meetings/{meeting_id}/trace").status_code == 404
    auth.logout()
    auth.as_secretary(2)
    assert client.get(f"/trace/photos/{row.id}").status_code == 404
    assert client.post(f"/trace/photos/{row.id}/delete", data={"confirm": "yes"}).status_code == 404
    assert len(photo_rows(app, meeting_id)) == 1


def test_deleting_a_photo_asks_first_then_removes_row_and_file(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    upload(client, meeting_id, png_bytes(), "p.png")
    [row] = photo_rows(app, meeting_id)
    asked = client.post(f"/trace/photos/{row.id}/delete")
    assert asked.status_code == 200 and 'name="confirm"' in asked.get_data(as_text=True)
    assert (uploads(app) / row.path).is_file()
    done = client.post(f"/trace/photos/{row.id}/delete", data={"confirm": "yes"})
    assert done.status_code == 302
    assert photo_rows(app, meeting_id) == []
    assert not (uploads(app) / row.path).exists()
    assert events(app, "trace.photo_delete", meeting_id) == 1
    assert client.get(f"/trace/photos/{row.id}").status_code == 404


def test_overdue_list_starts_exactly_seven_days_after_the_close(app) -> None:
    meeting_id = closed_meeting(app)
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        c01 = s.scalar(select(Unit).where(Unit.code == "C01"))
        closed = meeting.closed_at

        def listed(now) -> bool:
            return meeting_id in [m.id for m in overdue_traces(s, c01, now)]

        assert not listed(closed + OVERDUE_AFTER - timedelta(seconds=1))
        assert listed(closed + OVERDUE_AFTER)
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        assert meeting_id not in [m.id for m in overdue_traces(s, b02, closed + OVERDUE_AFTER)]
        meeting.minutes = "已补录纪要"
        s.flush()
        assert not listed(closed + OVERDUE_AFTER * 2)


def test_overdue_page_lists_the_scopes_meetings_without_minutes(app, client, auth) -> None:
    old = closed_meeting(app, closed_ago=timedelta(days=8))
    recent = closed_meeting(app, closed_ago=timedelta(days=6))
    auth.as_secretary(1)
    page = client.get("/trace/overdue").get_data(as_text=True)
    assert f"/meetings/{old}/trace" in page
    assert f"/meetings/{recent}/trace" not in page
    auth.logout()
    auth.as_secretary(2)
    assert f"/meetings/{old}/trace" not in client.get("/trace/overdue").get_data(as_text=True)


def test_meeting_page_links_to_its_trace(app, client, auth) -> None:
    meeting_id = closed_meeting(app)
    auth.as_secretary(1)
    page = client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert f"/meetings/{meeting_id}/trace" in page


def test_cli_files_minutes_adds_a_photo_and_lists_overdue(app, runner, tmp_path) -> None:
    meeting_id = closed_meeting(app, closed_ago=timedelta(days=10))
    overdue = runner.invoke(main, ["trace", "overdue", "--unit", "B01"])
    assert overdue.exit_code == 0 and f"{meeting_id}\tB01" in overdue.output

    minutes = tmp_path / "minutes.txt"
    minutes.write_text("传达学习会议精神。", encoding="utf-8")
    filed = runner.invoke(main, ["trace", "minutes", str(meeting_id), "--file", str(minutes)])
    assert filed.exit_code == 0, filed.output
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n", encoding="utf-8")
    refused = runner.invoke(main, ["trace", "minutes", str(meeting_id), "--file", str(blank)])
    assert refused.exit_code != 0 and "minutes:" in refused.output

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_gps())
    added = runner.invoke(main, ["trace", "add-photo", str(meeting_id), str(photo)])
    assert added.exit_code == 0, added.output
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"%PDF-1.4 not a photo")
    bad = runner.invoke(main, ["trace", "add-photo", str(meeting_id), str(fake)])
    assert bad.exit_code != 0 and "photo:" in bad.output

    shown = runner.invoke(main, ["trace", "show", str(meeting_id)])
    assert shown.exit_code == 0
    assert "传达学习会议精神。" in shown.output and "Photos: 1" in shown.output
    assert str(meeting_id) not in runner.invoke(main, ["trace", "overdue", "--unit", "B01"]).output
    [row] = photo_rows(app, meeting_id)
    with Image.open(uploads(app) / row.path) as image:
        assert not image.getexif()


def test_backup_copies_the_database_and_the_uploaded_photos(app, runner, tmp_path) -> None:
    meeting_id = closed_meeting(app)
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    assert runner.invoke(main, ["trace", "add-photo", str(meeting_id), str(photo)]).exit_code == 0
    [(_id, path)] = photo_rows(app, meeting_id)
    out = tmp_path / "backup"
    done = runner.invoke(main, ["backup", "--output", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "uploads" / path).read_bytes() == (uploads(app) / path).read_bytes()
    if app.config["DATABASE_URL"].startswith("sqlite"):
        import sqlite3

        copy = sqlite3.connect(out / "qrservice.db")
        try:
            assert copy.execute("select path from meeting_photo where id = ?", (_id,)).fetchone()
        finally:
            copy.close()
    again = runner.invoke(main, ["backup", "--output", str(out)])
    assert again.exit_code != 0 and "not empty" in again.output


def test_a_photo_whose_transaction_rolls_back_leaves_no_file(app) -> None:
    meeting_id = closed_meeting(app)
    before = stored_files(app)
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        photo = add_photo(s, Actor.system("test"), meeting, png_bytes(), "", uploads(app), 20)
        assert (uploads(app) / photo.path).is_file()
        s.rollback()
    assert new_files(app, before) == []
    assert photo_rows(app, meeting_id) == []
