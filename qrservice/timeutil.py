"""Time in one place: timestamps are naive UTC in the database, shown in the organisation's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


#: The organisation's zone; the service runs in China (UTC+8, no daylight saving).
LOCAL_OFFSET = timedelta(hours=8)


def local_time(at: datetime) -> datetime:
    """A stored naive-UTC time as the organisation's wall-clock time."""
    return at + LOCAL_OFFSET


def from_local(at: datetime) -> datetime:
    """A wall-clock time entered in the organisation's zone, as naive UTC for storage."""
    return at - LOCAL_OFFSET
