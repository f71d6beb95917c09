"""Login, logout, an officer's own password (chosen after a reset before anything else) and
the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from qrservice import db
from qrservice.i18n import LANG_COOKIE, LANGUAGE_NAMES
from qrservice.org.accounts import (
    MIN_PASSWORD,
    SESSION_KEY,
    AccountError,
    authenticate,
    change_password,
    end_session,
    limiter,
    login_refusal,
    officer_required,
    start_session,
)

bp = Blueprint("auth", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site; never an absolute URL to somewhere else."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def home() -> str:
    """Where an officer lands: today's and upcoming meetings, the open one first."""
    return url_for("meetings.index")


@bp.route("/")
def index() -> Any:
    if current_user.is_authenticated:
        return redirect(home())
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = authenticate(db.session(), username, password)
        refusal = login_refusal(user, password) if user is not None else None
        if user is not None and refusal is None:
            session.clear()  # nothing of a session from before the login is kept
            login_user(user)
            session[SESSION_KEY] = start_session(db.session(), user)
            session.permanent = True
            if user.must_change_password:
                flash(_("Your password was reset: choose your own password now."), "notice")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next"), home()))
        if refusal is not None:
            flash(refusal, "error")
            return render_template("login.html", username=username), 403
        flash(_("Wrong username or password."), "error")
        return render_template("login.html", username=username), 401
    return render_template("login.html", username="")


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    token = session.get(SESSION_KEY)
    logout_user()
    session.clear()
    if isinstance(token, str):
        end_session(db.session(), token)
    flash(_("You are logged out."), "notice")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@officer_required
def password() -> Any:
    if request.method == "POST":
        form = request.form
        try:
            change_password(
                db.session(), current_user, form.get("current_password", ""),
                form.get("new_password", ""), form.get("new_password_confirm", ""),
            )  # fmt: skip
        except AccountError as exc:
            return _password_form({exc.field: exc.message}), 422
        logout_user()
        session.clear()
        flash(_("Password changed. Log in again with the new password."), "notice")
        return redirect(url_for("auth.login"))
    return _password_form({})


def _password_form(errors: dict[str, str]) -> Any:
    return render_template(
        "account/password.html", errors=errors, forced=current_user.must_change_password,
        min_password=MIN_PASSWORD,
    )  # fmt: skip


@bp.route("/lang/<code>")
def set_language(code: str) -> Any:
    target = safe_next(request.args.get("next"), url_for("auth.index"))
    response = make_response(redirect(target))
    if code in LANGUAGE_NAMES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response
