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
