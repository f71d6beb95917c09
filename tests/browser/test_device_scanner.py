"""A helper's phone as a paired scanner device, in a real Chromium against a real server.

The secretary creates a device on the officers' page; the phone pairs by typing the code, opens
the meeting from its own page, and loses the network: a current card shows the member's name
"pending sync" at once, a replaced card and another branch's card are flagged at once, and a
reload without network still knows the meeting from the kept list. Back online the server
decides every scan. Then the secretary revokes the device: its next call is refused, the phone
says it was unpaired and keeps what it scanned meanwhile; the secretary makes a new pairing code
and the phone reads that pairing QR from a photo of the secretary's screen; the kept scan lands
exactly once, recorded by the device.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from qrservice import db
from qrservice.demo import SECRETARY_PASSWORD
from qrservice.models import Attendance, Member, ScannerDevice
from tests.browser.harness import LiveServer, PageErrors, card_photo, log_in, write_y4m
from tests.scanhelpers import card_url_of, member_id, member_in_branch, new_meeting, reissue

BRANCH = "B01"
TIMEOUT_MS = 15_000


def rows(app: Flask, meeting: int) -> dict[int, list[tuple[str, str, int | None, str]]]:
    """member id → [(status, via, device_id, recorded_by)] of the meeting's attendance rows."""
    found: dict[int, list[tuple[str, str, int | None, str]]] = {}
    with app.app_context():
        for a in db.session().scalars(select(Attendance).where(Attendance.meeting_id == meeting)):
            found.setdefault(a.member_id, []).append((a.status, a.via, a.device_id, a.recorded_by))
    return found


def name_of(app: Flask, number: str) -> str:
    with app.app_context():
        return db.session().scalar(select(Member.name).where(Member.number == number))


def type_code(page: Page, code: str) -> None:
    """What a USB scanner does: the code's characters, then Enter."""
    page.locator("#entry").press_sequentially(code)
    page.locator("#entry").press("Enter")


def officer_page(browser: Browser, server: LiveServer) -> Page:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, server.url, "/devices/", "secretary1", SECRETARY_PASSWORD)
    return page


def test_a_paired_phone_scans_offline_is_unpaired_and_paired_again_losing_nothing(
    live_server: LiveServer, launch_browser: Callable[[Path], Browser], tmp_path: Path
) -> None:
    app = live_server.app
    meeting = new_meeting(app, BRANCH, title="设备扫码测试", late_after_min=120)
    online, current, replaced, later = (member_in_branch(app, BRANCH, skip=i) for i in range(4))
    visitor = member_in_branch(app, "B03")
    old_code = card_url_of(app, replaced)
    reissue(app, replaced)  # before the phone keeps its list: the list knows version 2
    ids = {n: member_id(app, n) for n in (online, current, replaced, later, visitor)}
    browser = launch_browser(write_y4m(tmp_path / "blank.y4m", None, frames=1))

    # The secretary creates the device and is shown its pairing code.
    officer = officer_page(browser, live_server)
    officer.click("text=New scanner device")
    officer.fill("#name", "门口的手机")
    officer.click("main form button[type=submit]")
    code = officer.locator("#pairing-code").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code), code
    with app.app_context():
        device_id = db.session().scalar(select(ScannerDevice.id))

    # The helper's phone: no login. It pairs by typing the code and lists the open meetings.
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    phone = context.new_page()
    errors = PageErrors(phone)
    phone.goto(live_server.url + "/scan/pair")
    phone.fill("#code", code.lower())
    phone.click("#pair-form button[type=submit]")
    phone.wait_for_url(live_server.url + "/scan/device")
    expect(phone.locator("#device")).to_have_attribute("data-state", "paired")
    expect(phone.locator("#device-name")).to_contain_text("门口的手机")
    phone.click(f"#meetings li[data-meeting-id='{meeting}'] a")
    phone.wait_for_url(f"{live_server.url}/scan/meetings/{meeting}")
    scanner = phone.locator("#scanner")
    expect(scanner).to_have_attribute("data-mode", "device")
    expect(scanner).to_have_attribute("data-ready", "1")
    expect(phone.locator("h1")).to_have_text("设备扫码测试")  # read with the token
    expect(scanner).to_have_attribute("data-list", re.compile(r"^\d+$"))
    expect(scanner).to_have_attribute("data-offline", "ready")

    # Online: a card typed by a USB scanner is checked in by the device.
    type_code(phone, card_url_of(app, online))
    expect(phone.locator("#result")).to_have_attribute("data-kind", "ok")
    by_device = f"device:{device_id}"
    assert rows(app, meeting)[ids[online]] == [("present", "scan", device_id, by_device)]

    # Offline: the kept list names the current card's member at once...
    context.set_offline(True)
    expect(phone.locator("#net")).to_have_attribute("data-state", "offline")
    type_code(phone, card_url_of(app, current))
    result = phone.locator("#result")
    expect(result).to_have_attribute("data-kind", "saved")
    expect(result).to_have_attribute("data-verdict", "current")
    expect(phone.locator("#result-text")).to_have_text(f"{name_of(app, current)}, pending sync")
    # ...flags a replaced card and a card of someone not on the list at once...
    type_code(phone, old_code)
    expect(result).to_have_attribute("data-verdict", "superseded")
    expect(result).to_have_attribute("data-kind", "flagged")
    expect(phone.locator("#result-text")).to_contain_text(name_of(app, replaced))
    expect(phone.locator("#result-text")).to_contain_text("replaced")
    type_code(phone, card_url_of(app, visitor))
    expect(result).to_have_attribute("data-verdict", "not_listed")
    expect(phone.locator("#result-text")).not_to_contain_text(name_of(app, visitor))
    # ...and keeps all three for the server to decide.
    expect(phone.locator("#pending-count")).to_have_text("3")

    # A reload without network: the page (which names nothing itself) knows the meeting from
    # the kept list, and still has the kept scans.
    phone.reload()
    expect(scanner).to_have_attribute("data-ready", "1")
    expect(phone.locator("h1")).to_have_text("设备扫码测试")
    expect(phone.locator("#pending-count")).to_have_text("3")

    # Back online: the queue is sent and the server decides each scan.
    context.set_offline(False)
    expect(phone.locator("#pending")).to_be_hidden()
    found = rows(app, meeting)
    assert found[ids[current]] == [("present", "offline", device_id, by_device)]
    assert ids[replaced] not in found and ids[visitor] not in found
    expect(phone.locator("#log li[data-kind=refused]")).to_have_count(1)  # the replaced card
    expect(phone.locator("#log li[data-kind=ask]")).to_have_count(1)  # the visitor, unnamed

    # The secretary revokes the device, after a confirmation that says what will happen.
    officer.goto(live_server.url + "/devices/")
    officer.click(f"tr[data-device-id='{device_id}'] >> text=Revoke")
    expect(officer.locator("main")).to_contain_text("Nothing has changed yet")
    officer.click("main form button[type=submit]")
    expect(officer.locator(f"tr[data-device-id='{device_id}'] [data-state]")).to_have_text(
        "unpaired (revoked)"
    )

    # The phone, offline again, scans someone; back online its next call is refused: it says
    # it was unpaired and keeps the scan.
    context.set_offline(True)
    type_code(phone, card_url_of(app, later))
    expect(result).to_have_attribute("data-verdict", "current")
    context.set_offline(False)
    expect(phone.locator("#unpaired")).to_be_visible()
    expect(phone.locator("#unpaired")).to_contain_text("This device was unpaired")
    expect(phone.locator("#pending-count")).to_have_text("1")
    phone.wait_for_timeout(500)
    assert ids[later] not in rows(app, meeting)

    # A new pairing code for the same device; the phone reads its QR from a photo of the
    # secretary's screen, pairs again, and sends what it kept.
    officer.click(f"tr[data-device-id='{device_id}'] >> text=Pair again")
    picture = officer.locator(".pairing-qr svg").screenshot()
    phone.set_input_files(
        "#photo",
        files=[{"name": "screen.png", "mimeType": "image/png", "buffer": picture}],
    )
    expect(phone.locator("#unpaired")).to_be_hidden()
    expect(phone.locator("#pending")).to_be_hidden()
    found = rows(app, meeting)
    assert found[ids[later]] == [("present", "offline", device_id, by_device)]
    assert all(len(r) == 1 for r in found.values()), found

    # The device list counts what it recorded.
    officer.goto(live_server.url + "/devices/")
    expect(officer.locator(f"tr[data-device-id='{device_id}'] [data-scans]")).to_have_text("3")
    expect(officer.locator(f"tr[data-device-id='{device_id}'] [data-state]")).to_have_text("paired")
    assert errors.errors == []


def test_an_unpaired_phone_is_told_to_pair_and_keeps_what_it_scans(
    live_server: LiveServer, launch_browser: Callable[[Path], Browser], tmp_path: Path
) -> None:
    app = live_server.app
    meeting = new_meeting(app, BRANCH, title="未配对")
    browser = launch_browser(write_y4m(tmp_path / "blank.y4m", None, frames=1))
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    phone = context.new_page()
    errors = PageErrors(phone)
    phone.goto(f"{live_server.url}/scan/meetings/{meeting}")
    expect(phone.locator("#scanner")).to_have_attribute("data-ready", "1")
    expect(phone.locator("#unpaired")).to_contain_text("neither paired nor logged in")
    expect(phone.locator("h1")).not_to_have_text("未配对")
    type_code(phone, card_url_of(app, member_in_branch(app, BRANCH)))
    expect(phone.locator("#pending-count")).to_have_text("1")
    assert rows(app, meeting) == {}
    # A photo of a card photo is a card, not a pairing code: it is kept as well.
    phone.set_input_files(
        "#photo",
        files=[
            {
                "name": "card.png",
                "mimeType": "image/png",
                "buffer": card_photo(card_url_of(app, member_in_branch(app, BRANCH, skip=1))),
            }
        ],
    )
    expect(phone.locator("#pending-count")).to_have_text("2")
    assert errors.errors == []
    # An officer logging in on the phone sends what it kept, with the officer's login.
    log_in(phone, live_server.url, f"/scan/meetings/{meeting}", "secretary1", SECRETARY_PASSWORD)
    expect(phone.locator("#scanner")).to_have_attribute("data-mode", "officer")
    expect(phone.locator("#pending")).to_be_hidden()
    assert sorted(r[0][3] for r in rows(app, meeting).values()) == ["user:secretary1"] * 2
