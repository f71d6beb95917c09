"""The organisation's time zone: Asia/Shanghai unless configured; every local day, month and
time shown follows it, daylight saving included, and a zone that does not exist is refused at
start-up with the setting named."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qrservice.config import ConfigError
from qrservice.timeutil import DEFAULT_ZONE, from_local, local_time, set_zone
from tests.conftest import make_app
from tests.scanhelpers import new_meeting

EN = {"Accept-Language": "en"}


@pytest.fixture
def london(data_dir):  # type: ignore[no-untyped-def]
    app = make_app(data_dir, TIME_ZONE="Europe/London")
    try:
        yield app
    finally:
        set_zone(DEFAULT_ZONE)  # the zone is the process's: leave it as other tests expect


def test_the_default_zone_puts_a_late_utc_evening_on_the_next_local_day():
    assert local_time(datetime(2026, 12, 31, 16, 30)) == datetime(2027, 1, 1, 0, 30)
    assert from_local(datetime(2027, 1, 1, 0, 30)) == datetime(2026, 12, 31, 16, 30)


def test_a_configured_zone_follows_daylight_saving(london):
    assert local_time(datetime(2026, 7, 1, 12, 0)) == datetime(2026, 7, 1, 13, 0)
    assert local_time(datetime(2026, 1, 15, 12, 0)) == datetime(2026, 1, 15, 12, 0)
    assert from_local(datetime(2026, 7, 1, 13, 0)) == datetime(2026, 7, 1, 12, 0)


def test_pages_show_times_in_the_configured_zone(london):
    client = london.test_client()
    starts = datetime(2026, 7, 1, 12, 0)
    meeting = new_meeting(london, "B01", opened=False, starts_at=starts,
                          ends_at=starts + timedelta(hours=1))  # fmt: skip
    client.post("/login", data={"username": "organiser", "password": "demo-organiser-2026"})
    page = client.get(f"/meetings/{meeting}", headers=EN).get_data(as_text=True)
    assert "2026-07-01 13:00" in page and "2026-07-01 20:00" not in page


def test_an_unknown_zone_is_refused_at_start_up_naming_the_setting(data_dir):
    with pytest.raises(ConfigError, match="QRSERVICE_TIME_ZONE"):
        make_app(data_dir, TIME_ZONE="Asia/Atlantis")
    set_zone(DEFAULT_ZONE)
