"""Card pages for officers: issue, reissue, revoke, downloads, badge sheets and letters.

The PDF renderer (reportlab and the embedded CJK font) is imported where a PDF is made, so
that processes which only scan and check in never load it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from cards.layouts import LAYOUTS, LayoutError
from cards.qr import to_png, to_svg
from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import card_reason
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.models import Card, Member, Unit
from qrservice.org.accounts import can_see_unit, organiser_required
from qrservice.org.issuance import (
    CardError,
    SheetChoice,
    active_card,
    card_face,
    issue_card,
    issue_cards,
    iter_sheet_cards,
    keep_codes,
    keep_codes_batched,
    keep_pins,
    kept_code,
    mark_printed_ids,
    members_in,
    reissue_card,
    revoke_card,
    set_new_pin,
    sheet_card_ids,
    sheet_letters,
)
from qrservice.org.members import units_in_scope
from qrservice.org.organisation import cached_organisation_name
from qrservice.org.views.members import member_or_404
from qrservice.org.views.units import unit_label
from qrservice.signing_keys import key_ring

REISSUE_REASONS = ("lost", "damaged", "copied", "other")

bp = Blueprint("cards", __name__)


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/members/<int:member_id>/card/issue", methods=["POST"])
@organiser_required
def issue(member_id: int) -> Any:
    member = member_or_404(member_id)
    try:
        card, created = issue_card(db.session(), Actor.of(current_user), member, key_ring())
    except CardError as exc:
        flash(str(exc), "error")
        return redirect(url_for("members.show", member_id=member.id))
    if created:
        flash(_("Card version %(v)d issued.", v=card.version), "notice")
    else:
        flash(_("This member already has an active card."), "notice")
    return redirect(url_for("members.show", member_id=member.id))


@bp.route("/members/<int:member_id>/card/reissue", methods=["POST"])
@organiser_required
def reissue(member_id: int) -> Any:
    member = member_or_404(member_id)
    reason = request.form.get("reason", "")
    note = request.form.get("note", "")[:150]
    current = active_card(db.session(), member.id)
    if not confirmed() and member.active and reason in REISSUE_REASONS:
        return ask_to_confirm(
            _("Reissue the card of %(name)s (%(reason)s)?", name=member.name,
              reason=card_reason(reason)),
            [
                _("The code of card version %(v)d stops working at once, everywhere: printed "
                  "badges, saved images and phones.", v=current.version)
                if current else _("%(name)s has no active card now.", name=member.name),
                _("A new card, version %(v)d, is issued: print it for %(name)s.",
                  v=(current.version if current else 0) + 1, name=member.name),
                _("The new card has no PIN: print a card letter so that %(name)s can unlock it "
                  "on their phone again.", name=member.name),
            ],
            _("Reissue the card"),
            url_for("members.show", member_id=member.id),
        )  # fmt: skip
    try:
        card = reissue_card(db.session(), Actor.of(current_user), member, key_ring(), reason, note)
    except CardError as exc:
        flash(str(exc), "error")
        return redirect(url_for("members.show", member_id=member.id))
    flash(
        _("Card reissued as version %(v)d; the old code no longer works.", v=card.version), "notice"
    )
    return redirect(url_for("members.show", member_id=member.id))


@bp.route("/members/<int:member_id>/card/revoke", methods=["POST"])
@organiser_required
def revoke(member_id: int) -> Any:
    member = member_or_404(member_id)
    try:
        revoke_card(
            db.session(), Actor.of(current_user), member, request.form.get("note", "")[:150]
        )
    except CardError as exc:
        flash(str(exc), "error")
        return redirect(url_for("members.show", member_id=member.id))
    flash(_("Card revoked; its code no longer works."), "notice")
    return redirect(url_for("members.show", member_id=member.id))


def _active_card_or_404(member: Member) -> Card:
    card = active_card(db.session(), member.id)
    if card is None:
        abort(404)
    keep_codes([card], _base_url(), processes=1)
    return card


@bp.route("/members/<int:member_id>/card.<fmt>")
@organiser_required
def download(member_id: int, fmt: str) -> Any:
    member = member_or_404(member_id)
    card = active_card(db.session(), member.id)
    if card is None or fmt not in ("pdf", "svg", "png"):
        abort(404)
    # A GET: the code is encoded outside any write and kept by a short write of its own.
    matrix = kept_code(card, _base_url())
    name = f"card-{member.number}-v{card.version}.{fmt}"
    if fmt == "pdf":
        from cards.pdf import render_card_pdf

        face = replace(
            card_face(card, cached_organisation_name(fresh=True), _base_url()), qr=matrix
        )
        return _pdf(render_card_pdf(face), name)
    if fmt == "svg":
        return Response(to_svg(matrix), mimetype="image/svg+xml")
    if fmt == "png":
        return Response(
            to_png(matrix, scale=10),
            mimetype="image/png",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    abort(404)


@bp.route("/members/<int:member_id>/letter.pdf", methods=["POST"])
@organiser_required
def letter(member_id: int) -> Any:
    member = member_or_404(member_id)
    card = _active_card_or_404(member)
    from cards.pdf import Letter, render_letters_pdf

    pin = set_new_pin(card, current_app.config["SECRET_KEY"])
    face = card_face(card, cached_organisation_name(fresh=True), _base_url())
    data = render_letters_pdf([Letter(face, pin)])
    return _pdf(data, f"letter-{member.number}.pdf")


def _unit_from_form(units: list[Unit]) -> Unit | None:
    return next((u for u in units if str(u.id) == request.form.get("unit_id")), None)


@bp.route("/cards/", methods=["GET"])
@organiser_required
def index() -> Any:
    units = units_in_scope(db.session(), current_user.unit)
    return render_template("cards/index.html", units=units, layouts=LAYOUTS, errors={}, form={})


@bp.route("/cards/issue", methods=["POST"])
@organiser_required
def issue_bulk() -> Any:
    s = db.session()
    units = units_in_scope(s, current_user.unit)
    unit = _unit_from_form(units)
    if unit is None or not can_see_unit(current_user, unit):
        abort(400)
    members = members_in(s, unit)
    made = issue_cards(s, Actor.of(current_user), members, key_ring())
    flash(
        _("%(made)d cards issued in %(unit)s; %(had)d members already had one.",
          made=made, unit=unit.name, had=len(members) - made),
        "notice",
    )  # fmt: skip
    return redirect(url_for("cards.index"))


def _sheet_request(units: list[Unit]) -> tuple[Unit, SheetChoice, str] | dict[str, str]:
    errors = {}
    unit = _unit_from_form(units)
    if unit is None:
        errors["unit_id"] = _("Choose a unit.")
    layout = request.form.get("layout", "a4-10")
    if layout not in LAYOUTS:
        errors["layout"] = _("Unknown layout.")
    only = request.form.get("only", "all")
    sort = request.form.get("sort", "unit")
    if only not in ("all", "new", "reissued"):
        errors["only"] = _("Choose which cards.")
    if sort not in ("unit", "name"):
        errors["sort"] = _("Choose an order.")
    if errors:
        return errors
    assert unit is not None
    return unit, SheetChoice(only=only, sort=sort), layout


def _form_error(units: list[Unit], errors: dict[str, str]) -> Any:
    page = render_template(
        "cards/index.html", units=units, layouts=LAYOUTS, errors=errors, form=request.form
    )
    return page, 422


# Sheets and letters hold no transaction while codes are encoded and pages drawn (minutes for a
# large unit, while check-ins go on): the cards are chosen in a read session of the view's own
# (the request's session would begin as a writer, a POST), their missing codes kept in short
# write transactions of a batch each, the pages drawn from rows read a chunk at a time, and
# what printing changes written in one short write at the end.


@bp.route("/cards/badges.pdf", methods=["POST"])
@organiser_required
def badges() -> Any:
    from cards.pdf import render_badge_sheet

    with db.new_session() as s:
        units = units_in_scope(s, current_user.unit)
        parsed = _sheet_request(units)
        if isinstance(parsed, dict):
            return _form_error(units, parsed)
        unit, choice, layout = parsed
        try:
            LAYOUTS[layout].badges()  # a layout that cannot fit its page, before any work
        except LayoutError as exc:
            return _form_error(units, {"layout": str(exc)})
        card_ids = sheet_card_ids(s, unit, choice)
        if not card_ids:
            return _form_error(units, {"unit_id": _("No cards to print for this choice.")})
        filename = f"badges-{unit.code}-{layout}-{date.today():%Y%m%d}.pdf"
    keep_codes_batched(card_ids, _base_url())
    printed: list[int] = []
    cards = iter_sheet_cards(card_ids, cached_organisation_name(fresh=True), _base_url(), printed)
    data = render_badge_sheet((card.face for card in cards), LAYOUTS[layout], total=len(card_ids))
    with db.write_transaction() as w:
        mark_printed_ids(w, printed)
    return _pdf(data, filename)


@bp.route("/cards/letters.pdf", methods=["POST"])
@organiser_required
def letters() -> Any:
    from cards.pdf import render_letters_pdf

    with db.new_session() as s:  # a read (see badges)
        units = units_in_scope(s, current_user.unit)
        unit = _unit_from_form(units)
        if unit is None:
            return _form_error(units, {"letters_unit": _("Choose a unit.")})
        card_ids = sheet_card_ids(s, unit, SheetChoice(sort=request.form.get("sort", "unit")))
        if not card_ids:
            return _form_error(units, {"letters_unit": _("No member in this unit has a card yet.")})
        n = len(card_ids)
        if not confirmed():
            return ask_to_confirm(
                _("Print card letters for %(unit)s?", unit=unit_label(unit)),
                [
                    _("%(n)d letters are printed, one for each member of %(unit)s with a card.",
                      n=n, unit=unit_label(unit)),
                    _("Each of these %(n)d members gets a new PIN: the PINs on every earlier "
                      "letter stop working at once.", n=n),
                    _("Phones already unlocked stay unlocked."),
                ],
                _("Reset %(n)d PINs and download the letters", n=n),
                url_for("cards.index"),
            )  # fmt: skip
        filename = f"letters-{unit.code}-{date.today():%Y%m%d}.pdf"
    keep_codes_batched(card_ids, _base_url())
    cards = iter_sheet_cards(card_ids, cached_organisation_name(fresh=True), _base_url())
    pins: list[dict[str, Any]] = []
    data = render_letters_pdf(sheet_letters(cards, current_app.config["SECRET_KEY"], pins))
    with db.write_transaction() as w:  # the PINs printed, kept once the letters are made
        keep_pins(w, pins)
    return _pdf(data, filename)
