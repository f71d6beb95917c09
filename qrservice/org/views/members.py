"""Member pages: list and search, open, create, edit, deactivate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import actor_name, audit_trail, end_reason_text
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.standing import member_standing
from qrservice.models import MEMBER_STATUSES, AuditEvent, Member
from qrservice.org.accounts import (
    can_edit_member,
    can_read_member,
    can_see_member,
    officer_required,
    organiser_required,
)
from qrservice.org.issuance import card_history
from qrservice.org.members import (
    MemberError,
    MemberFilter,
    clean_member,
    create_member,
    default_dues_from,
    find_by_national_id,
    member_values,
    search_members,
    set_member_active,
    units_in_scope,
    update_member,
)
from qrservice.org.transfers import pending_transfer
from qrservice.org.units import open_units_in_scope
from qrservice.timeutil import local_time, utcnow

bp = Blueprint("members", __name__, url_prefix="/members")


def _tri(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _int(value: str | None) -> int | None:
    # Not str.isdigit: "²" is a digit to it, and 20 digits overflow the database's integer.
    return db.parse_id(value)


@bp.route("/")
@officer_required
def index() -> Any:
    s = db.session()
    args = request.args
    active = args.get("active", "yes")
    filt = MemberFilter(
        q=args.get("q", "")[:64],
        unit_id=_int(args.get("unit")),
        status=args.get("status") if args.get("status") in MEMBER_STATUSES else None,
        floating=_tri(args.get("floating")),
        active=_tri(active),
    )
    page = search_members(
        s,
        current_user.unit,
        filt,
        page=_int(args.get("page")) or 1,
        per_page=current_app.config["MEMBERS_PER_PAGE"],
    )
    units = units_in_scope(s, current_user.unit)
    return render_template("members/index.html", page=page, units=units, args=args, active=active)


@bp.app_template_filter("actor_label")
def actor_label(label: str) -> str:
    """Who did something, from its recorded label ("user:chen", "cli"), in the viewer's words."""
    return actor_name(label)


@bp.app_template_filter("card_end_reason")
def card_end_reason(why: str | None) -> str:
    return end_reason_text(why) if why else ""


def member_or_404(member_id: int, read_only: bool = False) -> Member:
    """The member in the officer's scope; ``read_only``: also a member their branch hosts."""
    member = db.session().get(Member, member_id)
    see = can_read_member if read_only else can_see_member
    if member is None or not see(current_user, member):
        abort(404)
    return member


@bp.route("/<int:member_id>")
@officer_required
def show(member_id: int) -> Any:
    member = member_or_404(member_id, read_only=True)
    history = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "member", AuditEvent.entity_id == member.id)
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return render_template(
        "members/show.html",
        member=member,
        history=audit_trail(db.session(), history),
        cards=card_history(db.session(), member.id),
        can_edit=can_edit_member(current_user, member),
        home_officer=can_see_member(current_user, member),
        pending_transfer=pending_transfer(db.session(), member),
        standing=(
            member_standing(db.session(), member, local_time(utcnow()).date())
            if member.active
            else None
        ),
    )


def _form_units(member: Member | None = None) -> list[Any]:
    """The units a member may be put in: open branches and groups of the scope (a closed unit
    takes no member), and the member's own unit as it is."""
    units = [
        u for u in open_units_in_scope(db.session(), current_user.unit) if u.kind != "committee"
    ]
    if member is not None and member.unit not in units:
        units.append(member.unit)
    return units


def _save(member: Member | None) -> Any:
    s = db.session()
    units = _form_units(member)
    form = request.form.to_dict()
    if member is not None:
        # Leaving and coming back are their own actions, confirmed first (set_active below):
        # the edit form keeps the member's state whatever it sends.
        form["active"] = "yes" if member.active else "no"
        if "dues_from" not in form and member.dues_from:  # a form without the field keeps it
            form["dues_from"] = f"{member.dues_from:%Y-%m}"
    try:
        clean = clean_member(form, {u.code: u for u in units})
        key = current_app.config["ID_HASH_KEY"]
        if member is None and clean["dues_from"] is None:
            clean["dues_from"] = default_dues_from(clean["joined_on"])
        if member is None:
            member = create_member(s, Actor.of(current_user), clean, key)
            flash(_("Member %(number)s created.", number=member.number), "notice")
        elif update_member(s, Actor.of(current_user), member, clean, key):
            flash(_("Changes saved."), "notice")
        else:
            flash(_("Nothing changed."), "notice")
    except MemberError as exc:
        form.pop("national_id", None)  # never echo an ID number back into a page
        template = "members/form.html"
        return render_template(
            template, member=member, form=form, errors=exc.errors, units=units
        ), 422
    return redirect(url_for("members.show", member_id=member.id))


@bp.route("/new", methods=["GET", "POST"])
@organiser_required
def new() -> Any:
    if request.method == "POST":
        return _save(None)
    form = {"status": "probationary", "gender": "", "floating": "no"}
    return render_template(
        "members/form.html", member=None, form=form, errors={}, units=_form_units()
    )


@bp.route("/<int:member_id>/edit", methods=["GET", "POST"])
@organiser_required
def edit(member_id: int) -> Any:
    member = member_or_404(member_id)
    if request.method == "POST":
        return _save(member)
    form = {k: v for k, v in member_values(member).items() if v is not None}
    form["floating"] = "yes" if member.floating else "no"
    form["active"] = "yes" if member.active else "no"
    form["dues_from"] = f"{member.dues_from:%Y-%m}" if member.dues_from else ""
    return render_template(
        "members/form.html", member=member, form=form, errors={}, units=_form_units(member)
    )


@bp.route("/<int:member_id>/active", methods=["POST"])
@organiser_required
def set_active(member_id: int) -> Any:
    member = member_or_404(member_id)
    active = request.form.get("active") == "yes"
    if member.active and not active and not confirmed():
        return ask_to_confirm(
            _("Mark %(name)s as left?", name=member.name),
            [
                _("%(name)s leaves the roll: no longer expected at meetings, and scans of their "
                  "card are refused.", name=member.name),
                _("Their record, card history and trail stay; you can reactivate them later."),
            ],
            _("Mark as left"),
            url_for("members.show", member_id=member.id),
        )  # fmt: skip
    set_member_active(db.session(), Actor.of(current_user), member, active)
    flash(_("Member reactivated.") if active else _("Member marked as left."), "notice")
    return redirect(url_for("members.show", member_id=member.id))


@bp.route("/lookup-id", methods=["POST"])
@officer_required
def lookup_id() -> Any:
    """Find a member by ID number. POST only: the number never appears in a URL or a log."""
    raw = request.form.get("national_id", "")
    try:
        member = find_by_national_id(
            db.session(), current_user.unit, current_app.config["ID_HASH_KEY"], raw
        )
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("members.index"))
    if member is None:
        flash(_("No member in your units has that ID number."), "error")
        return redirect(url_for("members.index"))
    return redirect(url_for("members.show", member_id=member.id))
