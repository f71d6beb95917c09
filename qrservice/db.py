"""Database engine, session and the one commit boundary of a request.

Business functions add and flush; they never commit. A request commits once, after its
view returned a non-error response, and rolls back on any exception or error status.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g, has_app_context, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: The largest id a database row can have: ids are INTEGER columns, 32 bits on PostgreSQL
#: (64 on SQLite). A larger number in a URL or a body names no row, and PostgreSQL would
#: refuse to even compare it with an id ("integer out of range").
MAX_ID = 2**31 - 1
#: Seconds a writer waits for its turn before the request is answered 503 "busy, try again".
WRITE_LOCK_TIMEOUT = 10.0


class WriteBusy(RuntimeError):
    """Another writer held the database longer than this one may wait: try again shortly."""


def parse_id(value: Any) -> int | None:
    """A row id from a form, a query string or a JSON body: a whole number from 1 to MAX_ID,
    else None. ASCII digits only (``"²".isdigit()`` is true, yet ``int("²")`` fails)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    if len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


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


def make_engine(url: str, lock_timeout: float = WRITE_LOCK_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine; SQLite files get WAL, foreign keys and a busy timeout on every connection.

    On PostgreSQL a statement waits for a row lock at most ``lock_timeout`` seconds (then
    LockNotAvailable, answered like SQLite's busy database: 503 "busy, try again").
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 15})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        kwargs.setdefault(
            "connect_args", {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"}
        )
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


def _flock_within(fd: int, timeout: float) -> bool:
    """Take the exclusive file lock, waiting at most ``timeout`` seconds; False if not had.

    flock has no timeout of its own: try without blocking, sleeping between tries. The first
    sleeps are a fraction of a check-in's hold on the lock, so the queue still moves at once.
    """
    deadline = time.monotonic() + timeout
    pause = 0.0002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.005)


def _is_busy(exc: OperationalError) -> bool:
    """Another writer kept a lock past our wait: SQLite's "database is locked", or
    PostgreSQL's lock timeout (SQLSTATE 55P03, lock_not_available)."""
    if getattr(exc.orig, "sqlstate", None) == "55P03":
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def write_lock_timeout() -> float:
    if has_app_context():
        from flask import current_app

        return float(current_app.config.get("WRITE_LOCK_TIMEOUT", WRITE_LOCK_TIMEOUT))
    return WRITE_LOCK_TIMEOUT


def begin_write(s: Session, timeout: float | None = None) -> None:
    """Begin the session's transaction as a writer, before it reads anything.

    On SQLite this takes the write lock at once (BEGIN IMMEDIATE), so a read-then-write
    operation such as a check-in waits its turn instead of failing on a stale snapshot.
    PostgreSQL needs nothing: its row locks and unique constraints do the work. A writer
    waits at most ``timeout`` seconds (``WRITE_LOCK_TIMEOUT``), then raises WriteBusy: a
    request answers 503 "busy, try again" rather than hang behind a long write.
    """
    if s.in_transaction():
        raise RuntimeError("begin_write must come before the session's first statement")
    timeout = write_lock_timeout() if timeout is None else timeout
    # SQLite's own wait for its write lock sleeps 1, 2, 5, 10 ... ms between tries, far longer
    # than a check-in holds the lock: writers queue on a file lock instead, tried every
    # fraction of a millisecond. It only orders processes (gunicorn's workers; threads of
    # one process share the descriptor): correctness rests on BEGIN IMMEDIATE.
    fd = _writer_lock(s)
    if fd is not None:
        if not _flock_within(fd, timeout):
            raise WriteBusy(f"the database is busy with another write (waited {timeout:g} s)")
        s.info["writer_lock"] = fd
    try:
        s.connection(execution_options={"begin_immediate": True})
    except BaseException as exc:
        s.rollback()
        if s.info.pop("writer_lock", None) is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if isinstance(exc, OperationalError) and _is_busy(exc):
            raise WriteBusy("the database is busy with another write") from exc
        raise


def _request_holds_write_turn() -> bool:
    outer = g.get("db_session") if has_app_context() else None
    return outer is not None and "writer_lock" in outer.info


@contextmanager
def write_transaction(timeout: float | None = None) -> Iterator[Session]:
    """A short write of its own, apart from the request's session: begun as a writer,
    committed on success. For a GET that must record something after reading (an export's
    audit row, a kept QR code): the long read never holds the lock, the write is short."""
    if _request_holds_write_turn():
        # Threads and sessions of one process share the file lock: this one's end would
        # release the request's. A request that writes already holds the turn: use its session.
        raise RuntimeError("write_transaction inside a request that writes; use db.session()")
    with new_session() as s:
        begin_write(s, timeout)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


def write_unless_busy(write: Callable[[Session], Any], timeout: float = 1.0) -> bool:
    """A best-effort short write of its own (a last-seen time, a refused use in the trail):
    skipped, returning False, when the database stays busy for ``timeout`` seconds or the
    request already holds the write turn (its own transaction may not be committed)."""
    if _request_holds_write_turn():
        return False
    try:
        with write_transaction(timeout) as s:
            write(s)
    except WriteBusy:
        return False
    return True


def init_engine(app: Flask) -> Engine:
    timeout = app.config.get("WRITE_LOCK_TIMEOUT", WRITE_LOCK_TIMEOUT)
    engine = make_engine(app.config["DATABASE_URL"], lock_timeout=timeout)
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


def busy_response() -> Any:
    """503 "busy, try again": JSON for the API, a page otherwise; Retry-After in both."""
    message = _("The service is busy with another change. Try again in a moment.")
    if request.path.startswith("/api/"):
        response = jsonify(status="error", reason="busy", message=message)
    else:
        response = render_template("error.html", code=503, message=message)
    return response, 503, {"Retry-After": "2", "Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    init_engine(app)
    app.config.setdefault("WRITE_LOCK_TIMEOUT", WRITE_LOCK_TIMEOUT)

    @app.after_request
    def _commit(response):  # type: ignore[no-untyped-def]
        s = g.pop("db_session", None)
        if s is not None:
            try:
                if response.status_code < 400:
                    s.commit()
                else:
                    s.rollback()
            except OperationalError as exc:
                # A read transaction that turned writer found the database written since
                # it began (SQLite's stale snapshot), or waited out the busy timeout.
                if not _is_busy(exc):
                    raise
                s.rollback()
                return app.make_response(busy_response())
            finally:
                s.close()
        return response

    @app.errorhandler(WriteBusy)
    def _busy(exc: WriteBusy) -> Any:
        return busy_response()

    @app.errorhandler(OperationalError)
    def _locked(exc: OperationalError) -> Any:
        if _is_busy(exc):
            return busy_response()
        raise exc

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        s = g.pop("db_session", None)
        if s is not None:
            s.rollback()
            s.close()
