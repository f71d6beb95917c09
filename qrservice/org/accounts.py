"""Officer accounts: login, roles and the unit subtree each account may see.

Organisers manage their unit's subtree; secretaries see their own branch. Every view is
guarded by ``officer_required`` (any officer) or ``organiser_required``; API calls get a JSON
403/401, pages a redirect to the login form.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_app_context,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask import session as flask_session
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from qrservice import db
from qrservice.audit import Actor, record
from qrservice.models import ROLES, Member, OfficerSession, Unit, User
from qrservice.timeutil import utcnow

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD = 8

# A real hash to compare against when the username does not exist, so that a wrong
# username and a wrong password take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A rejected account change; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    # One central CSRF check (below) instead of Flask-WTF's own, so that a call carrying a
    # scanner device's bearer token can skip it: a browser never sends that header by itself.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_check_csrf_unless_bearer)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic", not "strong": a secretary whose phone moves from Wi-Fi to mobile data mid-meeting
    # must stay logged in.
    login_manager.session_protection = "basic"


#: Built once: it runs on every request of a logged-in officer (unless kept, below).
_SESSION_USER = (
    select(OfficerSession, User)
    .join(User, User.id == OfficerSession.user_id)
    .options(joinedload(User.unit))
    .where(OfficerSession.token_hash == bindparam("token_hash"))
)

#: How long a logout, password change or deactivation may take to reach a worker that
#: checked the session a moment before: officers are kept this long per worker, since a
#: scanner sends several requests a second.
USER_CACHE_SECONDS = 2.0
#: An officer session's last-seen time is written at most this often (its idle timeout is
#: counted from it, so it is this much less exact).
SESSION_TOUCH_SECONDS = 300
#: The key of the session cookie that carries the officer session's token.
SESSION_KEY = "officer_session"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(s: Session, user: User) -> str:
    """Record a new login of ``user``; the returned token goes into the session cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(OfficerSession(user_id=user.id, token_hash=_token_hash(token), created_at=now,
                         last_seen_at=now))  # fmt: skip
    user.last_login_at = now
    return token


def end_session(s: Session, token: str) -> None:
    """Logging out: this session's cookie stops working, wherever a copy of it is."""
    s.execute(
        update(OfficerSession)
        .where(OfficerSession.token_hash == _token_hash(token), OfficerSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    _forget(token)


def end_all_sessions(s: Session, user: User) -> int:
    """Every session of this account stops (password change, deactivation, new role or unit)."""
    result = s.execute(
        update(OfficerSession)
        .where(OfficerSession.user_id == user.id, OfficerSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    recent = current_app.extensions.get("recent_officers", {}) if has_app_context() else {}
    for key, (_expiry, kept) in list(recent.items()):
        if kept is not None and kept.id == user.id:
            recent.pop(key, None)
    return result.rowcount or 0


def _forget(token: str) -> None:
    if has_app_context():
        current_app.extensions.get("recent_officers", {}).pop(_token_hash(token), None)


def _session_alive(row: OfficerSession, now: datetime) -> bool:
    config = current_app.config
    return (
        row.ended_at is None
        and now - row.created_at < timedelta(seconds=config["OFFICER_SESSION_MAX_AGE"])
        and now - row.last_seen_at < timedelta(seconds=config["OFFICER_IDLE_TIMEOUT"])
    )


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # A short session of its own: the request's transaction then starts with the request's
    # own first statement, so an operation that must write first (a check-in) can.
    token = flask_session.get(SESSION_KEY)
    if not isinstance(token, str) or not user_id.isdigit():
        return None
    token_hash = _token_hash(token)
    recent: dict[str, tuple[float, User | None]] = current_app.extensions.setdefault(
        "recent_officers", {}
    )
    clock = time.monotonic()
    hit = recent.get(token_hash)
    if hit is not None and hit[0] > clock:
        return hit[1]
    now = utcnow()
    user, stale = None, None
    with db.new_session() as s:  # a read of its own, ended before the touch below
        found = s.execute(_SESSION_USER, {"token_hash": token_hash}).first()
        if found is not None:
            row, candidate = found
            if candidate.active and candidate.id == int(user_id) and _session_alive(row, now):
                user = candidate
                if (now - row.last_seen_at).total_seconds() > SESSION_TOUCH_SECONDS:
                    stale = update(OfficerSession).where(OfficerSession.id == row.id)
    if stale is not None:
        db.write_unless_busy(lambda w: w.execute(stale.values(last_seen_at=now)))
    recent[token_hash] = (clock + USER_CACHE_SECONDS, user)
    return user


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if _wants_json():
        return jsonify(status="error", reason="login_required", message="Login required"), 401
    return redirect(url_for("auth.login", next=request.full_path))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


F = TypeVar("F", bound=Callable[..., Any])

#: Marks a view that accepts ``Authorization: Bearer`` (a scanner device's calls).
BEARER_VIEW_ATTR = "accepts_bearer_token"


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header ("" when empty); None without one."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def accepts_bearer(view: F) -> F:
    """Let requests with a bearer token reach this view without a CSRF token; the view must
    then authenticate by that token alone (scan/auth.py)."""
    setattr(view, BEARER_VIEW_ATTR, True)
    return view


def _check_csrf_unless_bearer() -> Any:
    if bearer_token() is not None:
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, BEARER_VIEW_ATTR, False):
            return None  # the scanner's calls: the token alone decides
        # Anywhere else a bearer request is nobody's, whatever cookie came along: a device
        # token reaches the scanner's calls and what any visitor may see, nothing more.
        g._login_user = login_manager.anonymous_user()
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)
    return None


def officer_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def organiser_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != "organiser":
            if _wants_json():
                return jsonify(status="error", reason="forbidden", message="Forbidden"), 403
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def can_see_unit(user: User, unit: Unit) -> bool:
    return unit.path.startswith(user.unit.path)


def can_see_member(user: User, member: Member) -> bool:
    return can_see_unit(user, member.unit)


def can_edit_member(user: User, member: Member) -> bool:
    return user.role == "organiser" and can_see_member(user, member)


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, or None; no hint which was wrong."""
    user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def create_user(
    s: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    unit: Unit,
    display_name: str | None = None,
) -> User:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError("username", _("3–64 letters, digits, '.', '_' or '-'"))
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError("username", _("username %(name)s is taken", name=username))
    if role not in ROLES:
        raise AccountError("role", _("role must be organiser or secretary"))
    if role == "secretary" and unit.kind != "branch":
        raise AccountError("unit", _("a secretary is scoped to a branch"))
    check_password_rules(password)
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:64],
        password_hash=generate_password_hash(password),
        role=role,
        unit_id=unit.id,
        unit=unit,
        active=True,
        created_at=utcnow(),
    )
    s.add(user)
    s.flush()
    record(
        s,
        actor,
        "user.create",
        "user",
        user.id,
        after={"username": username, "role": role, "unit": unit.code},
    )
    return user


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", _("at least %(n)d characters", n=MIN_PASSWORD))


def change_password(s: Session, user: User, current: str, new: str, confirm: str) -> None:
    """An officer changes their own password; every session of the account ends."""
    user = s.get(User, user.id) or user  # the logged-in officer is kept outside this session
    if not check_password_hash(user.password_hash, current):
        raise AccountError("current_password", _("This is not your current password."))
    if new != confirm:
        raise AccountError("password_confirm", _("The passwords differ."))
    check_password_rules(new)
    if new == current:
        raise AccountError("password", _("Choose a password different from the current one."))
    user.password_hash = generate_password_hash(new)
    ended = end_all_sessions(s, user)
    record(s, Actor.of(user), "user.password", "user", user.id, after={"sessions_ended": ended})


def set_active(s: Session, actor: Actor, user: User, active: bool) -> None:
    """Deactivate (every session ends at once) or reactivate an officer account."""
    if actor.user is not None and actor.user.id == user.id and not active:
        raise AccountError("active", _("You cannot deactivate your own account."))
    if user.active == active:
        return
    user.active = active
    ended = end_all_sessions(s, user) if not active else 0
    record(
        s, actor, "user.activate" if active else "user.deactivate", "user", user.id,
        before={"active": not active}, after={"active": active, "sessions_ended": ended},
    )  # fmt: skip
