"""Shared fixtures: an app on a fresh database per test, a client, a CLI runner, logins.

The suite runs on SQLite (the default) or on PostgreSQL: ``pytest --db postgresql`` (or
``TEST_DB=postgresql``). PostgreSQL is the server ``TEST_DATABASE_URL`` names, else a
throw-away cluster started for the session (tests/databases.py). When PostgreSQL is asked for
and cannot be had, every test that needs a database fails and says why: it never skips.

The demo organisation is built once per session through the real migrations; every test gets
its own copy of it: the data folder (instance secrets and signing keys) is copied, and so is
the database (the SQLite file inside the folder, or ``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from qrservice import create_app, db, schema
from qrservice.demo import ORGANISER, SECRETARY_PASSWORD, build_demo
from tests.databases import APPS, DATABASE_URLS, Databases, PostgresUnavailable, throwaway_cluster

TEST_CONFIG = {"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "TESTING": True}
#: The demo is built as of today: its meeting open "now" must be open while the tests run.
DEMO_TODAY = date.today()
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=BACKENDS,
        default=os.environ.get("TEST_DB") or "sqlite",
        help="database to run the suite on (default: $TEST_DB, else sqlite); PostgreSQL is "
        "$TEST_DATABASE_URL, else a throw-away cluster of Debian's binaries",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--db") not in BACKENDS:
        raise pytest.UsageError(f"TEST_DB must be one of {', '.join(BACKENDS)}")
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): checks something only SQLite has; skipped with that reason "
        "when the suite runs on PostgreSQL",
    )


def pytest_report_header(config: pytest.Config) -> str:
    backend = config.getoption("--db")
    if backend == "postgresql":
        where = "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else "throw-away"
        return f"database: postgresql ({where})"
    return "database: sqlite"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "sqlite":
        return
    for item in items:
        if (marker := item.get_closest_marker("sqlite_only")) is not None:
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database the suite runs on: sqlite or postgresql."""
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def pg(backend: str) -> Iterator[Databases | None]:
    """The PostgreSQL server's databases for this run, or None on SQLite."""
    if backend != "postgresql":
        yield None
        return
    with ExitStack() as stack:
        try:
            server = os.environ.get("TEST_DATABASE_URL") or stack.enter_context(throwaway_cluster())
            databases = Databases(server)
        except PostgresUnavailable as exc:
            pytest.fail(f"PostgreSQL was asked for and cannot be had: {exc}", pytrace=False)
        stack.callback(databases.close)
        yield databases


@pytest.fixture
def empty_database_url(pg: Databases | None, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the suite's kind, dropped after the test."""
    if pg is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = pg.create("empty")
    try:
        yield pg.url(name)
    finally:
        pg.drop(name)


def database_url(data_dir: Path) -> str:
    """The database of a test's data folder: its PostgreSQL copy, else the SQLite file in it."""
    return DATABASE_URLS.get(data_dir.resolve(), f"sqlite:///{data_dir / 'qrservice.db'}")


def make_app(data_dir: Path, **overrides: object) -> Flask:
    config = {**TEST_CONFIG, "DATABASE_URL": database_url(data_dir)}
    config.update(overrides)
    app = create_app(config, data_dir=data_dir)
    APPS.setdefault(data_dir.resolve(), []).append(app)
    return app


def dispose_apps(data_dir: Path) -> None:
    """Close the connections of every app made on this folder."""
    for app in APPS.pop(data_dir.resolve(), []):
        db.engine_of(app).dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, pg: Databases | None) -> Path:
    folder = tmp_path_factory.mktemp("demo-template")
    if pg is not None:
        DATABASE_URLS[folder.resolve()] = pg.url(pg.create("demo"))
    app = make_app(folder)
    schema.upgrade(db.engine_of(app))
    from qrservice.signing_keys import key_ring

    with app.app_context(), db.transaction(app) as s:
        build_demo(s, app.config["ID_HASH_KEY"], DEMO_TODAY, ring=key_ring())
    # A template database must have no connection left when it is copied.
    dispose_apps(folder)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, demo_template: Path, pg: Databases | None) -> Iterator[Path]:
    """This test's data folder, with its own copy of the demo database."""
    folder = tmp_path / "data"
    shutil.copytree(demo_template, folder)
    name = None
    if pg is not None:
        name = pg.create("t", template=make_url(database_url(demo_template)).database)
        DATABASE_URLS[folder.resolve()] = pg.url(name)
    try:
        yield folder
    finally:
        dispose_apps(folder)
        if pg is not None and name is not None:
            del DATABASE_URLS[folder.resolve()]
            pg.drop(name)


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    app = make_app(data_dir)
    try:
        yield app
    finally:
        db.engine_of(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def empty_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_database_url: str):  # type: ignore[no-untyped-def]
    """A CLI runner on a database that holds nothing, not even its tables (a fresh install)."""
    from click.testing import CliRunner

    monkeypatch.setenv("QRSERVICE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    return CliRunner()


@pytest.fixture
def runner(data_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    monkeypatch.setenv("QRSERVICE_DATA", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", database_url(data_dir))
    return CliRunner()


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str = ORGANISER[0], password: str = ORGANISER[1]):  # type: ignore[no-untyped-def]
        return self.client.post("/login", data={"username": username, "password": password})

    def as_secretary(self, branch: int = 1):  # type: ignore[no-untyped-def]
        return self.login(f"secretary{branch}", SECRETARY_PASSWORD)

    def logout(self):  # type: ignore[no-untyped-def]
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
