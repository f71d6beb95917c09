"""Shared fixtures: an app on a fresh SQLite file per test, a client, a CLI runner, logins.

The demo organisation is built once per session through the real migrations and copied
into each test's own folder, so every test starts from the same known data quickly.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from qrservice import create_app, db, schema
from qrservice.demo import ORGANISER, SECRETARY_PASSWORD, build_demo

TEST_CONFIG = {"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "TESTING": True}
#: The demo is built as of today: its meeting open "now" must be open while the tests run.
DEMO_TODAY = date.today()


def make_app(data_dir: Path, **overrides: object) -> Flask:
    config = {**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{data_dir / 'qrservice.db'}"}
    config.update(overrides)
    return create_app(config, data_dir=data_dir)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-template")
    app = make_app(folder)
    schema.upgrade(db.engine_of(app))
    from qrservice.signing_keys import key_ring

    with app.app_context(), db.transaction(app) as s:
        build_demo(s, app.config["ID_HASH_KEY"], DEMO_TODAY, ring=key_ring())
    db.engine_of(app).dispose()
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, demo_template: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(demo_template, folder)
    return folder


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
def runner(data_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    monkeypatch.setenv("QRSERVICE_DATA", str(data_dir))
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
