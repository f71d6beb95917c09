"""Migrations: upgrading an empty database (of the suite's kind) to head gives exactly the
models' schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from qrservice import schema
from qrservice.db import make_engine
from qrservice.models import Base


def test_upgrade_from_empty_to_head_equals_the_models(empty_database_url):
    engine = make_engine(empty_database_url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert schema.is_current(engine)
    engine.dispose()


def test_upgrade_twice_changes_nothing(empty_database_url):
    engine = make_engine(empty_database_url)
    schema.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    schema.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == tables
    engine.dispose()


@pytest.mark.sqlite_only("WAL, foreign keys and the busy timeout are SQLite connection settings")
def test_sqlite_connections_are_tuned(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15000
    engine.dispose()


def test_a_database_with_records_upgrades_from_before_the_administration(empty_database_url):
    """An installation of the issue-7 schema (0005), with members, a meeting, attendance,
    points and dues, reaches head keeping every record: on SQLite the tables rebuilt on the
    way (a dropped column, a new CHECK) are referenced by others, so foreign keys must not
    stop the copy, and every reference must still hold afterwards."""
    engine = make_engine(empty_database_url)
    schema.upgrade(engine, "0005")
    rows = [
        "INSERT INTO unit (id, kind, name, code, parent_id, path, created_at) VALUES "
        "(1, 'committee', '老党委', 'C01', NULL, '/1/', '2025-01-01 00:00:00'), "
        "(2, 'branch', '一支部', 'B01', 1, '/1/2/', '2025-01-01 00:00:00')",
        "INSERT INTO member (id, number, name, gender, joined_on, status, unit_id, floating, "
        "active, created_at, updated_at, dues_monthly_fen) VALUES (1, 'M1', '王一', 'male', "
        "'2001-07-01', 'full', 2, false, true, '2025-01-01 00:00:00', "
        "'2025-01-01 00:00:00', 1500)",
        "INSERT INTO meeting (id, unit_id, kind, title, starts_at, ends_at, place, "
        "remote_allowed, opens_before_min, closes_after_min, late_after_min, points, "
        "screen_code_ttl, status, created_by, created_at) VALUES (1, 2, 'theme_day', '主题党日', "
        "'2025-03-10 07:00:00', '2025-03-10 08:30:00', NULL, false, 30, 30, 10, 2, 30, "
        "'closed', 'cli', '2025-03-01 00:00:00')",
        "INSERT INTO attendance (meeting_id, member_id, status, via, checked_in_at, "
        "recorded_by) VALUES (1, 1, 'present', 'scan', '2025-03-10 07:01:00', 'cli')",
        "INSERT INTO points_entry (member_id, at, points, kind, meeting_id, reason, "
        "recorded_by) VALUES (1, '2025-03-10 07:00:00', 2, 'attendance', 1, '主题党日', 'cli')",
        "INSERT INTO dues_payment (member_id, first_month, months, amount_fen, method, "
        "receipt_no, paid_on, recorded_by, recorded_at) VALUES (1, '2025-03-01', 1, 1500, "
        "'cash', 'R-1', '2025-03-05', 'cli', '2025-03-05 00:00:00')",
    ]
    with engine.begin() as conn:
        for statement in rows:
            conn.execute(text(statement))
    schema.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, dues_tracked_from FROM organisation")).one()[0] == (
            "老党委"
        )
        assert conn.execute(text("SELECT member_id, amount_fen FROM dues_rate")).all() == [
            (1, 1500)
        ]
        assert conn.execute(text("SELECT count(*) FROM attendance")).scalar() == 1
        assert conn.execute(text("SELECT sum(points) FROM points_entry")).scalar() == 2
        assert conn.execute(text("SELECT status FROM meeting")).scalar() == "closed"
        assert conn.execute(text("SELECT receipt_no FROM dues_payment")).scalar() == "R-1"
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert schema.is_current(engine)
    engine.dispose()
