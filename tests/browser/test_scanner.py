"""The secretary's scanner page in a real Chromium against a real server.

One test follows a meeting through a network failure: scans by camera (jsQR on the fake
camera's video) and by photo while online; scans typed by a USB scanner and a member picked by
name while offline; a reload without network (the service worker's copy of the page) that still
shows the saved scans; a sync whose answer is lost on the way back; and then every scan on the
server exactly once. Another stubs BarcodeDetector to cover that path, the visitor
confirmation, the manual lookup and taking a check-in back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select

from qrservice import db
from qrservice.demo import SECRETARY_PASSWORD
from qrservice.models import Attendance, Member
from tests.browser.harness import LiveServer, PageErrors, card_photo, log_in, write_y4m
from tests.scanhelpers import card_url_of, member_id, member_in_branch, new_meeting

#: A fresh meeting of branch B01 (secretary1's), so that every member starts missing and
#: nobody turns "late" however slowly the suite runs.
BRANCH = "B01"
SECRETARY = "secretary1"
TIMEOUT_MS = 15_000


def open_scanner(
    launch_browser: Callable[[Path], Browser], video: Path, server: LiveServer, meeting: int
) -> tuple[Page, PageErrors]:
    browser = launch_browser(video)
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = PageErrors(page)
    log_in(page, server.url, f"/scan/meetings/{meeting}", SECRETARY, SECRETARY_PASSWORD)
    expect(page.locator("#scanner")).to_have_attribute("data-ready", "1")
    return page, errors


def names(app: Flask, numbers: list[str]) -> dict[str, str]:
    with app.app_context():
        s = db.session()
        query = select(Member.number, Member.name).where(Member.number.in_(numbers))
        return {number: name for number, name in s.execute(query)}


def attendance(app: Flask, meeting: int) -> dict[int, list[tuple[str, str, str | None]]]:
    """member id → [(status, via, nonce)] of every attendance row of the meeting."""
    rows: dict[int, list[tuple[str, str, str | None]]] = {}
    with app.app_context():
        s = db.session()
        for a in s.scalars(select(Attendance).where(Attendance.meeting_id == meeting)):
            rows.setdefault(a.member_id, []).append((a.status, a.via, a.nonce))
    return rows


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Let the page run (and Playwright call route handlers) until the condition holds."""
    for _ in range(TIMEOUT_MS // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def logged(page: Page, number: str, kind: str) -> Any:
    """The lines of "Scans on this device" about this member with this outcome."""
    return page.locator(f"#log li[data-kind={kind}]", has_text=number)


def test_offline_scans_survive_a_reload_and_land_exactly_once(
    live_server: LiveServer, launch_browser: Callable[[Path], Browser], tmp_path: Path
) -> None:
    app = live_server.app
    meeting = new_meeting(app, BRANCH, title="扫码签到测试", late_after_min=120)
    numbers = [member_in_branch(app, BRANCH, skip=i) for i in range(5)]
    camera, photo, typed_a, typed_b, by_name = numbers
    name = names(app, numbers)
    code = {n: card_url_of(app, n) for n in numbers}
    ids = {n: member_id(app, n) for n in numbers}
    video = write_y4m(tmp_path / "card.y4m", code[camera])
    api = f"{live_server.url}/api/v1/meetings/{meeting}"

    page, errors = open_scanner(launch_browser, video, live_server, meeting)
    # The service worker has kept this page and its files before the network goes.
    expect(page.locator("#scanner")).to_have_attribute("data-offline", "ready")

    # Online: a photo of a card (decoded by jsQR in the page), then the camera.
    page.set_input_files(
        "#photo",
        files=[{"name": "card.png", "mimeType": "image/png", "buffer": card_photo(code[photo])}],
    )
    expect(logged(page, photo, "ok")).to_have_count(1)
    page.click("#camera")
    expect(logged(page, camera, "ok")).to_have_count(1)
    expect(page.locator("#result")).to_have_attribute("data-kind", "ok")
    expect(page.locator("[data-count=present]")).to_have_text("2")
    expect(page.locator("#recent")).to_contain_text(camera)
    expect(page.locator("#missing")).not_to_contain_text(photo)

    # The network fails under a scan typed by a USB scanner: the server records it but its
    # answer never arrives, so the page keeps the scan (and cannot send it yet either).
    def answer_lost(route: Route) -> None:
        route.fetch()
        route.abort("internetdisconnected")

    page.route("**/api/v1/meetings/*/checkins", answer_lost)
    page.route("**/api/v1/meetings/*/sync", lambda route: route.abort("internetdisconnected"))
    page.locator("#entry").press_sequentially(code[typed_a])
    page.locator("#entry").press("Enter")
    expect(page.locator("#pending-count")).to_have_text("1")
    expect(page.locator("#result")).to_have_attribute("data-kind", "saved")
    expect(page.locator("#net")).to_have_attribute("data-state", "unreachable")
    assert [r[:2] for r in attendance(app, meeting)[ids[typed_a]]] == [("present", "scan")]

    # Offline: another typed code, and a member found by name in the saved list of who is
    # missing. Both are kept on the device too.
    page.context.set_offline(True)
    page.unroute("**/api/v1/meetings/*/checkins")
    page.unroute("**/api/v1/meetings/*/sync")
    expect(page.locator("#net")).to_have_attribute("data-state", "offline")
    page.locator("#entry").press_sequentially(code[typed_b])
    page.locator("#entry").press("Enter")
    expect(page.locator("#pending-count")).to_have_text("2")
    expect(page.locator("#result")).to_have_attribute("data-kind", "saved")
    page.fill("#entry", name[by_name])
    page.press("#entry", "Enter")
    page.click(f"#lookup li[data-member-id='{ids[by_name]}'] button")
    expect(page.locator("#pending-count")).to_have_text("3")
    kept = page.eval_on_selector_all("#pending-list li", "items => items.map(i => i.dataset.nonce)")
    assert len(set(kept)) == 3

    # Reloading without a network still opens the page (from the service worker's copy),
    # with the saved scans. The camera comes back on by itself and still decodes offline:
    # the first member's card, seen again, is kept too (the server will refuse it).
    reached = len(live_server.requests)
    page.reload()
    expect(page.locator("#scanner")).to_have_attribute("data-ready", "1")
    expect(page.locator("h1")).to_have_text("扫码签到测试")
    for nonce in kept:
        expect(page.locator(f"#pending-list li[data-nonce='{nonce}']")).to_have_count(1)
    expect(page.locator("#pending-count")).to_have_text("4")
    expect(page.locator("[data-count=present]")).to_have_text("2")  # the saved counts
    page.click("#camera")  # off again, so that nothing more is scanned
    assert live_server.requests[reached:] == [], "the offline reload reached the server"

    # The network comes back (the "online" event sends the saved scans) and the answer to
    # that first sync is lost on its way back. The next one, from the 10-second retry timer,
    # is held until the page has been checked: it still has every scan.
    bodies: list[dict[str, Any]] = []
    held: list[Route] = []

    def lose_first_answer(route: Route) -> None:
        bodies.append(route.request.post_data_json)
        if len(bodies) == 1:
            route.fetch()  # the server does the work...
            route.abort("connectionreset")  # ...and the page never hears of it
        else:
            held.append(route)

    page.route("**/api/v1/meetings/*/sync", lose_first_answer)
    page.context.set_offline(False)
    wait_until(page, lambda: len(bodies) == 2, "a second sync after the lost answer")
    expect(page.locator("#pending-count")).to_have_text("4")
    rows = attendance(app, meeting)
    assert all(len(rows[ids[n]]) == 1 for n in (typed_a, typed_b, by_name))
    sent = [[scan["nonce"] for scan in body["scans"]] for body in bodies]
    assert sent[0] == sent[1], "the same scans with the same nonces are sent again"
    assert set(kept) < set(sent[0]) and len(sent[0]) == 4

    for route in held:
        route.continue_()
    expect(page.locator("#pending")).to_be_hidden()
    assert len(bodies) == 2
    for number in (typed_a, typed_b, by_name):
        expect(logged(page, number, "ok")).to_have_count(1)
    expect(logged(page, camera, "refused")).to_have_count(1)
    expect(page.locator("[data-count=present]")).to_have_text("5")

    # Exactly once on the server: the status API and the database agree.
    status = page.request.get(f"{api}/status").json()
    assert status["counts"]["present"] == 5
    missing = {m["number"] for m in status["missing"]}
    assert missing.isdisjoint(numbers)
    rows = attendance(app, meeting)
    assert sorted(rows) == sorted(ids.values())
    assert all(len(r) == 1 for r in rows.values()), rows
    assert rows[ids[camera]][0][:2] == ("present", "scan")
    assert rows[ids[photo]][0][:2] == ("present", "scan")
    # The rows carry the nonces the page kept; the scan whose answer was lost keeps its
    # first (online) answer, the others were recorded from the queue.
    assert {rows[ids[n]][0][2] for n in (typed_a, typed_b, by_name)} == set(kept)
    assert rows[ids[typed_a]][0][:2] == ("present", "scan")
    assert all(rows[ids[n]][0][:2] == ("present", "offline") for n in (typed_b, by_name))
    assert errors.errors == []


#: A stand-in for the BarcodeDetector that Chromium on Linux lacks: it "sees" whatever code
#: the test puts in window.__barcode, and counts its calls.
FAKE_BARCODE_DETECTOR = """
window.__barcode = null;
window.__detections = 0;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['qr_code']; }
  constructor(options) { this.formats = options.formats; }
  async detect(source) {
    window.__detections += 1;
    return window.__barcode ? [{ rawValue: window.__barcode, format: 'qr_code' }] : [];
  }
};
"""


#: The page's CSRF token replaced by one the server refuses, as in a copy of the page kept
#: from an earlier login: the first POST is refused and the page fetches a fresh token.
STALE_CSRF_TOKEN = """
new MutationObserver((changes, observer) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    meta.content = 'stale-token';
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def test_barcode_detector_visitor_lookup_and_undo(
    live_server: LiveServer, launch_browser: Callable[[Path], Browser], tmp_path: Path
) -> None:
    app = live_server.app
    meeting = new_meeting(app, BRANCH, title="BarcodeDetector 测试", late_after_min=120)
    member, typed = member_in_branch(app, BRANCH, skip=0), member_in_branch(app, BRANCH, skip=1)
    visitor = member_in_branch(app, "B02")
    ids = {n: member_id(app, n) for n in (member, typed, visitor)}
    browser = launch_browser(write_y4m(tmp_path / "blank.y4m", None, frames=1))
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(FAKE_BARCODE_DETECTOR)
    context.add_init_script(STALE_CSRF_TOKEN)
    page = context.new_page()
    errors = PageErrors(page)
    posts: list[tuple[int, str, dict[str, Any]]] = []  # (status, CSRF token, body) of checkins
    page.on(
        "response",
        lambda r: (
            posts.append(
                (r.status, r.request.headers.get("x-csrftoken", ""), r.request.post_data_json)
            )
            if r.url.endswith("/checkins")
            else None
        ),
    )
    log_in(page, live_server.url, f"/scan/meetings/{meeting}", SECRETARY, SECRETARY_PASSWORD)
    expect(page.locator("#scanner")).to_have_attribute("data-ready", "1")

    # The camera runs through BarcodeDetector; the card stays in view, and is sent once.
    page.click("#camera")
    expect(page.locator("#scanner")).to_have_attribute("data-camera", "on")
    page.evaluate("code => { window.__barcode = code; }", card_url_of(app, member))
    expect(logged(page, member, "ok")).to_have_count(1)
    expect(page.locator("#confirm-visitor")).to_be_hidden()
    seen = page.evaluate("window.__detections")
    page.wait_for_timeout(3500)  # longer than the 3 s in which a repeated code is ignored
    assert page.evaluate("window.__detections") > seen + 5, "the camera kept decoding"
    assert page.evaluate("typeof window.jsQR") == "undefined", "jsQR is not needed here"
    # The stale token was refused; the same scan went again with a fresh one, and only once.
    (refused, stale, body), (accepted, fresh, again) = posts
    assert (refused, stale, accepted) == (400, "stale-token", 200)
    assert fresh not in ("", "stale-token") and again == body
    checkins = [body for status, _, body in posts if status == 200]

    # A member of another branch: refused as not expected, then confirmed as a visitor with
    # the same scan and a new nonce.
    page.evaluate("code => { window.__barcode = code; }", card_url_of(app, visitor))
    expect(page.locator("#result")).to_have_attribute("data-kind", "ask")
    page.evaluate("window.__barcode = null")
    page.click("#confirm-visitor")
    expect(logged(page, visitor, "ok")).to_have_count(1)
    checkins = [body for status, _, body in posts if status == 200]
    first, second = checkins[1:3]
    assert first["code"] == second["code"] and first["nonce"] != second["nonce"]
    assert (first["confirm_visitor"], second["confirm_visitor"]) == (False, True)
    assert len(checkins) == 3

    # Found by member number, typed while the focus is on a button (keys typed outside any
    # field go to the entry box), and checked in by hand; then taken back.
    page.click("#camera")
    expect(page.locator("#camera")).to_be_focused()
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    page.click(f"#lookup li[data-member-id='{ids[typed]}'] button")
    expect(logged(page, typed, "ok")).to_have_count(1)
    checkins = [body for status, _, body in posts if status == 200]
    assert checkins[-1]["member_id"] == ids[typed] and checkins[-1]["via"] == "manual"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#undo")
    expect(page.locator("#result")).to_have_attribute("data-kind", "undone")
    expect(page.locator("#result")).to_contain_text(typed)

    rows = attendance(app, meeting)
    assert [r[:2] for r in rows[ids[member]]] == [("present", "scan")]
    assert [r[:2] for r in rows[ids[visitor]]] == [("visitor", "scan")]
    assert [r[:2] for r in rows[ids[typed]]] == [("undone", "manual")]
    assert errors.errors == []
