"""Import's Apply: it plans outside the write lock and writes in a few statements; what it keeps
between the dry run and Apply holds no ID number in clear and does not outlive its use; a dry
run tells nothing about members outside the importer's units."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update

from qrservice import db
from qrservice.audit import Actor
from qrservice.models import AuditEvent, Member, Unit
from qrservice.org import members_io
from qrservice.org.accounts import create_user
from qrservice.org.members import hash_national_id
from qrservice.org.views import members_io as views
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, nonce, open_meeting_id

TOKEN_ACTION = re.compile(r'action="/members/import/([A-Za-z0-9_-]{32})/apply"')
HEADER = (
    "党员编号,姓名,性别,手机,入党日期,党员类别,所在单位,流动党员,流动地点,流动开始日期,身份证号"
)
VALID_ID = "11010519491231002X"
OTHER_ID = "110101199003070011"  # a valid check digit, held by nobody


def member_line(number: str, unit: str = "B01-G1", national_id: str = "", name: str = "") -> str:
    return (
        f"{number},{name or '新成员' + number[-3:]},男,,2001-07-01,正式,{unit},否,,,{national_id}"
    )


def csv_file(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def upload(client, data: bytes, filename: str = "members.csv"):  # type: ignore[no-untyped-def]
    return client.post(
        "/members/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def token_of(response) -> str:  # type: ignore[no-untyped-def]
    found = TOKEN_ACTION.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:2000]
    return found.group(1)


def imports_dir(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.instance_path) / "imports"


def count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def organiser(client, auth):
    auth.login()
    return client


def branch_organiser(app, client):  # type: ignore[no-untyped-def]
    """An organiser whose units are branch B01 only."""
    with db.transaction(app) as s:
        b01 = s.scalars(select(Unit).where(Unit.code == "B01")).one()
        create_user(
            s, Actor.system(), username="org-b01", password="organiser-of-b01",
            role="organiser", unit=b01,
        )  # fmt: skip
    client.post("/login", data={"username": "org-b01", "password": "organiser-of-b01"})
    return client


def b02_member(app) -> tuple[int, str]:
    with app.app_context():
        s = db.session()
        b02 = s.scalars(select(Unit).where(Unit.code == "B02")).one()
        member = s.scalars(
            select(Member).join(Member.unit).where(Unit.path.startswith(b02.path))
        ).first()
        return member.id, member.number


# A dry run tells nothing about members outside the importer's units


def test_an_id_number_held_outside_my_units_reads_like_an_unknown_one(app, client):
    member_id, _number = b02_member(app)
    with app.app_context():
        s = db.session()
        digest = hash_national_id(app.config["ID_HASH_KEY"], VALID_ID)
        s.execute(update(Member).where(Member.id == member_id).values(id_hash=digest))
        s.commit()
    branch_organiser(app, client)
    pages = []
    for national_id in (VALID_ID, OTHER_ID):
        response = upload(client, csv_file(member_line("90000001", national_id=national_id)))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        pages.append(TOKEN_ACTION.sub("", page).replace(national_id, "ID"))
    assert pages[0] == pages[1]


def test_an_id_number_held_by_another_member_of_my_units_is_refused(app, client):
    with app.app_context():
        s = db.session()
        digest = hash_national_id(app.config["ID_HASH_KEY"], VALID_ID)
        s.execute(update(Member).where(Member.number == "20260002").values(id_hash=digest))
        s.commit()
    branch_organiser(app, client)
    response = upload(client, csv_file(member_line("90000001", national_id=VALID_ID)))
    assert response.status_code == 422
    assert re.search(
        r'<tr class="error"><td>2</td><td>身份证号</td>', response.get_data(as_text=True)
    )


def test_a_member_number_used_outside_my_units_is_refused_without_saying_where(app, client):
    _member_id, number = b02_member(app)
    branch_organiser(app, client)
    client.set_cookie("lang", "en")
    response = upload(client, csv_file(member_line(number)))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'<tr class="error"><td>2</td><td>党员编号</td><td>member number', page)
    with app.app_context():
        s = db.session()
        member = s.scalars(select(Member).where(Member.number == number)).one()
        where = [member.unit.code, member.unit.name, member.name]
    assert not any(text in page for text in where)
    assert "outside" not in page and "B02" not in page


# What is kept between the dry run and Apply


def test_expired_abandoned_and_old_uploads_are_swept_without_a_new_upload(app, organiser):
    token = token_of(upload(organiser, csv_file(member_line("90000001", national_id=VALID_ID))))
    folder = imports_dir(app)
    kept = folder / f"{token}.checked.json"
    old_raw = folder / ("r" * 32)  # an upload kept whole by an earlier version
    old_raw.write_bytes(csv_file(member_line("90000002", national_id=VALID_ID)))
    expired = folder / ("e" * 32 + ".checked.json")
    expired.write_text("{}")
    an_hour_and_more = time.time() - views.UPLOAD_TTL - 60
    os.utime(expired, (an_hour_and_more, an_hour_and_more))
    views._last_sweep.clear()  # as if the last sweep were long ago
    assert organiser.get("/healthz").status_code == 200  # any request, no upload
    assert sorted(p.name for p in folder.iterdir()) == [kept.name]


def test_an_expired_upload_cannot_be_applied_and_is_deleted(app, organiser, monkeypatch):
    token = token_of(upload(organiser, csv_file(member_line("90000001"))))
    monkeypatch.setattr(views, "UPLOAD_TTL", -1)
    response = organiser.post(f"/members/import/{token}/apply")
    assert response.status_code == 302 and response.headers["Location"].endswith("/members/import")
    assert count(app, Member, Member.number == "90000001") == 0
    assert list(imports_dir(app).iterdir()) == []


@contextmanager
def a_long_write(backend: str, data_dir: Path, app, number: str):  # type: ignore[no-untyped-def]
    """Another process's long write: on SQLite it holds the writers' file lock, on PostgreSQL
    the row of member ``number``."""
    if backend == "sqlite":
        fd = os.open(str(data_dir / "qrservice.db") + "-writer.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    with db.engine_of(app).connect() as conn, conn.begin():
        conn.execute(select(Member.id).where(Member.number == number).with_for_update())
        yield


def test_a_dry_run_needs_no_lock_while_another_write_goes_on(app, data_dir, backend):
    busy = make_app(data_dir, WRITE_LOCK_TIMEOUT=0.2)
    organiser = busy.test_client()
    organiser.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    lines = [member_line("90000001"), member_line("20260003", name="新名字")]
    with a_long_write(backend, data_dir, app, "20260003"):
        response = upload(organiser, csv_file(*lines))
    assert response.status_code == 200
    token_of(response)


def test_an_apply_that_fails_keeps_the_upload_for_another_try(app, data_dir, backend):
    busy = make_app(data_dir, WRITE_LOCK_TIMEOUT=0.2)
    organiser = busy.test_client()
    organiser.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    lines = [member_line("90000001"), member_line("20260003", name="新名字")]
    token = token_of(upload(organiser, csv_file(*lines)))
    with a_long_write(backend, data_dir, app, "20260003"):
        response = organiser.post(f"/members/import/{token}/apply")
    assert response.status_code == 503
    assert count(app, Member, Member.number == "90000001") == 0
    assert organiser.post(f"/members/import/{token}/apply").status_code == 302
    assert count(app, Member, Member.number == "90000001") == 1
    assert count(app, Member, Member.name == "新名字") == 1
    assert list(imports_dir(app).iterdir()) == []


# Apply: plan without the lock, write briefly


@pytest.mark.sqlite_only("the writers' file lock")
def test_apply_plans_without_the_write_lock_while_check_ins_go_on(app, data_dir, organiser):
    token = token_of(upload(organiser, csv_file(member_line("90000001"))))
    scanner = make_app(data_dir, WRITE_LOCK_TIMEOUT=1).test_client()
    scanner.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    meeting, code = open_meeting_id(app), card_url_of(app, "20260001")
    seen = []
    real = members_io.plan_checked

    def plan_while_checking_in(*args, **kwargs):  # type: ignore[no-untyped-def]
        fd = os.open(str(data_dir / "qrservice.db") + "-writer.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody writes now
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        answer = scanner.post(
            f"/api/v1/meetings/{meeting}/checkins", json={"code": code, "nonce": nonce()}
        )
        seen.append(answer.status_code)
        return real(*args, **kwargs)

    import qrservice.org.views.members_io as view_module

    original = view_module.members_io.plan_checked
    view_module.members_io.plan_checked = plan_while_checking_in
    try:
        assert organiser.post(f"/members/import/{token}/apply").status_code == 302
    finally:
        view_module.members_io.plan_checked = original
    assert seen == [200]
    assert count(app, Member, Member.number == "90000001") == 1


def test_apply_writes_a_thousand_members_in_a_few_statements(app, organiser, monkeypatch):
    lines = [member_line(f"9{i:07d}", unit=("B01-G1", "B02-G1")[i % 2]) for i in range(1000)]
    token = token_of(upload(organiser, csv_file(*lines)))
    statements = []
    real = members_io.write_plan

    def counted(s, *args, **kwargs):  # type: ignore[no-untyped-def]
        def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            statements.append(statement)

        engine = db.engine_of(app)
        event.listen(engine, "before_cursor_execute", note)
        try:
            return real(s, *args, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", note)

    monkeypatch.setattr(members_io, "write_plan", counted)
    events = count(app, AuditEvent)
    assert organiser.post(f"/members/import/{token}/apply").status_code == 302
    assert count(app, Member, Member.number.like("9%")) == 1000
    assert count(app, AuditEvent) == events + 1001
    assert len(statements) <= 15, statements


def test_a_member_changed_between_plan_and_write_is_planned_again(app, organiser, monkeypatch):
    token = token_of(upload(organiser, csv_file(member_line("20260003", name="新名字"))))
    real = members_io.plan_checked
    plans = []

    def plan_then_someone_edits(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real(*args, **kwargs)
        plans.append(plan)
        if len(plans) == 1:  # an organiser saves the member's phone meanwhile
            with db.transaction(app) as s:
                s.execute(
                    update(Member).where(Member.number == "20260003").values(phone="13700000000")
                )
        return plan

    monkeypatch.setattr(members_io, "plan_checked", plan_then_someone_edits)
    assert organiser.post(f"/members/import/{token}/apply").status_code == 302
    assert len(plans) == 2
    with app.app_context():
        member = db.session().scalars(select(Member).where(Member.number == "20260003")).one()
        # The file's name, and the phone saved meanwhile (the file says nothing new about it:
        # its phone cell is blank, so the second plan changes that too, as the dry run said).
        assert member.name == "新名字"
        audit = db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == "member.update",
                                     AuditEvent.entity_id == member.id)
        ).all()  # fmt: skip
        assert len(audit) == 1
        assert json.loads(audit[0].after) == {
            "name": "新名字",
            "phone": None,
            "joined_on": "2001-07-01",
        }
