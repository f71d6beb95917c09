"""The command line says what it did: its version, where served codes point, what an import
with errors would have done, and a confirmation before letters reset PINs."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from gunicorn.app.base import BaseApplication
from sqlalchemy import select

from qrservice import db
from qrservice.cli import main
from qrservice.models import Member, Unit
from qrservice.org.issuance import active_card
from tests.conftest import make_app


def test_version_is_printed(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"qrservice, version {version('qrservice')}"


@pytest.fixture
def served(monkeypatch):
    """Runs ``qrservice serve`` up to gunicorn's start and records the app it would serve."""
    apps = []

    def run(self):  # type: ignore[no-untyped-def]
        apps.append(self.load())

    monkeypatch.setattr(BaseApplication, "run", run)
    monkeypatch.delenv("QRSERVICE_BASE_URL", raising=False)
    return apps


def test_serve_on_another_port_points_codes_at_that_port(runner, served):
    result = runner.invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served[0].config["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert "codes point at http://127.0.0.1:8123" in result.output


def test_serve_on_every_interface_points_codes_at_a_reachable_address(runner, served):
    result = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8124"])
    assert result.exit_code == 0, result.output
    url = served[0].config["PUBLIC_BASE_URL"]
    assert url.startswith("http://") and url.endswith(":8124") and "0.0.0.0" not in url


def test_serve_keeps_a_configured_base_url(runner, served, monkeypatch):
    monkeypatch.setenv("QRSERVICE_BASE_URL", "https://cards.example.org")
    result = runner.invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served[0].config["PUBLIC_BASE_URL"] == "https://cards.example.org"


def test_an_import_with_errors_says_what_it_would_have_done(runner, tmp_path, app):
    exported = tmp_path / "members.csv"
    assert runner.invoke(main, ["export-members", str(exported)]).exit_code == 0
    header, first, *rest = exported.read_text(encoding="utf-8-sig").splitlines()
    cells = first.split(",")
    cells[3] = "13900000099"  # a new phone number: one update
    broken = rest[0].split(",")
    broken[2] = "不详"  # not a gender: one error
    changed = tmp_path / "changed.csv"
    changed.write_text("\n".join([header, ",".join(cells), ",".join(broken)]), encoding="utf-8")
    result = runner.invoke(main, ["import-members", str(changed)])
    assert result.exit_code != 0
    assert "would update 1" in result.output and "errors 1" in result.output
    assert "updated 1" not in result.output.replace("would update 1", "")
    assert "Nothing was imported" in result.output


def pin_hashes(app, code: str) -> list[str | None]:
    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == code))
        members = s.scalars(select(Member).where(Member.unit_id == unit.id).order_by(Member.id))
        return [active_card(s, m.id).pin_hash for m in members]


def test_letters_ask_before_resetting_pins(runner, tmp_path, data_dir):
    app = make_app(data_dir)
    before = pin_hashes(app, "B04-G1")
    out = tmp_path / "letters.pdf"
    declined = runner.invoke(main, ["letters", "--unit", "B04-G1", "-o", str(out)], input="n\n")
    assert declined.exit_code != 0
    assert "15 members get a new PIN" in declined.output
    assert not out.exists() and pin_hashes(app, "B04-G1") == before
    done = runner.invoke(main, ["letters", "--unit", "B04-G1", "-o", str(out)], input="y\n")
    assert done.exit_code == 0, done.output
    assert "15 letters" in done.output and pin_hashes(app, "B04-G1") != before
    db.engine_of(app).dispose()
