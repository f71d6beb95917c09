"""Who is scanning: an officer with a login session, or a paired scanner device with its token.

The scanner's API calls are guarded by ``scanner_required``, which gives the view a
``Scanner`` (``current_scanner()``): the label its rows are recorded by, the unit path it may
act in, and for a device its id and the one meeting it may be limited to. A request with
``Authorization: Bearer`` is decided by its token alone, never by a session cookie that came
along; it needs no CSRF token (``qrservice.org.accounts`` skips the check for such requests and
refuses them everywhere but the views marked here). A refused token answers 401 JSON with a
fixed reason, never a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify
from flask_login import current_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.models import Meeting, User
from qrservice.org.accounts import accepts_bearer, bearer_token, login_manager
from qrservice.org.devices import (
    DeviceRefused,
    device_for_token,
    device_label,
    needs_touch,
    note_refused_use,
    token_refusal_message,
    touch,
)
from qrservice.timeutil import utcnow
from scan.checkin import OFFLINE_GRACE

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Scanner:
    """An officer or a paired device, as far as scanning is concerned."""

    #: What its attendance rows and trail entries say: "user:alice" or "device:12".
    label: str
    #: The unit path it may act in: the officer's unit, or the device's branch.
    scope_path: str
    user: User | None = None
    device_id: int | None = None
    device_name: str | None = None
    unit_name: str | None = None
    #: A device limited to one meeting.
    meeting_id: int | None = None

    @property
    def is_device(self) -> bool:
        return self.device_id is not None

    @property
    def actor(self) -> Actor:
        return Actor(self.label, self.user)

    def member_scope(self, meeting: Meeting) -> str:
        """Whose members it may see: an officer their units'; a device the meeting's list."""
        return meeting.unit.path if self.is_device else self.scope_path

    def may_use(self, meeting: Meeting, now: datetime, write: bool = False) -> bool:
        """Whether it may reach this meeting's scanner calls.

        A device reads (status, expected list, lookup, undo) only while check-in is open or
        was closed within the offline grace; it may send scans to any meeting of its branch
        (or its one meeting), so that a queue kept offline always gets the server's answers.
        """
        if not meeting.unit.path.startswith(self.scope_path):
            return False
        if not self.is_device:
            return True
        if self.meeting_id is not None and meeting.id != self.meeting_id:
            return False
        if write or meeting.status == "open":
            return True
        return (
            meeting.status == "closed"
            and meeting.closed_at is not None
            and now - meeting.closed_at <= OFFLINE_GRACE
        )


def current_scanner() -> Scanner:
    return g.scanner


def _refused(reason: str) -> Any:
    body = {"status": "error", "reason": reason, "message": token_refusal_message(reason)}
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return jsonify(body), 401, {"WWW-Authenticate": challenge}


def device_scanner(token: str) -> Scanner:
    """The device of a bearer token as a Scanner; raises DeviceRefused.

    Read in a session of its own, so that a check-in's transaction still begins with its own
    first statement. The last-seen time (at most once a minute) and a refused use of a revoked
    token are written in short transactions of their own: the refused request itself is
    answered 401 and writes nothing.
    """
    now = utcnow()
    with db.new_session() as s:
        try:
            device = device_for_token(s, token, now)
        except DeviceRefused as exc:
            device_id = exc.device.id if exc.device is not None else None
            s.rollback()
            if device_id is not None and exc.reason == "device_revoked":
                db.write_unless_busy(
                    lambda w: note_refused_use(w, device_id, "device_revoked", now)
                )
            raise
        scanner = Scanner(
            label=device_label(device.id), scope_path=device.unit.path, device_id=device.id,
            device_name=device.name, unit_name=device.unit.name, meeting_id=device.meeting_id,
        )  # fmt: skip
        stale = needs_touch(device, now)
        s.rollback()
        if stale:
            db.write_unless_busy(lambda w: touch(w, scanner.device_id, now))  # type: ignore[arg-type]
    return scanner


def officer_scanner(user: User) -> Scanner:
    return Scanner(label=f"user:{user.username}", scope_path=user.unit.path, user=user,
                   unit_name=user.unit.name)  # fmt: skip


def scanner_required(view: F) -> F:
    """An officer's session, or a device's bearer token (then the token alone decides)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is not None:
            try:
                g.scanner = device_scanner(token)
            except DeviceRefused as exc:
                return _refused(exc.reason)
        elif current_user.is_authenticated:
            g.scanner = officer_scanner(current_user)
        else:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return accepts_bearer(wrapped)  # type: ignore[return-value]


def device_required(view: F) -> F:
    """A device's bearer token only (its own information and meetings)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            return _refused("device_unknown")
        try:
            g.scanner = device_scanner(token)
        except DeviceRefused as exc:
            return _refused(exc.reason)
        return view(*args, **kwargs)

    return accepts_bearer(wrapped)  # type: ignore[return-value]
