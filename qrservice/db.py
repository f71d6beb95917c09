"""Database engine, session and the one commit boundary of a request.

Business functions add and flush; they never commit. A request commits once, after its
view returned a non-error response, and rolls back on any exception or error status.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: Stable constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite files get WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 15})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _tune_sqlite(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins, so that
    # BEGIN IMMEDIATE below really takes the write lock.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _begin_sqlite(conn: Any) -> None:
    immediate = conn.get_execution_options().get("begin_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_writer_locks: dict[str, int] = {}


def _writer_lock(s: Session) -> int | None:
    """This process's descriptor of the SQLite file's writer lock (a file beside it)."""
    url = s.get_bind().url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    fd = _writer_locks.get(url.database)
    if fd is None:
        fd = os.open(url.database + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        _writer_locks[url.database] = fd
    return fd


@event.listens_for(Session, "after_transaction_end")
def _release_writer_lock(s: Session, transaction: Any) -> None:
    if transaction.parent is None and (fd := s.info.pop("writer_lock", None)) is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def begin_write(s: Session) -> None:
    """Begin the session's transaction as a writer, before it reads anything.

    On SQLite this takes the write lock at once (BEGIN IMMEDIATE), so a read-then-write
    operation such as a check-in waits its turn instead of failing on a stale snapshot.
    PostgreSQL needs nothing: its row locks and unique constraints do the work.
    """
    if s.in_transaction():
        raise RuntimeError("begin_write must come before the session's first statement")
    # SQLite's own wait for its write lock sleeps 1, 2, 5, 10 ... ms between tries, far longer
    # than a check-in holds the lock: writers queue on a file lock instead, which wakes the
    # next one the moment the lock is free. It only orders processes (gunicorn's workers;
    # threads of one process share the descriptor): correctness rests on BEGIN IMMEDIATE.
    fd = _writer_lock(s)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        s.info["writer_lock"] = fd
    try:
        s.connection(execution_options={"begin_immediate": True})
    except BaseException:
        if s.info.pop("writer_lock", None) is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        raise


def init_engine(app: Flask) -> Engine:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    return engine


def engine_of(app: Flask) -> Engine:
    return app.extensions["db_engine"]


def new_session() -> Session:
    """A session apart from the request's, for reads that must not open its transaction."""
    from flask import current_app

    return current_app.extensions["db_sessionmaker"]()


def session() -> Session:
    """The current request's (or app context's) session, created on first use.

    Requests other than GET, HEAD and OPTIONS begin as writers (see ``begin_write``).
    """
    if "db_session" not in g:
        from flask import current_app, has_request_context, request

        s = current_app.extensions["db_sessionmaker"]()
        if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
            # A request that may write takes SQLite's write lock at its first statement,
            # so concurrent read-then-write requests queue instead of failing.
            begin_write(s)
        g.db_session = s
    return g.db_session


@contextmanager
def transaction(app: Flask) -> Iterator[Session]:
    """A unit of work outside a request (CLI, tests): commit on success, roll back on error."""
    with app.extensions["db_sessionmaker"]() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


def init_app(app: Flask) -> None:
    init_engine(app)

    @app.after_request
    def _commit(response):  # type: ignore[no-untyped-def]
        s = g.pop("db_session", None)
        if s is not None:
            try:
                if response.status_code < 400:
                    s.commit()
                else:
                    s.rollback()
            finally:
                s.close()
        return response

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            s.rollback()
            s.close()
