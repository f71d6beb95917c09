"""The organisation this installation serves: its name and organisation-wide settings.

One row, made by ``qrservice init-org`` (or the first-run page, or the demo). Pages read it
through ``current_organisation``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.models import Organisation
from qrservice.timeutil import utcnow


def current_organisation(s: Session) -> Organisation | None:
    """The organisation, or None on a fresh installation (the first-run page then shows)."""
    return s.scalar(select(Organisation).order_by(Organisation.id).limit(1))


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
