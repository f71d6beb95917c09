"""The audit trail: every change to a record is written with who, what, when, before and after."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from qrservice.models import AuditEvent, User
from qrservice.timeutil import utcnow


def _default(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _dump(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=_default)


class Actor:
    """Who is making a change: an officer account, or the system (CLI, demo)."""

    def __init__(self, label: str, user: User | None = None) -> None:
        self.label = label
        self.user = user

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(f"user:{user.username}", user)

    @classmethod
    def system(cls, label: str = "cli") -> Actor:
        return cls(label)


def record(
    s: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(**event_values(actor, action, entity_type, entity_id, before, after))
    s.add(event)
    return event


def event_values(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The columns of one audit event, as ``record`` writes it; for writers that insert many
    events in one statement (an import)."""
    return {
        "at": at or utcnow(),
        "actor_id": actor.user.id if actor.user else None,
        "actor": actor.label,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": _dump(before),
        "after": _dump(after),
    }
