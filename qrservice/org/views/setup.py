"""The first-run page, and the organisation's settings.

While the database holds no organisation, every page a visitor who is not logged in asks for
leads to /setup (static files, health checks, API calls and card pages excepted): a form
that creates the organisation, its top committee and its first organiser, then logs that
organiser in. Once an organisation exists /setup is 404; the check then costs nothing (it is
kept per worker, and an organisation is never deleted).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.org.accounts import SESSION_KEY, organiser_required, start_session
from qrservice.org.organisation import (
    NUMBER_SETTINGS,
    OrganisationError,
    OrganisationExists,
    current_month,
    current_organisation,
    forget_organisation_name,
    init_org,
    organisation_exists,
    update_organisation,
)

bp = Blueprint("setup", __name__)

#: Endpoints reachable before the organisation exists, besides /setup itself.
_OPEN_ENDPOINTS = frozenset(
    {"static", "scan.static", "scan.service_worker", "healthz", "auth.set_language", "setup.index"}
)
#: Paths reachable before it exists: API calls (they answer for themselves), card pages.
_OPEN_PREFIXES = ("/api/", "/c/")


@bp.before_app_request
def _first_run() -> Any:
    if current_app.extensions.get("organisation_exists"):
        return None  # set up: one dictionary look-up per request
    if request.endpoint in _OPEN_ENDPOINTS or request.path.startswith(_OPEN_PREFIXES):
        return None
    if organisation_exists() or current_user.is_authenticated:
        return None
    return redirect(url_for("setup.index"))


_FIELDS = (
    "org_name", "committee_code", "committee_name", "dues_tracked_from", "username",
    "display_name",
)  # fmt: skip


@bp.route("/setup", methods=["GET", "POST"], endpoint="index")
def setup() -> Any:
    # Once set up, the page is gone; a form sent from a page loaded before is told so (409).
    if request.method == "GET" and organisation_exists():
        abort(404)
    if request.method == "GET":
        form = {"committee_code": "C01", "dues_tracked_from": current_month().strftime("%Y-%m"),
                "username": "organiser"}  # fmt: skip
        return render_template("setup/setup.html", form=form, errors={})
    form = {name: request.form.get(name, "") for name in _FIELDS}
    password = request.form.get("password", "")
    s = db.session()  # a POST: its first statement takes the write turn
    errors: dict[str, str] = {}
    # The trail names the new organiser (their account does not exist yet when it starts).
    if password != request.form.get("password_confirm", ""):
        errors["password_confirm"] = _("The passwords differ.")
    try:
        _org, _committee, user = init_org(
            s, Actor(f"user:{form['username'].strip()}"), org_name=form["org_name"],
            committee_code=form["committee_code"], committee_name=form["committee_name"] or None,
            dues_tracked_from=form["dues_tracked_from"], username=form["username"],
            display_name=form["display_name"], password=password,
        )  # fmt: skip
    except OrganisationExists as exc:
        # Someone else finished first (another tab, another person): nothing of this form
        # was written.
        flash(exc.errors["organisation"], "error")
        return render_template("setup/done_elsewhere.html"), 409
    except OrganisationError as exc:
        errors = {**exc.errors, **errors}
    if errors:  # the answer's 422 rolls back anything written
        return render_template("setup/setup.html", form=form, errors=errors), 422
    session.clear()
    login_user(user)
    session[SESSION_KEY] = start_session(s, user)
    session.permanent = True
    s.commit()  # before the worker remembers that the organisation exists
    current_app.extensions["organisation_exists"] = True
    forget_organisation_name()
    flash(_("Your organisation is set up, and you are logged in as its organiser. Next: add "
            "your branches and groups (import a list, or one by one), then your members."),
          "notice")  # fmt: skip
    return redirect(url_for("org.tree"))


def _require_top_organiser() -> None:
    """The organisation's settings are its top committee's organisers' to change."""
    if current_user.unit.parent_id is not None:
        abort(403)


@bp.route("/settings/organisation", methods=["GET", "POST"], endpoint="settings")
@organiser_required
def settings() -> Any:
    _require_top_organiser()
    s = db.session()
    org = current_organisation(s)
    if org is None:
        abort(404)
    if request.method == "POST":
        form = {"name": request.form.get("name", ""),
                "dues_tracked_from": request.form.get("dues_tracked_from", "")}  # fmt: skip
        # Settings of make-up, points and assessment: those the form sent (a form without
        # them, e.g. an older page, keeps them); the checkbox is off when not sent.
        settings = {k: request.form[k] for k in NUMBER_SETTINGS if k in request.form}
        if settings:
            settings["rankings_enabled"] = request.form.get("rankings_enabled") == "yes"
        form.update({k: str(v) for k, v in settings.items()})
        try:
            changed = update_organisation(
                s, Actor.of(current_user), name=form["name"],
                dues_tracked_from=form["dues_tracked_from"], settings=settings,
            )  # fmt: skip
        except OrganisationError as exc:
            return render_template("setup/settings.html", form=form, errors=exc.errors), 422
        s.commit()  # before this worker reads the name again
        forget_organisation_name()
        flash(_("Changes saved.") if changed else _("Nothing changed."), "notice")
        return redirect(url_for("setup.settings"))
    form = {"name": org.name, "dues_tracked_from": org.dues_tracked_from.strftime("%Y-%m")}
    form.update({k: str(getattr(org, k)) for k in NUMBER_SETTINGS})
    form["rankings_enabled"] = str(org.rankings_enabled)
    return render_template("setup/settings.html", form=form, errors={})
