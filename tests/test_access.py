"""Every route, tried as every kind of visitor, against the table in qrservice/access.py.

The records are those of branch B01 (机关第一党支部): one of its members, their card, its open
meeting, its secretary's account. A visitor the table lets in must get an answer (2xx, or a
redirect that is not to the login form); anyone else must be refused (a login redirect, 400,
401, 403, 404 or 422), and a refusal never names the member it was about.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from cards.tokens import sign_meeting
from qrservice import access, db
from qrservice.audit import Actor
from qrservice.demo import ORGANISER, SECRETARY_PASSWORD
from qrservice.life.dues import add_exemption
from qrservice.life.points_ledger import add_entry
from qrservice.life.trace import add_photo
from qrservice.models import DuesPayment, Meeting, Member, Unit, User
from qrservice.org.accounts import create_user
from qrservice.org.devices import create_device
from qrservice.org.issuance import active_card, set_new_pin
from qrservice.org.transfers import start_transfer
from qrservice.org.units import create_unit
from qrservice.signing_keys import key_ring
from qrservice.timeutil import add_months, month_start
from tests.scanhelpers import new_meeting, open_meeting_id

OTHER_ORGANISER_PASSWORD = "other-organiser-2026"
#: Members of B01 the routes are about: one to read, others for the changes that end things.
TARGET, TO_LEAVE, TO_REISSUE, TO_REVOKE = "20260001", "20260002", "20260003", "20260004"


@dataclass
class Records:
    member_id: int
    member_name: str
    card_token: str
    leave_id: int
    reissue_id: int
    revoke_id: int
    meeting_id: int
    spare_meeting_id: int
    secretary_id: int
    group_id: int
    meeting_code: str
    device_id: int
    pairing_code: str
    #: Leave and make-up (tests/test_access.py _asks): a coming B01 meeting with two pending
    #: requests for leave, and a meeting closed yesterday with two pending make-ups.
    leave_meeting_id: int = 0
    leave_to_approve: int = 0
    leave_to_refuse: int = 0
    missed_meeting_id: int = 0
    makeup_to_accept: int = 0
    makeup_to_return: int = 0
    #: A group of B01 with no members: one that can be closed.
    empty_unit_id: int = 0
    #: A dues payment and a dues exemption of the target member, to void.
    dues_payment_id: int = 0
    dues_exemption_id: int = 0
    #: An officer's points line of the target member, to correct.
    points_entry_id: int = 0
    #: A pending transfer of a B01 member to B03 (neither side is the other visitors').
    transfer_id: int = 0
    #: A photo in the trace of the open meeting.
    photo_id: int = 0
    #: Branch B01 itself (boards, targets).
    branch_id: int = 0
    #: Committee C01, over B01 (the committee's report).
    committee_id: int = 0


def _asks(app: Flask) -> dict[str, int]:
    """Leave asked by two B01 members for a coming meeting, and make-up they submitted for a
    meeting closed yesterday that the target member missed too."""
    from datetime import timedelta

    from qrservice.life.meetings import close_checkin
    from qrservice.life.photos import store_photo
    from qrservice.life.requests import request_leave, submit_makeup
    from qrservice.timeutil import utcnow

    at = utcnow()
    coming = new_meeting(app, "B01", opened=False, starts_at=at + timedelta(days=2),
                         ends_at=at + timedelta(days=2, hours=1))  # fmt: skip
    missed = new_meeting(app, "B01", opened=True, starts_at=at - timedelta(days=1),
                         ends_at=at - timedelta(days=1) + timedelta(hours=1))  # fmt: skip
    with app.app_context():
        s = db.session()
        close_checkin(s, Actor.system("test"), s.get(Meeting, missed))
        one, two = (s.scalar(select(Member).where(Member.number == n))
                    for n in (TO_REISSUE, TO_REVOKE))  # fmt: skip
        text = "学习了党章和支部工作条例的有关规定。" * 4
        notes = store_photo(Path(app.config["UPLOADS_DIR"]), "makeup", _small_png())
        asks = {
            "leave_meeting_id": coming,
            "leave_to_approve": request_leave(s, one, s.get(Meeting, coming), "出差").id,
            "leave_to_refuse": request_leave(s, two, s.get(Meeting, coming), "出差").id,
            "missed_meeting_id": missed,
            "makeup_to_accept": submit_makeup(
                s, one, s.get(Meeting, missed), text, photo_path=notes.path
            ).id,  # fmt: skip
            "makeup_to_return": submit_makeup(s, two, s.get(Meeting, missed), text).id,
        }
        s.commit()
        return asks


def _records(app: Flask) -> Records:
    spare = new_meeting(app, "B01", opened=False)
    with app.app_context():
        s = db.session()
        b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
        device, pairing_code = create_device(s, Actor.system("test"), unit=b01, name="records")
        empty = create_unit(s, Actor.system("test"), kind="group", name="空党小组", code="B01-G9",
                            parent=b01)  # fmt: skip
        s.commit()

        def member(number: str) -> Member:
            return s.scalar(select(Member).where(Member.number == number))

        target = member(TARGET)
        in_two_years = add_months(month_start(date.today()), 24)
        exemption = add_exemption(s, Actor.system("test"), target, in_two_years, in_two_years,
                                  "access test")  # fmt: skip
        transfer = start_transfer(s, Actor.system("test"), None, member_number="20260006",
                                  to_unit="B03")  # fmt: skip
        s.commit()
        return Records(
            member_id=target.id,
            member_name=target.name,
            card_token=active_card(s, target.id).token,
            leave_id=member(TO_LEAVE).id,
            reissue_id=member(TO_REISSUE).id,
            revoke_id=member(TO_REVOKE).id,
            meeting_id=open_meeting_id(app),
            spare_meeting_id=spare,
            secretary_id=s.scalar(select(User.id).where(User.username == "secretary1")),
            group_id=s.scalar(select(Unit.id).where(Unit.code == "B01-G1")),
            meeting_code=sign_meeting(key_ring(), spare, int(time.time()), 30),
            device_id=device.id,
            pairing_code=pairing_code,
            **_asks(app),
            empty_unit_id=empty.id,
            dues_payment_id=s.scalar(
                select(DuesPayment.id).where(DuesPayment.member_id == target.id).limit(1)
            ),
            dues_exemption_id=exemption.id,
            points_entry_id=_points_entry_id(app, target.id),
            transfer_id=transfer.id,
            photo_id=_meeting_photo_id(app),
            branch_id=b01.id,
            committee_id=b01.parent_id,
        )


def _points_entry_id(app: Flask, member_id: int) -> int:
    """An officer's award to the target member: a line that may be corrected."""
    with app.app_context():
        s = db.session()
        entry = add_entry(s, Actor.system("test"), s.get(Member, member_id), kind="award",
                          points=1, reason="access test", on=date(2026, 1, 5))  # fmt: skip
        s.commit()
        return entry.id


def _small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 0, 0)).save(out, "PNG")
    return out.getvalue()


def _meeting_photo_id(app: Flask) -> int:
    """A photo in the trace of B01's open meeting."""
    meeting_id = open_meeting_id(app)
    with app.app_context():
        s = db.session()
        meeting = s.get(Meeting, meeting_id)
        photo = add_photo(s, Actor.system("test"), meeting, _small_png(), "",
                          Path(app.config["UPLOADS_DIR"]), 20)  # fmt: skip
        s.commit()
        return photo.id


def _requests(r: Records) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """endpoint → (method, path, form or JSON body), each valid for a visitor let in."""
    card = f"/c/{r.card_token}"
    api = f"/api/v1/meetings/{r.meeting_id}"
    scan = {"member_id": r.member_id}
    return {
        "healthz": ("GET", "/healthz", None),
        "static": ("GET", "/static/css/app.css", None),
        "scan.static": ("GET", "/scan/static/scanner.css", None),
        "scan.service_worker": ("GET", "/scan/sw.js", None),
        "scan_api.openapi": ("GET", "/api/v1/openapi.json", None),
        "auth.login": ("GET", "/login", None),
        "auth.set_language": ("GET", "/lang/en", None),
        "scan.card_page": ("GET", card, None),
        "scan.card_image": ("GET", f"{card}/card.svg", None),
        "scan.unlock": ("POST", f"{card}/unlock", {"pin": "000000"}),
        "scan.screen_checkin": ("GET", f"/m/{r.meeting_code}", None),
        "scan.self_checkin": ("POST", f"{card}/checkin/{r.meeting_id}", {}),
        "auth.index": ("GET", "/", None),
        "auth.password": ("GET", "/account/password", None),
        "org.tree": ("GET", "/units", None),
        "setup.index": ("GET", "/setup", None),
        "setup.settings": ("GET", "/settings/organisation", None),
        "org.show_unit": ("GET", f"/units/{r.group_id}", None),
        "org.new_unit": ("GET", "/units/new", None),
        "org.edit_unit": ("GET", f"/units/{r.group_id}/edit", None),
        "org.import_units": ("GET", "/units/import", None),
        "org.apply_import": ("POST", "/units/import/apply", {}),
        "org.export_units": ("GET", "/units/export.csv", None),
        "org.add_role": (
            "POST",
            f"/units/{r.group_id}/roles",
            {"member": TARGET, "role": "group_leader"},
        ),
        "org.remove_role": (
            "POST",
            f"/units/{r.group_id}/roles/remove",
            {"member": TARGET, "role": "group_leader", "confirm": "yes"},
        ),
        # Closing asks first (the empty group stays open); reopening an open unit changes nothing.
        "org.close_unit": ("POST", f"/units/{r.empty_unit_id}/close", {}),
        "org.reopen_unit": ("POST", f"/units/{r.empty_unit_id}/reopen", {}),
        "members.index": ("GET", "/members/", None),
        "meetings.index": ("GET", "/meetings/", None),
        "meetings.new": ("GET", "/meetings/new", None),
        "meetings.calendar": ("GET", "/meetings/calendar", None),
        "meetings.plan": ("GET", "/meetings/plan", None),
        "members.show": ("GET", f"/members/{r.member_id}", None),
        "meetings.show": ("GET", f"/meetings/{r.meeting_id}", None),
        # The confirmation pages of changes to the spare meeting (nothing changes yet).
        "meetings.edit": ("GET", f"/meetings/{r.spare_meeting_id}/edit", None),
        "meetings.cancel": ("GET", f"/meetings/{r.spare_meeting_id}/cancel", None),
        "meetings.delete": ("GET", f"/meetings/{r.spare_meeting_id}/delete", None),
        "attendance.index": ("GET", f"/meetings/{r.meeting_id}/attendance", None),
        "trace.show": ("GET", f"/meetings/{r.meeting_id}/trace", None),
        "trace.photo": ("GET", f"/trace/photos/{r.photo_id}", None),
        "trace.overdue": ("GET", "/trace/overdue", None),
        "scan.screen_code": ("GET", f"/meetings/{r.meeting_id}/screen", None),
        "scan.scanner": ("GET", f"/scan/meetings/{r.meeting_id}", None),
        "scan_api.status": ("GET", f"{api}/status", None),
        "scan_api.lookup": ("GET", f"{api}/lookup?q={TARGET}", None),
        "scan_api.checkin": ("POST", f"{api}/checkins", scan),
        "scan_api.sync": (
            "POST",
            f"{api}/sync",
            {"scans": [{**scan, "nonce": "access-test-nonce-0001"}]},
        ),  # fmt: skip
        "scan_api.undo": ("POST", f"{api}/undo", {}),
        "scan_api.expected": ("GET", f"{api}/expected", None),
        "scan.pair_page": ("GET", "/scan/pair", None),
        "scan.device_home": ("GET", "/scan/device", None),
        "scan_api.pair": ("POST", "/api/v1/devices/pair", {"code": r.pairing_code}),
        "scan_api.device": ("GET", "/api/v1/device", None),
        "devices.index": ("GET", "/devices/", None),
        "devices.new": ("GET", "/devices/new", None),
        "devices.revoke": ("GET", f"/devices/{r.device_id}/revoke", None),
        "devices.pairing_code": ("POST", f"/devices/{r.device_id}/pairing-code", {}),
        "boards.overview": ("GET", "/boards/", None),
        "boards.board": ("GET", f"/boards/{r.group_id}", None),
        "boards.activity": ("GET", f"/boards/activity?unit={r.group_id}", None),
        "attention.index": ("GET", f"/attention/?unit={r.group_id}", None),
        "attention.export": ("GET", f"/attention/export.csv?unit={r.group_id}", None),
        "exports.index": ("GET", "/exports/", None),
        "exports.export": ("GET", f"/exports/roster?unit={r.group_id}&format=csv", None),
        "points.member": ("GET", f"/points/members/{r.member_id}", None),
        "points.add": (
            "POST",
            f"/points/members/{r.member_id}/entries",
            {"kind": "volunteer", "points": "2", "reason": "access test", "on": "2026-01-05"},
        ),  # fmt: skip
        # Without confirm=yes: the confirmation page, nothing corrected.
        "points.correct": (
            "POST",
            f"/points/entries/{r.points_entry_id}/correct",
            {"reason": "access test"},
        ),  # fmt: skip
        "points.assessment": ("GET", f"/points/assessment?unit={r.group_id}", None),
        "points.rules_page": ("GET", "/points/rules", None),
        "targets.rules_page": ("GET", "/boards/rules", None),
        "targets.unit_targets": ("GET", f"/boards/{r.branch_id}/targets", None),
        "targets.note": ("GET", f"/boards/{r.branch_id}/notes/attendance?period=2026-Q3", None),
        "reports.branch": ("GET", f"/reports/branch/{r.branch_id}.pdf?period=2026-Q3", None),
        "reports.committee": ("GET", f"/reports/committee/{r.committee_id}.pdf", None),
        "dues.member": ("GET", f"/dues/members/{r.member_id}", None),
        "dues.unit_list": ("GET", f"/dues/units/{r.group_id}", None),
        "dues.unit_export": ("GET", f"/dues/units/{r.group_id}/export.csv", None),
        "dues.import_payments": ("GET", "/dues/import", None),
        "dues.apply_import": ("POST", "/dues/import/apply", {}),  # nothing to apply: back
        "transfers.index": ("GET", "/transfers/", None),
        # Each officer's own side: B01's start releasing, B02's officers the receiving side.
        "transfers.start": ("POST", "/transfers/start", {"member": "20260005", "to_unit": "B02"}),
        # Without confirm=yes: the confirmation pages, nothing decided.
        "transfers.release": ("POST", f"/transfers/{r.transfer_id}/release", {}),
        "transfers.accept": ("POST", f"/transfers/{r.transfer_id}/accept", {}),
        "transfers.refuse": (
            "POST",
            f"/transfers/{r.transfer_id}/refuse",
            {"refusal_reason": "access test"},
        ),
        "transfers.cancel": ("POST", f"/transfers/{r.transfer_id}/cancel", {}),
        "transfers.host": ("GET", f"/members/{r.member_id}/host", None),
        "transfers.unhost": ("POST", f"/members/{r.member_id}/unhost", {}),  # not hosted: back
        "transfers.birthdays": ("GET", "/birthdays?unit=B01", None),
        "transfers.birthday_cards": ("GET", "/birthdays/cards.pdf?unit=B01", None),
        "transfers.birthday_card": ("GET", f"/birthdays/members/{r.member_id}.pdf", None),
        "dues.set_rate": (
            "POST",
            f"/dues/members/{r.member_id}/rates",
            {"effective_from": f"{date.today():%Y-%m}", "amount": "20"},
        ),  # fmt: skip
        "dues.pay": (
            "POST",
            f"/dues/members/{r.member_id}/payments",
            {
                "first_month": f"{date.today():%Y-%m}",
                "months": "1",
                "amount": "0.01",
                "method": "cash",
                "receipt_no": "ACCESS-1",
                "paid_on": date.today().isoformat(),
            },
        ),  # fmt: skip
        "dues.exempt": (
            "POST",
            f"/dues/members/{r.member_id}/exemptions",
            {"first_month": f"{add_months(date.today(), 36):%Y-%m}", "reason": "test"},
        ),  # fmt: skip
        "dues.end_exemption": (
            "POST",
            f"/dues/exemptions/{r.dues_exemption_id}/end",
            {"last_month": f"{add_months(date.today(), 24):%Y-%m}"},
        ),  # fmt: skip
        "users.index": ("GET", "/users/", None),
        "users.new": ("GET", "/users/new", None),
        "users.set_active": ("GET", f"/users/{r.secretary_id}/active?active=no", None),
        "users.show": ("GET", f"/users/{r.secretary_id}", None),
        "users.edit": ("GET", f"/users/{r.secretary_id}/edit", None),
        # Without confirm=yes: the confirmation page, nothing reset.
        "users.reset_password": ("POST", f"/users/{r.secretary_id}/reset-password", {}),
        "members.new": ("GET", "/members/new", None),
        "members.lookup_id": ("POST", "/members/lookup-id", {"national_id": "11010519491231002X"}),
        "members.edit": ("GET", f"/members/{r.member_id}/edit", None),
        "members_io.import_members": ("GET", "/members/import", None),
        "members_io.apply_import": ("POST", "/members/import/no-such-upload/apply", {}),
        "members_io.export_members": ("GET", "/members/export.csv", None),
        "cards.index": ("GET", "/cards/", None),
        "cards.download": ("GET", f"/members/{r.member_id}/card.svg", None),
        "cards.issue": ("POST", f"/members/{r.member_id}/card/issue", {}),
        "cards.issue_bulk": ("POST", "/cards/issue", {"unit_id": r.group_id}),
        "cards.badges": ("POST", "/cards/badges.pdf", {"unit_id": r.group_id}),
        "cards.letter": ("POST", f"/members/{r.member_id}/letter.pdf", {}),
        "cards.letters": ("POST", "/cards/letters.pdf", {"unit_id": r.group_id, "confirm": "yes"}),
        # Changes that end something come last, each on a record of its own.
        "meetings.open_": ("POST", f"/meetings/{r.spare_meeting_id}/open", {}),
        "meetings.close": ("POST", f"/meetings/{r.spare_meeting_id}/close", {"confirm": "yes"}),
        # The spare meeting is closed now: a correction of its member, then a reopening.
        "attendance.correct": (
            "POST",
            f"/meetings/{r.spare_meeting_id}/attendance/{r.member_id}",
            {"status": "present", "reason": "scanner failed"},
        ),  # fmt: skip
        "attendance.reopen": ("POST", f"/meetings/{r.spare_meeting_id}/reopen", {"confirm": "yes"}),
        # Leave and make-up: the officer's list and decisions, the member's own requests.
        "requests.index": ("GET", "/requests/", None),
        "requests.approve": ("POST", f"/requests/leave/{r.leave_to_approve}/approve", {}),
        "requests.refuse": (
            "POST",
            f"/requests/leave/{r.leave_to_refuse}/refuse",
            {"comment": "会议重要"},
        ),  # fmt: skip
        "requests.photo": ("GET", f"/requests/makeup/{r.makeup_to_accept}/photo", None),
        "requests.accept": ("POST", f"/requests/makeup/{r.makeup_to_accept}/accept", {}),
        "requests.return_": (
            "POST",
            f"/requests/makeup/{r.makeup_to_return}/return",
            {"comment": "请具体些"},
        ),  # fmt: skip
        "requests.record": (
            "POST",
            f"/meetings/{r.leave_meeting_id}/leave/{r.leave_id}",
            {"reason": "电话请假"},
        ),  # fmt: skip
        "requests.ask_leave": ("POST", f"{card}/leave/{r.leave_meeting_id}", {"reason": "出差"}),
        "requests.withdraw": ("POST", f"{card}/leave/{r.leave_meeting_id}/withdraw", {}),
        "requests.submit": (
            "POST",
            f"{card}/makeup/{r.missed_meeting_id}",
            {"text": "学习党章的体会。" * 10},
        ),  # fmt: skip
        "trace.minutes": ("POST", f"/meetings/{r.meeting_id}/trace/minutes", {"minutes": "纪要"}),
        "trace.add_photo_": (
            "POST",
            f"/meetings/{r.meeting_id}/trace/photos",
            {"photo": (io.BytesIO(_small_png()), "photo.png"), "caption": ""},
        ),
        # Its confirmation page: nothing is deleted yet.
        "trace.delete": ("POST", f"/trace/photos/{r.photo_id}/delete", {}),
        "cards.reissue": (
            "POST",
            f"/members/{r.reissue_id}/card/reissue",
            {"reason": "lost", "confirm": "yes"},
        ),  # fmt: skip
        "cards.revoke": (
            "POST",
            f"/members/{r.revoke_id}/card/revoke",
            {"note": "test", "confirm": "yes"},
        ),  # fmt: skip
        "members.set_active": (
            "POST",
            f"/members/{r.leave_id}/active",
            {"active": "no", "confirm": "yes"},
        ),  # fmt: skip
        "dues.void_exemption": (
            "POST",
            f"/dues/exemptions/{r.dues_exemption_id}/void",
            {"reason": "test", "confirm": "yes"},
        ),  # fmt: skip
        "dues.void_payment": (
            "POST",
            f"/dues/payments/{r.dues_payment_id}/void",
            {"reason": "test", "confirm": "yes"},
        ),  # fmt: skip
        "auth.logout": ("POST", "/logout", {}),
    }


def _visitor(app: Flask, kind: str, r: Records) -> FlaskClient:
    client = app.test_client()
    if kind == access.ANONYMOUS:
        return client
    if kind == access.DEVICE:
        # A phone paired to B01: every request carries its token, as the scanner's calls do.
        with app.app_context():
            s = db.session()
            b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
            _device, code = create_device(s, Actor.system("test"), unit=b01, name="visitor")
            s.commit()
        token = client.post("/api/v1/devices/pair", json={"code": code}).get_json()["token"]
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client
    if kind == access.MEMBER:
        with app.app_context():
            s = db.session()
            pin = set_new_pin(active_card(s, r.member_id), app.config["SECRET_KEY"])
            s.commit()
        client.post(f"/c/{r.card_token}/unlock", data={"pin": pin})
        return client
    if kind == access.OTHER_ORGANISER:
        with app.app_context():
            s = db.session()
            unit = s.scalar(select(Unit).where(Unit.code == "B02"))
            create_user(s, Actor.system("test"), username="organiser-b02", role="organiser",
                        unit=unit, password=OTHER_ORGANISER_PASSWORD)  # fmt: skip
            s.commit()
    username, password = {
        access.OTHER_SECRETARY: ("secretary2", SECRETARY_PASSWORD),
        access.SECRETARY: ("secretary1", SECRETARY_PASSWORD),
        access.OTHER_ORGANISER: ("organiser-b02", OTHER_ORGANISER_PASSWORD),
        access.ORGANISER: ORGANISER,
    }[kind]
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, f"{kind} could not log in"
    return client


def _refused(response: Any) -> bool:
    if response.status_code in (301, 302, 303):
        return "/login" in response.headers.get("Location", "")
    return response.status_code in (400, 401, 403, 404, 422)


def test_every_route_has_an_access_rule_and_a_request_here(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - access.ROUTES.keys() == set(), "add these routes to qrservice/access.py"
    assert access.ROUTES.keys() - endpoints == set(), "these rules name no route"
    requests = _requests(_records(app))
    assert endpoints == requests.keys(), "add a request for each route to this test"


@pytest.mark.parametrize("kind", access.VISITORS)
def test_each_kind_of_visitor_reaches_exactly_what_the_table_allows(app: Flask, kind: str):
    records = _records(app)
    client = _visitor(app, kind, records)
    wrong = []
    for endpoint, (method, path, body) in _requests(records).items():
        if method == "GET":
            response = client.get(path)
        elif path.startswith("/api/"):
            response = client.post(path, json=body)
        else:
            response = client.post(path, data=body)
        allowed = kind in access.ROUTES[endpoint]
        # Everyone may log out, and everyone then lands on the login form.
        refused = response.status_code != 302 if endpoint == "auth.logout" else _refused(response)
        if refused == allowed:
            happened = "kept out, but the table lets in" if allowed else "let in, but not listed"
            wrong.append(f"{endpoint}: {response.status_code}, {happened}")
        if not allowed:
            text = response.get_data(as_text=True) if not response.is_streamed else ""
            if records.member_name in text:
                wrong.append(f"{endpoint}: the refusal names the member")
        response.close()
    assert wrong == [], f"as {kind}"
