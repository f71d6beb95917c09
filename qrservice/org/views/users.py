"""Officer accounts, managed by organisers within their own subtree: create, show, edit role,
unit and name, reset the password to a temporary one, deactivate and reactivate.

An account outside the organiser's subtree (another branch's, or the committee's above a
branch organiser) is 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import audit_trail
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.models import AuditEvent, Unit, User
from qrservice.org.accounts import (
    MIN_PASSWORD,
    TEMPORARY_PASSWORD_HOURS,
    AccountError,
    can_see_unit,
    create_user,
    organiser_required,
    plan_user_update,
    reset_password,
    set_active,
    temporary_password_expired,
    update_user,
)
from qrservice.org.members import units_in_scope
from qrservice.org.units import open_units_in_scope

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.route("/")
@organiser_required
def index() -> Any:
    s = db.session()
    scope = [u.id for u in units_in_scope(s, current_user.unit)]
    users = s.scalars(select(User).where(User.unit_id.in_(scope)).order_by(User.username)).all()
    return render_template("users/index.html", users=users)


def _account_units() -> list[Unit]:
    """The units an account may be scoped to here: open committees and branches in scope."""
    return [u for u in open_units_in_scope(db.session(), current_user.unit) if u.kind != "group"]


def _chosen_unit(units: list[Unit]) -> Unit | None:
    return next((u for u in units if str(u.id) == request.form.get("unit_id")), None)


@bp.route("/new", methods=["GET", "POST"])
@organiser_required
def new() -> Any:
    s = db.session()
    units = _account_units()
    form = request.form
    if request.method == "POST":
        unit = _chosen_unit(units)
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
            return render_template(
                "users/new.html", units=units, form=form, errors=errors,
                min_password=MIN_PASSWORD,
            ), 422  # fmt: skip
        flash(_("Account %(name)s created.", name=user.username), "notice")
        return redirect(url_for("users.show", user_id=user.id))
    return render_template(
        "users/new.html", units=units, form={}, errors={}, min_password=MIN_PASSWORD
    )


def _user_or_404(user_id: int) -> User:
    user = db.session().get(User, user_id)
    if user is None or not can_see_unit(current_user, user.unit):
        abort(404)
    return user


@bp.route("/<int:user_id>")
@organiser_required
def show(user_id: int) -> Any:
    user = _user_or_404(user_id)
    s = db.session()
    history = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == user.id)
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return render_template(
        "users/show.html",
        user=user,
        own=user.id == current_user.id,
        temporary_expired=temporary_password_expired(user),
        history=audit_trail(s, history),
    )


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@organiser_required
def edit(user_id: int) -> Any:
    """Role, unit and display name. A new role or unit ends the officer's sessions: asked
    for confirmation first."""
    user = _user_or_404(user_id)
    units = _account_units()
    if request.method == "GET":
        form = {"role": user.role, "unit_id": str(user.unit_id),
                "display_name": user.display_name}  # fmt: skip
        return render_template("users/edit.html", user=user, units=units, form=form, errors={})
    form = request.form
    unit = _chosen_unit(units)
    change = {"role": form.get("role", ""), "unit": unit,
              "display_name": form.get("display_name", "")}  # fmt: skip
    try:
        if unit is None:
            raise AccountError("unit", _("Choose a unit."))
        planned = plan_user_update(db.session(), Actor.of(current_user), user, **change)
        if ("role" in planned or "unit" in planned) and not confirmed():
            return ask_to_confirm(
                _("Change the role or unit of %(name)s?", name=user.username),
                [
                    _("%(name)s will be logged out at once on every device; at the next login "
                      "they see and change only what the new role and unit allow.",
                      name=user.display_name),
                ],
                _("Change and log out"),
                url_for("users.show", user_id=user.id),
            )  # fmt: skip
        changed = update_user(db.session(), Actor.of(current_user), user, **change)
    except AccountError as exc:
        errors = {exc.field: exc.message}
        return render_template(
            "users/edit.html", user=user, units=units, form=form, errors=errors
        ), 422
    if not changed:
        flash(_("Nothing was changed."), "notice")
    elif "role" in changed or "unit" in changed:
        flash(_("Account %(name)s changed; its sessions have ended.", name=user.username),
              "notice")  # fmt: skip
    else:
        flash(_("Account %(name)s changed.", name=user.username), "notice")
    return redirect(url_for("users.show", user_id=user.id))


@bp.route("/<int:user_id>/reset-password", methods=["POST"], endpoint="reset_password")
@organiser_required
def reset_password_view(user_id: int) -> Any:
    """Asks for confirmation, then shows the temporary password once (never stored in clear,
    never shown again)."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash(_("Change your own password on the password page, with your current one."), "error")
        return redirect(url_for("auth.password"))
    if not confirmed():
        return ask_to_confirm(
            _("Reset the password of %(name)s?", name=user.username),
            [
                _("%(name)s is logged out at once on every device; their current password "
                  "stops working.", name=user.display_name),
                _("You get a temporary password, shown once, to give them in person or by "
                  "phone. It works only to choose their own password, and only for %(hours)d "
                  "hours.", hours=TEMPORARY_PASSWORD_HOURS),
            ],
            _("Reset the password"),
            url_for("users.show", user_id=user.id),
        )  # fmt: skip
    try:
        password = reset_password(db.session(), Actor.of(current_user), user)
    except AccountError as exc:
        flash(exc.message, "error")
        return redirect(url_for("users.show", user_id=user.id))
    response = make_response(
        render_template(
            "users/temporary_password.html",
            user=user,
            password=password,
            hours=TEMPORARY_PASSWORD_HOURS,
        )  # fmt: skip
    )
    # Shown once: no copy kept by the browser's cache or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


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
        return redirect(url_for("users.show", user_id=user.id))
    if active:
        flash(_("Account %(name)s reactivated.", name=user.username), "notice")
    else:
        flash(_("Account %(name)s deactivated; its sessions have ended.", name=user.username),
              "notice")  # fmt: skip
    return redirect(url_for("users.show", user_id=user.id))
