"""The organisation this installation serves: its name and organisation-wide settings.

One row, made by ``qrservice init-org`` (or the first-run page, or the demo) together with the
root committee and its first organiser. Pages read its name through ``organisation_name`` (or,
on every page, the per-worker ``cached_organisation_name``); the first-run redirect asks
``organisation_exists``, cached per worker once true: the row is never deleted.
"""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from qrservice import db
from qrservice.audit import Actor, record
from qrservice.models import Organisation, Unit, User
from qrservice.timeutil import local_time, parse_month, utcnow

#: The organisation's and the committee's names: the column's length.
MAX_NAME = 120
MAX_DISPLAY_NAME = 64
#: The earliest month dues tracking may start from.
EARLIEST_DUES_MONTH = date(2000, 1, 1)
#: Seconds a worker keeps the organisation's name before reading it again (a rename made on
#: another worker shows within this time; at once on the worker that made it).
NAME_CACHE_SECONDS = 10.0
_BAD_NAME = re.compile(r"[<>\x00-\x1f\x7f]")


class OrganisationError(ValueError):
    """Rejected organisation fields: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class OrganisationExists(OrganisationError):
    """The installation has its organisation already: init-org runs once."""


def current_organisation(s: Session) -> Organisation | None:
    """The organisation, or None on a fresh installation (the first-run page then shows).

    Read once per session (a request): the card page asks for it from three places (dues,
    make-up, birthdays). The row is the session's own object, so a change made through this
    session is seen; one made elsewhere is seen by the next request."""
    org = s.info.get("organisation")
    if org is None or org not in s:
        org = s.scalar(select(Organisation).order_by(Organisation.id).limit(1))
        if org is not None:
            s.info["organisation"] = org
    return org


def organisation_name(s: Session) -> str:
    """What cards, letters and pages print as the organisation's name; the configured
    ORG_NAME only while no organisation exists."""
    name = s.scalar(select(Organisation.name).order_by(Organisation.id).limit(1))
    return name if name is not None else current_app.config["ORG_NAME"]


def cached_organisation_name(fresh: bool = False) -> str:
    """``organisation_name`` kept per worker for NAME_CACHE_SECONDS: every page prints it.
    ``fresh``: read it now (what is printed on paper must not lag behind a rename)."""
    kept = current_app.extensions.get("organisation_name")
    now = time.monotonic()
    if kept is not None and kept[0] > now and not fresh:
        return kept[1]
    try:
        with db.new_session() as s:
            name = organisation_name(s)
    except SQLAlchemyError:  # a database not yet initialised: the page still renders
        return current_app.config["ORG_NAME"]
    current_app.extensions["organisation_name"] = (now + NAME_CACHE_SECONDS, name)
    return name


def forget_organisation_name() -> None:
    current_app.extensions.pop("organisation_name", None)


def organisation_exists() -> bool:
    """Whether the database holds the organisation; once true, kept for the worker's life."""
    if current_app.extensions.get("organisation_exists"):
        return True
    try:
        with db.new_session() as s:
            found = s.scalar(select(Organisation.id).limit(1)) is not None
    except SQLAlchemyError:  # not initialised (init-db not run): nothing to set up here yet
        return True
    if found:
        current_app.extensions["organisation_exists"] = True
    return found


def current_month() -> date:
    """The first day of this month on the organisation's clock."""
    return local_time(utcnow()).date().replace(day=1)


def _dues_month(value: Any, errors: dict[str, str], field: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return current_month()
    try:
        month = parse_month(value)
    except ValueError as exc:
        errors[field] = str(exc)
        return None
    this = current_month()
    latest = date(this.year + 1, this.month, 1)
    if not EARLIEST_DUES_MONTH <= month <= latest:
        errors[field] = _(
            "must be between %(first)s and %(last)s",
            first=EARLIEST_DUES_MONTH.strftime("%Y-%m"),
            last=latest.strftime("%Y-%m"),
        )
        return None
    return month


def clean_name(value: Any, field: str, errors: dict[str, str], limit: int = MAX_NAME) -> str:
    """A required name: trimmed, at most ``limit`` characters, no markup or control characters."""
    name = str(value or "").strip()
    if not name:
        errors.setdefault(field, _("required"))
    elif len(name) > limit:
        errors.setdefault(field, _("at most %(n)d characters", n=limit))
    elif _BAD_NAME.search(name):
        errors.setdefault(field, _("must not contain markup or control characters"))
    return name


def _lock_organisation_table(s: Session) -> None:
    """Two set-ups at once: the second waits here, then finds the first one's organisation.
    SQLite's writers queue already (requests that write begin as writers)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("LOCK TABLE organisation IN SHARE ROW EXCLUSIVE MODE"))


def create_organisation(
    s: Session, actor: Actor, name: str, dues_tracked_from: date
) -> Organisation:
    now = utcnow()
    org = Organisation(
        name=name, dues_tracked_from=dues_tracked_from.replace(day=1), created_at=now,
        updated_at=now,
    )  # fmt: skip
    s.add(org)
    s.flush()
    record(s, actor, "org.create", "organisation", org.id,
           after={"name": name, "dues_tracked_from": org.dues_tracked_from})  # fmt: skip
    return org


def init_org(
    s: Session,
    actor: Actor,
    *,
    org_name: str,
    committee_code: str,
    committee_name: str | None = None,
    dues_tracked_from: date | str | None = None,
    username: str,
    display_name: str | None,
    password: str,
) -> tuple[Organisation, Unit, User]:
    """Set up a fresh installation: the organisation, its root committee and the committee's
    first organiser account. Raises OrganisationExists once an organisation exists, and
    OrganisationError naming every bad field (nothing is written then). Adds and flushes."""
    from qrservice.org.accounts import USERNAME_RE, AccountError, check_password_rules, create_user
    from qrservice.org.units import UnitError, clean_code, create_unit

    _lock_organisation_table(s)
    existing = current_organisation(s)
    if existing is not None:
        raise OrganisationExists(
            {"organisation": _("This installation is set up already: its organisation is "
                               "%(name)s. Log in instead.", name=existing.name)}
        )  # fmt: skip
    errors: dict[str, str] = {}
    org_name = clean_name(org_name, "org_name", errors)
    committee_name = clean_name(committee_name or org_name, "committee_name", errors)
    month = _dues_month(dues_tracked_from, errors, "dues_tracked_from")
    username = str(username or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = _("3–64 letters, digits, '.', '_' or '-'")
    display_name = str(display_name or "").strip() or username
    if len(display_name) > MAX_DISPLAY_NAME:
        errors["display_name"] = _("at most %(n)d characters", n=MAX_DISPLAY_NAME)
    try:
        check_password_rules(
            password, username=username, display_name=display_name, field="password"
        )
    except AccountError as exc:
        errors.setdefault(exc.field, exc.message)
    code = clean_code(committee_code, "committee_code", errors)
    if errors:
        raise OrganisationError(errors)
    assert month is not None
    org = create_organisation(s, actor, org_name, month)
    try:
        committee = create_unit(
            s, actor, kind="committee", name=committee_name, code=code, parent=None
        )
    except UnitError as exc:
        fields = {"code": "committee_code", "name": "committee_name"}
        raise OrganisationError({fields.get(k, k): v for k, v in exc.errors.items()}) from None
    try:
        user = create_user(
            s, actor, username=username, password=password, role="organiser", unit=committee,
            display_name=display_name,
        )  # fmt: skip
    except AccountError as exc:
        raise OrganisationError({exc.field: exc.message}) from None
    return org, committee, user


#: The organisation's numeric settings of organisational life and points: field → (min, max).
NUMBER_SETTINGS = {
    "makeup_days": (1, 365), "makeup_min_chars": (0, 2000), "makeup_points": (0, 100),
    "dues_on_time_points": (0, 100), "assessment_threshold": (0, 1000),
}  # fmt: skip


def _clean_settings(settings: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The numeric settings and ``rankings_enabled`` given, checked (those absent: kept)."""
    clean: dict[str, Any] = {}
    for key, (low, high) in NUMBER_SETTINGS.items():
        if key not in settings:
            continue
        text = str(settings[key] if settings[key] is not None else "").strip()
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            errors[key] = _("enter a whole number from %(low)s to %(high)s", low=low, high=high)
        else:
            clean[key] = int(text)
    if "rankings_enabled" in settings:
        value = settings["rankings_enabled"]
        if isinstance(value, str):
            value = value.strip().casefold() in ("1", "yes", "on", "true")
        clean["rankings_enabled"] = bool(value)
    return clean


def update_organisation(
    s: Session,
    actor: Actor,
    *,
    name: str | None = None,
    dues_tracked_from: Any = None,
    settings: dict[str, Any] | None = None,
) -> bool:
    """Rename the organisation, move the month its dues are tracked from, or change its
    settings of make-up, points and assessment (``settings``: NUMBER_SETTINGS fields and
    ``rankings_enabled``; None or absent: keep); True if anything changed. Raises
    OrganisationError naming the bad fields."""
    org = current_organisation(s)
    if org is None:
        raise OrganisationError({"organisation": _("No organisation is set up yet.")})
    errors: dict[str, str] = {}
    new_name = org.name if name is None else clean_name(name, "name", errors)
    month = org.dues_tracked_from
    if dues_tracked_from is not None:
        if isinstance(dues_tracked_from, str) and not dues_tracked_from.strip():
            errors["dues_tracked_from"] = _("required")
        else:
            month = _dues_month(dues_tracked_from, errors, "dues_tracked_from")
    clean = _clean_settings(settings or {}, errors)
    if errors:
        raise OrganisationError(errors)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in clean.items():
        if getattr(org, key) != value:
            before[key], after[key] = getattr(org, key), value
            setattr(org, key, value)
    if new_name != org.name:
        before["name"], after["name"] = org.name, new_name
        org.name = new_name
    if month != org.dues_tracked_from:
        before["dues_tracked_from"], after["dues_tracked_from"] = org.dues_tracked_from, month
        org.dues_tracked_from = month  # type: ignore[assignment]
    if not after:
        return False
    org.updated_at = utcnow()
    s.flush()
    if "dues_tracked_from" in after:
        # Every member's owed months moved: the boards' settled months are worked out again.
        from qrservice.life.dues_settled import rebuild_settled

        rebuild_settled(s, month)
    record(s, actor, "org.update", "organisation", org.id, before=before, after=after)
    return True
