"""Time in one place: timestamps are naive UTC in the database, shown in the organisation's zone."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
