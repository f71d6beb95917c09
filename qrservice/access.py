"""Who may use each route: one table for every page and API endpoint of the service.

Each endpoint names the kinds of visitor it lets in, relative to a record of one branch (the
member, meeting, card or account the route is about): anyone, a member whose card is unlocked
on this phone, a scanner device paired to the branch, an officer whose scope holds the branch
(its secretary, an organiser above it) and officers of other scopes. The views enforce the
rules (``officer_required``, scope checks); this table says what they must come to, and
``tests/test_access.py`` tries every route as every kind of visitor against it; a route
missing from the table fails that test, so a new route cannot be forgotten.
"""

from __future__ import annotations

#: The kinds of visitor, relative to the branch a route's record belongs to.
ANONYMOUS = "anonymous"
MEMBER = "member"  # the card's own member, unlocked on their phone with the PIN
DEVICE = "device"  # a scanner device paired to the branch
OTHER_SECRETARY = "other_secretary"  # the secretary of another branch
SECRETARY = "secretary"  # the branch's own secretary
OTHER_ORGANISER = "other_organiser"  # an organiser of a subtree without the branch
ORGANISER = "organiser"  # an organiser whose subtree holds the branch
VISITORS = (ANONYMOUS, MEMBER, DEVICE, OTHER_SECRETARY, SECRETARY, OTHER_ORGANISER, ORGANISER)

ANYONE = frozenset(VISITORS)
#: Any logged-in officer: each sees their own scope (lists, forms).
OFFICERS = frozenset({OTHER_SECRETARY, SECRETARY, OTHER_ORGANISER, ORGANISER})
#: Any organiser, within their own scope.
ORGANISERS = frozenset({OTHER_ORGANISER, ORGANISER})
#: Officers whose scope holds the record.
IN_SCOPE = frozenset({SECRETARY, ORGANISER})
#: Organisers whose scope holds the record: changes to members, cards and accounts.
ORGANISER_IN_SCOPE = frozenset({ORGANISER})
#: Who scans at the branch's meetings: its officers and its paired devices.
SCANNERS = IN_SCOPE | {DEVICE}
#: The card's member on their phone, and officers over them.
CARD_HOLDER = IN_SCOPE | {MEMBER}

#: endpoint → who may use it. Everyone else is refused: a login redirect, 401, 403 or 404.
ROUTES: dict[str, frozenset[str]] = {
    # Public: health, static files, the API description, language, login.
    "healthz": ANYONE,
    "static": ANYONE,
    "scan.static": ANYONE,
    "scan.service_worker": ANYONE,
    "scan_api.openapi": ANYONE,
    "auth.login": ANYONE,
    "auth.set_language": ANYONE,
    # What a card's QR code opens: anyone sees what the privacy setting allows.
    "scan.card_page": ANYONE,
    "scan.card_image": ANYONE,
    "scan.unlock": ANYONE,
    "scan.screen_checkin": ANYONE,
    "scan.self_checkin": CARD_HOLDER,
    # Officers' own pages.
    "auth.index": OFFICERS,
    "auth.logout": ANYONE,  # harmless: anyone may, and everyone lands on the login form
    "auth.password": OFFICERS,
    "org.tree": OFFICERS,
    # The first-run page: 404 for everyone once the organisation exists (as it does here).
    "setup.index": frozenset(),
    # The organisation's settings: its top committee's organisers.
    "setup.settings": ORGANISER_IN_SCOPE,
    # Units: their pages and offices for the officers over them; changes for organisers.
    "org.show_unit": IN_SCOPE,
    "org.add_role": IN_SCOPE,
    "org.remove_role": IN_SCOPE,
    "org.new_unit": ORGANISERS,
    "org.import_units": ORGANISERS,
    "org.apply_import": ORGANISERS,
    "org.export_units": ORGANISERS,
    "org.edit_unit": ORGANISER_IN_SCOPE,
    "org.close_unit": ORGANISER_IN_SCOPE,
    "org.reopen_unit": ORGANISER_IN_SCOPE,
    "members.index": OFFICERS,
    "meetings.index": OFFICERS,
    "meetings.new": OFFICERS,
    "meetings.calendar": OFFICERS,
    "meetings.plan": OFFICERS,
    # Records of the branch.
    "members.show": IN_SCOPE,
    "meetings.show": IN_SCOPE,
    "meetings.open_": IN_SCOPE,
    "meetings.close": IN_SCOPE,
    "meetings.edit": IN_SCOPE,
    "meetings.cancel": IN_SCOPE,
    "meetings.delete": IN_SCOPE,
    "attendance.index": IN_SCOPE,
    "attendance.correct": IN_SCOPE,
    "attendance.reopen": IN_SCOPE,
    # Leave and make-up: each officer's own list; decisions on the branch's requests; the
    # member's own requests from their card unlocked with the PIN.
    "requests.index": OFFICERS,
    "requests.approve": IN_SCOPE,
    "requests.refuse": IN_SCOPE,
    "requests.accept": IN_SCOPE,
    "requests.return_": IN_SCOPE,
    "requests.record": IN_SCOPE,
    "requests.photo": IN_SCOPE,
    "requests.ask_leave": frozenset({MEMBER}),
    "requests.withdraw": frozenset({MEMBER}),
    "requests.submit": frozenset({MEMBER}),
    # A meeting's trace: officers over it read it; its branch's secretary files it (organisers
    # above read only); photos are served by id after the scope check.
    "trace.show": IN_SCOPE,
    "trace.photo": IN_SCOPE,
    "trace.minutes": frozenset({SECRETARY}),
    "trace.add_photo_": frozenset({SECRETARY}),
    "trace.delete": frozenset({SECRETARY}),
    "trace.overdue": OFFICERS,
    "scan.screen_code": IN_SCOPE,
    # Without a session the scanner page is the same shell for any meeting, naming nothing: a
    # paired phone's browser has no session and reads the meeting with its token.
    "scan.scanner": SCANNERS | {ANONYMOUS, MEMBER},
    "scan_api.checkin": SCANNERS,
    "scan_api.sync": SCANNERS,
    "scan_api.status": SCANNERS,
    "scan_api.undo": SCANNERS,
    "scan_api.lookup": SCANNERS,
    "scan_api.expected": SCANNERS,
    # Scanner devices: pairing a phone (the one-time code is the credential), its own page.
    "scan.pair_page": ANYONE,
    "scan.device_home": ANYONE,
    "scan_api.pair": ANYONE,
    "scan_api.device": frozenset({DEVICE}),
    "devices.index": OFFICERS,
    "devices.new": OFFICERS,
    "devices.pairing_code": IN_SCOPE,
    "devices.revoke": IN_SCOPE,
    # Boards: each officer's overview (a secretary's is their branch's board); a branch's board
    # and a unit's activity record for the officers over it.
    "boards.overview": OFFICERS,
    "boards.board": IN_SCOPE,
    "boards.activity": IN_SCOPE,
    # Who needs attention: each officer's own scope by default; a unit chosen must be in it.
    "attention.index": IN_SCOPE,
    "attention.export": IN_SCOPE,
    # Exports: each officer's own page; a file of a unit (or a meeting) in the viewer's scope.
    "exports.index": OFFICERS,
    "exports.export": IN_SCOPE,
    # Points: a member's ledger and an officer's entries for the officers over them; a unit's
    # monthly assessment within the viewer's scope; the rules, the top committee's organisers'.
    "points.member": IN_SCOPE,
    "points.add": IN_SCOPE,
    "points.correct": IN_SCOPE,
    "points.assessment": IN_SCOPE,
    "points.rules_page": ORGANISER_IN_SCOPE,
    # 三会一课 rules: every officer reads them (the top committee's organisers change them);
    # a branch's targets and notes for the officers over it (organisers set the targets).
    "targets.rules_page": OFFICERS,
    "targets.unit_targets": IN_SCOPE,
    "targets.note": IN_SCOPE,
    # Dues: a member's page and a unit's list for the officers over them; an import of
    # payments into the importer's own scope.
    "dues.member": IN_SCOPE,
    "dues.set_rate": IN_SCOPE,
    "dues.exempt": IN_SCOPE,
    "dues.end_exemption": IN_SCOPE,
    "dues.void_exemption": IN_SCOPE,
    "dues.pay": IN_SCOPE,
    "dues.void_payment": IN_SCOPE,
    "dues.unit_list": IN_SCOPE,
    "dues.unit_export": IN_SCOPE,
    "dues.import_payments": OFFICERS,
    "dues.apply_import": OFFICERS,
    # Transfers: each officer's own list and start form; a transfer's actions for the officers
    # over either of its sides. Hosting: the officers over the member's home. Birthdays: a
    # unit's list and greeting cards for the officers over it.
    "transfers.index": OFFICERS,
    "transfers.start": OFFICERS,
    "transfers.release": IN_SCOPE,
    "transfers.accept": IN_SCOPE,
    "transfers.refuse": IN_SCOPE,
    "transfers.cancel": IN_SCOPE,
    "transfers.host": IN_SCOPE,
    "transfers.unhost": IN_SCOPE,
    "transfers.birthdays": IN_SCOPE,
    "transfers.birthday_cards": IN_SCOPE,
    "transfers.birthday_card": IN_SCOPE,
    # Monthly PDF reports: a branch's for its secretary and the organisers over it; a
    # committee's for the organisers over that committee.
    "reports.branch": IN_SCOPE,
    "reports.committee": ORGANISER_IN_SCOPE,
    # Organisers' pages and changes.
    "users.index": ORGANISERS,
    "users.new": ORGANISERS,
    "users.set_active": ORGANISER_IN_SCOPE,
    "users.show": ORGANISER_IN_SCOPE,
    "users.edit": ORGANISER_IN_SCOPE,
    "users.reset_password": ORGANISER_IN_SCOPE,
    "members.new": ORGANISERS,
    "members.lookup_id": OFFICERS,
    "members.edit": ORGANISER_IN_SCOPE,
    "members.set_active": ORGANISER_IN_SCOPE,
    "members_io.import_members": ORGANISERS,
    "members_io.apply_import": ORGANISERS,
    "members_io.export_members": ORGANISERS,
    "cards.index": ORGANISERS,
    "cards.issue_bulk": ORGANISER_IN_SCOPE,
    "cards.badges": ORGANISER_IN_SCOPE,
    "cards.letters": ORGANISER_IN_SCOPE,
    "cards.issue": ORGANISER_IN_SCOPE,
    "cards.reissue": ORGANISER_IN_SCOPE,
    "cards.revoke": ORGANISER_IN_SCOPE,
    "cards.download": ORGANISER_IN_SCOPE,
    "cards.letter": ORGANISER_IN_SCOPE,
}
