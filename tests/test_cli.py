"""The qrservice command: init-db, demo, create-user, help, and the secrets it keeps."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from qrservice.cli import main


@pytest.fixture
def empty_runner(tmp_path, monkeypatch, empty_database_url):
    monkeypatch.setenv("QRSERVICE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    return CliRunner()


def test_demo_on_an_empty_machine_then_again_keeps_the_data(empty_runner, tmp_path):
    first = empty_runner.invoke(main, ["demo"])
    assert first.exit_code == 0, first.output
    assert "120 members (12 floating)" in first.output
    assert "organiser / demo-organiser-2026" in first.output
    second = empty_runner.invoke(main, ["demo"])
    assert second.exit_code == 0
    assert "already holds an organisation" in second.output
    again = empty_runner.invoke(main, ["init-db"])
    assert "up to date" in again.output
    secrets = tmp_path / "data" / "instance" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


def test_commands_refuse_an_uninitialised_database(empty_runner):
    result = empty_runner.invoke(
        main, ["create-user", "--username", "x", "--role", "organiser", "--unit", "C01"],
        input="password1\npassword1\n",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "qrservice init-db" in result.output


def test_create_user_then_log_in(runner, data_dir):
    result = runner.invoke(
        main,
        ["create-user", "--username", "sec9", "--role", "secretary", "--unit", "B03",
         "--password", "a-good-password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        main,
        ["create-user", "--username", "sec10", "--role", "secretary", "--unit", "C01",
         "--password", "a-good-password"],
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "unit" in bad.output

    from tests.conftest import make_app

    client = make_app(data_dir).test_client()
    response = client.post("/login", data={"username": "sec9", "password": "a-good-password"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "command", [[], ["init-db"], ["demo"], ["create-user"], ["import-members"],
                ["export-members"], ["serve"]],
)  # fmt: skip
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
