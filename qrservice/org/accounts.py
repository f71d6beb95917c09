"""Officer accounts: login, roles and the unit subtree each account may see; the password
rules, resets to a temporary password, deactivation and changes of role or unit.

Organisers manage their unit's subtree; secretaries see their own branch. Every view is
guarded by ``officer_required`` (any officer) or ``organiser_required``; API calls get a JSON
403/401, pages a redirect to the login form. An officer whose password was reset reaches
nothing but the password form until they have chosen their own (``_require_password_change``).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import string
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, wraps
from pathlib import Path
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
from sqlalchemy import bindparam, func, select, update
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
MIN_PASSWORD = 10
MAX_PASSWORD = 128
#: A temporary password from a reset stops working if unused this long after it was set.
TEMPORARY_PASSWORD_HOURS = 72
#: Temporary passwords: lower-case letters and digits, none that reads as another (0/o, 1/l/i).
TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
#: Stripped from both ends before a password is compared with the common ones.
_DECORATION = string.digits + string.punctuation + string.whitespace

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
    app.before_request(_require_password_change)  # after the CSRF check: it may drop the login
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


def unit_or_404(unit_id: int, kind: str | None = None) -> Unit:
    """The unit with this id if the logged-in officer may see it (and it is of ``kind``, if
    given); else 404: to them it may not exist."""
    unit = db.session().get(Unit, unit_id)
    if unit is None or (kind and unit.kind != kind) or not can_see_unit(current_user, unit):
        abort(404)
    return unit


def can_see_member(user: User, member: Member) -> bool:
    return can_see_unit(user, member.unit)


def can_read_member(user: User, member: Member) -> bool:
    """Officers over the member's home, and (read only) those over the branch hosting them."""
    return can_see_member(user, member) or (
        member.host_unit is not None and can_see_unit(user, member.host_unit)
    )


def can_edit_member(user: User, member: Member) -> bool:
    return user.role == "organiser" and can_see_member(user, member)


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
    """A new officer account. The password field at fault is ``password`` (the form's)."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError("username", _("3–64 letters, digits, '.', '_' or '-'"))
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError("username", _("username %(name)s is taken", name=username))
    check_role_and_unit(role, unit)
    display_name = (display_name or username).strip()[:64]
    # The demo loader makes the demo's accounts with their published passwords even in
    # production; those accounts then cannot log in (login_refusal) until they are reset.
    check_password_rules(
        password, username=username, display_name=display_name, field="password",
        refuse_published=False if actor.label == "demo" else None,
    )  # fmt: skip
    now = utcnow()
    user = User(
        username=username,
        display_name=display_name,
        password_hash=generate_password_hash(password),
        role=role,
        unit_id=unit.id,
        unit=unit,
        active=True,
        created_at=now,
        password_changed_at=now,
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


def check_role_and_unit(role: str, unit: Unit | None) -> None:
    """A secretary is scoped to a branch; an organiser to a committee or a branch."""
    if role not in ROLES:
        raise AccountError("role", _("role must be organiser or secretary"))
    if unit is None:
        raise AccountError("unit", _("Choose a unit."))
    if unit.closed_at is not None:
        raise AccountError("unit", _("The unit %(code)s is closed.", code=unit.code))
    if role == "secretary" and unit.kind != "branch":
        raise AccountError("unit", _("a secretary is scoped to a branch"))
    if role == "organiser" and unit.kind not in ("committee", "branch"):
        raise AccountError("unit", _("An organiser is scoped to a committee or a branch."))


# --- Password rules -------------------------------------------------------------------------


def in_production() -> bool:
    """Whether this app runs in production (QRSERVICE_ENV=production)."""
    if has_app_context():
        return current_app.config.get("ENV") == "production"
    return os.environ.get("QRSERVICE_ENV") == "production"


def published_passwords() -> frozenset[str]:
    """The demo's passwords, printed by ``qrservice demo`` and in the README: known to all."""
    from qrservice.demo import ORGANISER, SECRETARY_PASSWORD  # the demo imports this module

    return frozenset({ORGANISER[1], SECRETARY_PASSWORD})


@cache
def common_passwords() -> frozenset[str]:
    """The refused common passwords and keyboard walks (common_passwords.txt), each also
    without the digits and symbols around it."""
    text = Path(__file__).with_name("common_passwords.txt").read_text(encoding="utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        word = line.strip().casefold()
        if word and not word.startswith("#"):
            words.add(word)
            if base := word.strip(_DECORATION):
                words.add(base)
    return frozenset(words)


def is_common_password(password: str) -> bool:
    """Compared case-insensitively, as typed and with digits and symbols around it stripped:
    "Password2026!" is "password"."""
    lowered = password.casefold()
    base = lowered.strip(_DECORATION)
    return lowered in common_passwords() or (bool(base) and base in common_passwords())


def _built_on(password: str, name: str) -> str | None:
    """How far the password is built on a name, case-insensitively: "same" when it is the
    name (perhaps with digits or symbols around it), "inside" when it holds the name and little
    else (fewer than MIN_PASSWORD characters without it), else None."""
    name = name.strip().casefold()
    lowered = password.casefold()
    if not name:
        return None
    if lowered == name or lowered.strip(_DECORATION) == name:
        return "same"
    # A short name (a two-character Chinese name) may well occur in a good password by chance.
    if len(name) >= 3 and name in lowered and len(lowered.replace(name, "")) < MIN_PASSWORD:
        return "inside"
    return None


def check_password_rules(
    password: str,
    *,
    username: str = "",
    display_name: str = "",
    field: str = "new_password",
    refuse_published: bool | None = None,
) -> None:
    """Raise AccountError on ``field`` with one message saying what is wrong with the password.

    At least MIN_PASSWORD and at most MAX_PASSWORD characters; not one character repeated;
    not the username or the display name, nor little more than either; not a common password
    (common_passwords.txt); in production (or when ``refuse_published``) not a password the
    demo published.
    """
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            field,
            _("Use at least %(min)d characters; this password has %(n)d.",
              min=MIN_PASSWORD, n=len(password)),
        )  # fmt: skip
    if len(password) > MAX_PASSWORD:
        raise AccountError(field, _("Use at most %(max)d characters.", max=MAX_PASSWORD))
    if len(set(password)) == 1:
        raise AccountError(field, _("The password must not be one character repeated."))
    on_username = _built_on(password, username)
    if on_username == "same":
        raise AccountError(field, _("The password must not be the username."))
    if on_username == "inside":
        raise AccountError(
            field,
            _("The password is the username with little added: without the username at "
              "least %(min)d characters must remain.", min=MIN_PASSWORD),
        )  # fmt: skip
    on_name = _built_on(password, display_name)
    if on_name == "same":
        raise AccountError(field, _("The password must not be the account's name."))
    if on_name == "inside":
        raise AccountError(
            field,
            _("The password is the account's name with little added: without the name at "
              "least %(min)d characters must remain.", min=MIN_PASSWORD),
        )  # fmt: skip
    if is_common_password(password):
        raise AccountError(
            field,
            _("This is one of the most common passwords (digits or symbols added to it do not "
              "change that): choose one that is harder to guess."),
        )  # fmt: skip
    if refuse_published is None:
        refuse_published = in_production()
    if refuse_published and password in published_passwords():
        raise AccountError(
            field, _("This password was published with the demo: it cannot be used in production.")
        )


def _set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)
    user.password_changed_at = utcnow()


def new_temporary_password() -> str:
    """Four groups of four letters and digits, easy to read out and type: "k7mp-3xq9-…"."""
    return "-".join(
        "".join(secrets.choice(TEMPORARY_ALPHABET) for _i in range(4)) for _g in range(4)
    )


def temporary_password_expired(user: User, now: datetime | None = None) -> bool:
    """A reset's temporary password, unused for TEMPORARY_PASSWORD_HOURS, no longer works."""
    if not user.must_change_password or user.password_changed_at is None:
        return False
    age = (now or utcnow()) - user.password_changed_at
    return age >= timedelta(hours=TEMPORARY_PASSWORD_HOURS)


# --- Logging in -------------------------------------------------------------------------------


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, or None; no hint which was wrong."""
    user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def login_refusal(user: User, password: str) -> str | None:
    """Why the right password of an active account still does not log in, or None.

    A password the demo published is refused in production outright, not let in to be
    changed: whoever read it could otherwise log in first and choose the new password.
    """
    if in_production() and password in published_passwords():
        return _(
            "This account still has a password published with the demo, which is refused in "
            "production. Ask an organiser to reset it (on the server: qrservice "
            "reset-password %(username)s).",
            username=user.username,
        )
    if temporary_password_expired(user):
        return _(
            "This temporary password has expired (it was valid for %(hours)d hours). Ask an "
            "organiser for a new one.",
            hours=TEMPORARY_PASSWORD_HOURS,
        )
    return None


#: What an officer who must change their password may still reach.
_OPEN_BEFORE_PASSWORD_CHANGE = frozenset(
    {"auth.password", "auth.logout", "auth.login", "auth.set_language", "static", "scan.static",
     "healthz"}
)  # fmt: skip


def _require_password_change() -> Any:
    """After a reset, every page sends the officer to the password form; API calls get 403."""
    if SESSION_KEY not in flask_session or request.endpoint in _OPEN_BEFORE_PASSWORD_CHANGE:
        return None  # no officer session: nothing to load
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    message = _("Your password was reset: choose a new password before anything else.")
    if _wants_json():
        return jsonify(status="error", reason="password_change_required", message=message), 403
    return redirect(url_for("auth.password"))


def change_password(s: Session, user: User, current: str, new: str, confirm: str) -> None:
    """An officer changes their own password (a temporary one included); every session of the
    account ends. Fields: current_password, new_password, new_password_confirm."""
    user = s.get(User, user.id) or user  # the logged-in officer is kept outside this session
    if not check_password_hash(user.password_hash, current):
        raise AccountError("current_password", _("This is not your current password."))
    if temporary_password_expired(user):
        raise AccountError(
            "current_password",
            _("This temporary password has expired: ask an organiser for a new one."),
        )
    check_password_rules(new, username=user.username, display_name=user.display_name)
    if new != confirm:
        raise AccountError("new_password_confirm", _("The passwords differ."))
    if new == current:
        raise AccountError("new_password", _("Choose a password different from the current one."))
    _set_password(user, new)
    user.must_change_password = False
    ended = end_all_sessions(s, user)
    record(s, Actor.of(user), "user.password", "user", user.id, after={"sessions_ended": ended})


# --- Organisers managing accounts -----------------------------------------------------------


def _check_manages(actor: Actor, user: User) -> None:
    """An officer acting on an account must be an organiser whose subtree holds it (views
    answer 404 before this); the command line (no officer) may act on any account."""
    officer = actor.user
    if officer is None:
        return
    if officer.role != "organiser" or not can_see_unit(officer, user.unit):
        raise AccountError("user", _("This account is not within your scope."))


def _is_last_root_organiser(s: Session, user: User) -> bool:
    """Whether ``user`` is the only active organiser of the root committee."""
    if not user.active or user.role != "organiser" or user.unit.parent_id is not None:
        return False
    others = s.scalar(
        select(func.count(User.id)).where(
            User.unit_id == user.unit_id, User.role == "organiser", User.active.is_(True),
            User.id != user.id,
        )
    )  # fmt: skip
    return not others


def reset_password(s: Session, actor: Actor, user: User, password: str | None = None) -> str:
    """Give ``user`` a new password and end every session of the account; returns it.

    Without ``password``: a temporary password, to be shown once, that must be changed at the
    next login and expires unused after TEMPORARY_PASSWORD_HOURS. With one (the command line),
    that password, checked by the rules, to keep. The password itself is never recorded.
    """
    _check_manages(actor, user)
    if actor.user is not None and actor.user.id == user.id:
        raise AccountError(
            "user", _("Change your own password on the password page, with your current one.")
        )
    temporary = password is None
    if password is None:
        password = new_temporary_password()
    else:
        check_password_rules(password, username=user.username, display_name=user.display_name)
    _set_password(user, password)
    user.must_change_password = temporary
    ended = end_all_sessions(s, user)
    record(
        s, actor, "user.reset_password", "user", user.id,
        after={"temporary": temporary, "sessions_ended": ended},
    )  # fmt: skip
    return password


def plan_user_update(
    s: Session,
    actor: Actor,
    user: User,
    *,
    role: str,
    unit: Unit | None,
    display_name: str | None = None,
) -> dict[str, tuple[str, str]]:
    """What ``update_user`` would change, field → (before, after), checked and not applied.

    Within the organiser's scope (the account and its new unit); nobody changes their own role
    or unit, and the root committee keeps at least one active organiser.
    """
    _check_manages(actor, user)
    role = (role or "").strip()
    check_role_and_unit(role, unit)
    assert unit is not None  # checked just above
    if actor.user is not None and not can_see_unit(actor.user, unit):
        raise AccountError("unit", _("Choose a unit within your own scope."))
    name = (display_name or "").strip()[:64] or user.display_name
    before = {"role": user.role, "unit": user.unit.code, "display_name": user.display_name}
    after = {"role": role, "unit": unit.code, "display_name": name}
    changed = {k: (before[k], v) for k, v in after.items() if before[k] != v}
    if "role" in changed or "unit" in changed:
        field = "role" if "role" in changed else "unit"
        if actor.user is not None and actor.user.id == user.id:
            raise AccountError(
                field,
                _("You cannot change your own role or unit: another organiser must, so that "
                  "nobody locks themselves out by accident."),
            )  # fmt: skip
        if _is_last_root_organiser(s, user):
            raise AccountError(
                field,
                _("%(name)s is the last active organiser of the committee %(code)s: make "
                  "another organiser there first.", name=user.username, code=user.unit.code),
            )  # fmt: skip
    return changed


def update_user(
    s: Session,
    actor: Actor,
    user: User,
    *,
    role: str,
    unit: Unit | None,
    display_name: str | None = None,
) -> dict[str, tuple[str, str]]:
    """Change an account's role, unit or display name (see ``plan_user_update``); returns
    what changed, empty if nothing. A new role or unit ends every session of the account at
    once: what it may see changes."""
    changed = plan_user_update(s, actor, user, role=role, unit=unit, display_name=display_name)
    if not changed:
        return changed
    assert unit is not None
    user.role = changed.get("role", (None, user.role))[1]
    user.unit_id, user.unit = unit.id, unit
    user.display_name = changed.get("display_name", (None, user.display_name))[1]
    s.flush()
    after: dict[str, Any] = {k: new for k, (_old, new) in changed.items()}
    if "role" in changed or "unit" in changed:
        after["sessions_ended"] = end_all_sessions(s, user)
    record(
        s, actor, "user.update", "user", user.id,
        before={k: old for k, (old, _new) in changed.items()}, after=after,
    )  # fmt: skip
    return changed


def set_active(s: Session, actor: Actor, user: User, active: bool) -> None:
    """Deactivate (every session ends at once) or reactivate an officer account."""
    _check_manages(actor, user)
    if actor.user is not None and actor.user.id == user.id and not active:
        raise AccountError(
            "active",
            _("You cannot deactivate your own account: another organiser must, so that nobody "
              "locks themselves out by accident."),
        )  # fmt: skip
    if user.active == active:
        return
    if not active and _is_last_root_organiser(s, user):
        raise AccountError(
            "active",
            _("%(name)s is the last active organiser of the committee %(code)s: make another "
              "organiser there first.", name=user.username, code=user.unit.code),
        )  # fmt: skip
    user.active = active
    ended = end_all_sessions(s, user) if not active else 0
    record(
        s, actor, "user.activate" if active else "user.deactivate", "user", user.id,
        before={"active": not active}, after={"active": active, "sessions_ended": ended},
    )  # fmt: skip


def accounts_with_published_passwords(s: Session) -> list[User]:
    """Active accounts whose password is one the demo published (a hash check per account and
    password: a tenth of a second each, fine for the few accounts of an installation)."""
    published = sorted(published_passwords())
    users = s.scalars(select(User).where(User.active.is_(True)).order_by(User.username)).all()
    return [
        user
        for user in users
        if any(check_password_hash(user.password_hash, password) for password in published)
    ]
