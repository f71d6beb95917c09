"""Writers wait their turn for a bounded time, and reads that record something never fail
because a check-in committed meanwhile: real concurrent writers on a real SQLite file."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from qrservice import db
from qrservice.models import AuditEvent, Card
from qrservice.org import members_io
from tests.conftest import make_app
from tests.scanhelpers import card_url_of, nonce, open_meeting_id

pytestmark = pytest.mark.sqlite_only("the writers' file lock and SQLite's write lock")

REGULAR = "20260001"


@contextmanager
def another_writer(data_dir: Path, sqlite_lock: bool = True) -> Iterator[None]:
    """Another process's long write: the writers' file lock (a descriptor of its own, as
    another gunicorn worker has) and, unless told otherwise, SQLite's write lock too."""
    path = str(data_dir / "qrservice.db")
    fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if sqlite_lock:
            conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def within(seconds: float, call):  # type: ignore[no-untyped-def]
    """call() in a thread; its result, or a failure if it is still waiting after ``seconds``."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return out[0]


def test_a_writer_waits_a_bounded_time_then_answers_busy(data_dir):
    app = make_app(data_dir, WRITE_LOCK_TIMEOUT=0.3)
    client = app.test_client()
    client.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    with another_writer(data_dir):
        started = time.monotonic()
        response = within(
            5,
            lambda: client.post(
                f"/api/v1/meetings/{meeting}/checkins", json={"code": code, "nonce": nonce()}
            ),
        )
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "error" and body["reason"] == "busy"
    assert 0.3 <= waited < 3
    # The turn comes once the other writer is done.
    response = client.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"code": code, "nonce": nonce()}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_a_page_that_writes_answers_busy_with_a_page(data_dir):
    app = make_app(data_dir, WRITE_LOCK_TIMEOUT=0.2)
    client = app.test_client()
    client.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    meeting = open_meeting_id(app)
    with another_writer(data_dir):
        close, english = {"confirm": "yes"}, {"Accept-Language": "en"}
        response = within(
            5, lambda: client.post(f"/meetings/{meeting}/close", data=close, headers=english)
        )
    assert response.status_code == 503
    assert "busy" in response.get_data(as_text=True)


def test_healthz_answers_while_a_long_write_holds_every_lock(data_dir):
    app = make_app(data_dir, WRITE_LOCK_TIMEOUT=30)
    client = app.test_client()
    with another_writer(data_dir):
        response = within(2, lambda: client.get("/healthz"))
    assert response.status_code == 200 and response.get_data() == b"ok"


def test_export_while_a_check_in_commits_records_its_audit_row(app, data_dir, monkeypatch):
    """The export reads, a scanner's check-in commits, then the export records itself."""
    organiser = app.test_client()
    organiser.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    scanner = make_app(data_dir).test_client()
    scanner.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    meeting = open_meeting_id(app)
    code = card_url_of(app, REGULAR)
    answers = []
    real_export = members_io.export_members

    def export_then_a_check_in(*args, **kwargs):  # type: ignore[no-untyped-def]
        data = real_export(*args, **kwargs)
        body = {"code": code, "nonce": nonce()}
        scan = threading.Thread(
            target=lambda: answers.append(
                scanner.post(f"/api/v1/meetings/{meeting}/checkins", json=body).get_json()
            )
        )
        scan.start()
        scan.join(10)
        return data

    monkeypatch.setattr(members_io, "export_members", export_then_a_check_in)
    for fmt in ("csv", "xlsx"):
        response = organiser.get(f"/members/export.{fmt}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert [a["status"] for a in answers] == ["ok", "refused"]
    with app.app_context():
        exports = db.session().scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "member.export")
        )
    assert exports == 2


def test_card_image_is_served_while_a_long_write_holds_the_lock(app, data_dir):
    """Keeping the encoded code is a short write after the read, skipped when the lock is busy."""
    token = card_url_of(app, REGULAR).rsplit("/", 1)[1]
    with app.app_context():
        s = db.session()
        s.execute(update(Card).where(Card.token == token).values(qr=None, qr_url=None))
        s.commit()
    busy_app = make_app(data_dir, WRITE_LOCK_TIMEOUT=0.2)
    client = busy_app.test_client()
    with another_writer(data_dir):
        response = within(5, lambda: client.get(f"/c/{token}/card.svg"))
    assert response.status_code == 200 and b"<svg" in response.get_data()
    # With the lock free, the code is kept for next time.
    assert client.get(f"/c/{token}/card.png").status_code == 200
    with app.app_context():
        kept = db.session().scalar(select(Card.qr).where(Card.token == token))
    assert kept is not None
