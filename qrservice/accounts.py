"""Officer accounts: login, roles and the unit subtree each account may see.

Organisers manage their unit's subtree; secretaries see their own branch. Every view is
guarded by ``officer_required`` (any officer) or ``organiser_required``; API calls get a JSON
403/401, pages a redirect to the login form.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from . import db
from .audit import Actor, record
from .models import ROLES, Member, Unit, User
from .timeutil import utcnow

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
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic", not "strong": a secretary whose phone moves from Wi-Fi to mobile data mid-meeting
    # must stay logged in.
    login_manager.session_protection = "basic"


#: Built once: it runs on every request of a logged-in officer.
_USER_WITH_UNIT = select(User).options(joinedload(User.unit)).where(User.id == bindparam("id"))


#: How long a change to an account (deactivation, new unit) may take to reach a logged-in session.
USER_CACHE_SECONDS = 2.0


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # A short session of its own: the request's transaction then starts with the request's
    # own first statement, so an operation that must write first (a check-in) can. The
    # officer is kept for a moment per worker: a scanner sends several requests a second.
    if not user_id.isdigit():
        return None
    recent: dict[int, tuple[float, User | None]] = current_app.extensions.setdefault(
        "recent_officers", {}
    )
    now = time.monotonic()
    hit = recent.get(int(user_id))
    if hit is not None and hit[0] > now:
        return hit[1]
    with db.new_session() as s:
        user = s.scalar(_USER_WITH_UNIT, {"id": int(user_id)})
    user = user if user is not None and user.active else None
    recent[int(user_id)] = (now + USER_CACHE_SECONDS, user)
    return user


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if _wants_json():
        return jsonify(status="error", reason="login_required", message="Login required"), 401
    return redirect(url_for("auth.login", next=request.full_path))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


F = TypeVar("F", bound=Callable[..., Any])


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
    user.last_login_at = utcnow()
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
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", _("at least %(n)d characters", n=MIN_PASSWORD))
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
