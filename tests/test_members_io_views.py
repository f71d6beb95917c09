"""Import and export pages, through the test client, on the demo organisation."""

from __future__ import annotations

import io
import re
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qrservice import db
from qrservice.audit import Actor
from qrservice.models import AuditEvent, Member, Unit
from qrservice.org.accounts import create_user
from qrservice.org.members_io import ROW, plan_import, read_table

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "members-sample.csv"
TOKEN_ACTION = re.compile(r'action="/members/import/([A-Za-z0-9_-]{32})/apply"')
HEADER = "党员编号,姓名,性别,手机,入党日期,党员类别,所在单位,流动党员,流动地点,流动开始日期"


def count(app, model):  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model))


def upload(client, data: bytes, filename: str = "members.csv"):  # type: ignore[no-untyped-def]
    return client.post(
        "/members/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def sample_id_numbers() -> list[str]:
    """The ID numbers in the sample file, as written and in the other letter case."""
    numbers = [row["身份证号"] for row in read_table(SAMPLE.read_bytes(), SAMPLE.name)]
    return [v for n in numbers if n for v in {n, n.upper(), n.lower()}]


def stored_uploads(app) -> list[Path]:  # type: ignore[no-untyped-def]
    folder = Path(app.instance_path) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_upload_shows_a_dry_run_then_apply_creates_the_members(app, client, auth):
    auth.login()
    members, events = count(app, Member), count(app, AuditEvent)
    form = client.get("/members/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and '<label for="file">' in form

    dry = upload(client, SAMPLE.read_bytes(), SAMPLE.name)
    assert dry.status_code == 200
    page = dry.get_data(as_text=True)
    assert "20269001" in page and "周建国" in page and "20269010" in page
    assert "11010519491231002X" not in page
    assert (count(app, Member), count(app, AuditEvent)) == (members, events)
    token = TOKEN_ACTION.search(page).group(1)
    # What Apply needs is kept, owner-only, without the upload itself or any ID number in clear.
    kept = stored_uploads(app)
    assert [p.name for p in kept] == [f"{token}.checked.json"]
    assert stat.S_IMODE(kept[0].parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert sample_id_numbers() and not any(n in kept[0].read_text() for n in sample_id_numbers())

    applied = client.post(f"/members/import/{token}/apply")
    assert applied.status_code == 302
    assert applied.headers["Location"].endswith("/members/")
    assert count(app, Member) == members + 10
    assert count(app, AuditEvent) == events + 11  # ten member.create and one import.apply
    assert stored_uploads(app) == []
    listing = client.get(applied.headers["Location"]).get_data(as_text=True)
    assert "10" in listing and 'class="flash notice"' in listing


def test_an_applied_upload_cannot_be_applied_twice(app, client, auth):
    auth.login()
    token = TOKEN_ACTION.search(upload(client, SAMPLE.read_bytes()).get_data(as_text=True))[1]
    assert client.post(f"/members/import/{token}/apply").status_code == 302
    members = count(app, Member)
    again = client.post(f"/members/import/{token}/apply")
    assert again.status_code == 302 and again.headers["Location"].endswith("/members/import")
    assert count(app, Member) == members


def test_another_organiser_cannot_apply_someone_elses_upload(app, client, auth):
    with db.transaction(app) as s:
        committee = s.scalars(select(Unit).where(Unit.code == "C01")).one()
        create_user(
            s, Actor.system(), username="organiser2", password="another-organiser",
            role="organiser", unit=committee,
        )  # fmt: skip
    auth.login()
    token = TOKEN_ACTION.search(upload(client, SAMPLE.read_bytes()).get_data(as_text=True))[1]
    auth.logout()
    auth.login("organiser2", "another-organiser")
    members = count(app, Member)
    assert client.post(f"/members/import/{token}/apply").status_code == 302
    assert count(app, Member) == members
    auth.logout()
    auth.login()
    assert client.post(f"/members/import/{token}/apply").status_code == 302
    assert count(app, Member) == members + 10


def test_a_broken_file_shows_its_rows_and_columns_with_422(app, client, auth):
    auth.login()
    members, events = count(app, Member), count(app, AuditEvent)
    data = (
        f"{HEADER}\n"
        "90000001,好人,男,,2001-07-01,正式,B01-G1,否,,\n"
        "90000002,<script>alert(1)</script>,女,,2001-02-30,正式,B09,否,,\n"
    ).encode("gb18030")
    response = upload(client, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    cells = re.findall(r'<tr class="error"><td>(\d+)</td><td>([^<]+)</td>', page)
    assert cells == [("3", "姓名"), ("3", "入党日期"), ("3", "所在单位")]
    assert "<script>alert(1)" not in page
    assert TOKEN_ACTION.search(page) is None
    assert stored_uploads(app) == []
    assert (count(app, Member), count(app, AuditEvent)) == (members, events)


@pytest.mark.parametrize(
    ("data", "filename", "cell"),
    [
        ("x".encode("utf-16"), "members.csv", None),
        (b"", "members.csv", None),
        (f"{HEADER},remarks\n".encode(), "members.csv", ("1", "remarks")),
    ],
    ids=["utf-16", "empty", "unknown-column"],
)
def test_an_unreadable_file_is_refused_with_422(app, client, auth, data, filename, cell):
    auth.login()
    response = upload(client, data, filename)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="flash error"' in page
    if cell:
        assert f'<tr class="error"><td>{cell[0]}</td><td>{cell[1]}</td>' in page


def test_a_post_without_a_file_is_refused(client, auth):
    auth.login()
    response = client.post("/members/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_uploading_an_unchanged_export_offers_nothing_to_apply(app, client, auth):
    auth.login()
    exported = client.get("/members/export.xlsx").data
    response = upload(client, exported, "members.xlsx")
    assert response.status_code == 200
    assert TOKEN_ACTION.search(response.get_data(as_text=True)) is None
    assert stored_uploads(app) == []


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_export_downloads_a_file_that_reads_back_unchanged(
    app, client, auth, fmt, content_type, lang
):
    client.set_cookie("lang", lang)
    auth.login()
    response = client.get(f"/members/export.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    filename = f"members-{date.today():%Y%m%d}.{fmt}"
    assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_table(response.data, filename)
    assert len(rows) == count(app, Member) == 120
    assert rows[0][ROW] == 2
    assert ("党员编号" in rows[0]) == (lang == "zh")
    with app.app_context():
        s = db.session()
        committee = s.scalars(select(Unit).where(Unit.code == "C01")).one()
        report = plan_import(s, committee, rows, app.config["ID_HASH_KEY"])
    assert (report.errors, report.created, report.updated, report.unchanged) == ([], [], {}, 120)
    with app.app_context():
        action = db.session().scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()))
        assert action.first() == "member.export"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/members/import"),
        ("post", "/members/import"),
        ("post", "/members/import/" + "a" * 32 + "/apply"),
        ("get", "/members/export.csv"),
        ("get", "/members/export.xlsx"),
    ],
)
def test_a_secretary_gets_403(client, auth, method, path):
    auth.as_secretary()
    assert getattr(client, method)(path).status_code == 403


@pytest.mark.parametrize("path", ["/members/import", "/members/export.csv"])
def test_a_visitor_is_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
