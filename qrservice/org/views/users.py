"""Officer accounts, managed by organisers within their own subtree."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.models import User
from qrservice.org.accounts import (
    AccountError,
    can_see_unit,
    create_user,
    organiser_required,
    set_active,
)
from qrservice.org.members import units_in_scope

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.route("/")
@organiser_required
def index() -> Any:
    s = db.session()
    scope = [u.id for u in units_in_scope(s, current_user.unit)]
    users = s.scalars(select(User).where(User.unit_id.in_(scope)).order_by(User.username)).all()
    return render_template("users/index.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
@organiser_required
def new() -> Any:
    s = db.session()
    units = [u for u in units_in_scope(s, current_user.unit) if u.kind != "group"]
    form = request.form
    if request.method == "POST":
        unit = next((u for u in units if str(u.id) == form.get("unit_id")), None)
        try:
            if unit is None or not can_see_unit(current_user, unit):
                raise AccountError("unit", _("Choose a unit."))
            if form.get("password") != form.get("password_confirm"):
                raise AccountError("password_confirm", _("The passwords differ."))
            user = create_user(
                s,
                Actor.of(current_user),
                username=form.get("username", ""),
                password=form.get("password", ""),
                role=form.get("role", ""),
                unit=unit,
                display_name=form.get("display_name") or None,
            )
        except AccountError as exc:
            errors = {exc.field: exc.message}
            return render_template("users/new.html", units=units, form=form, errors=errors), 422
        flash(_("Account %(name)s created.", name=user.username), "notice")
        return redirect(url_for("users.index"))
    return render_template("users/new.html", units=units, form={}, errors={})


def _user_or_404(user_id: int) -> User:
    user = db.session().get(User, user_id)
    if user is None or not can_see_unit(current_user, user.unit):
        abort(404)
    return user


@bp.route("/<int:user_id>/active", methods=["GET", "POST"], endpoint="set_active")
@organiser_required
def set_active_view(user_id: int) -> Any:
    """GET asks for confirmation, saying what will happen; POST does it."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        deactivate = request.args.get("active") != "yes"
        return render_template("users/confirm_active.html", user=user, deactivate=deactivate)
    active = request.form.get("active") == "yes"
    try:
        set_active(db.session(), Actor.of(current_user), user, active)
    except AccountError as exc:
        flash(exc.message, "error")
        return redirect(url_for("users.index"))
    if active:
        flash(_("Account %(name)s reactivated.", name=user.username), "notice")
    else:
        flash(_("Account %(name)s deactivated; its sessions have ended.", name=user.username),
              "notice")  # fmt: skip
    return redirect(url_for("users.index"))
