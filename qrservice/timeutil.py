"""Time in one place: timestamps are naive UTC in the database, shown in the organisation's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


#: The organisation's zone; the service runs in China (UTC+8, no daylight saving).
LOCAL_OFFSET = timedelta(hours=8)


def shifted(at: datetime, delta: timedelta) -> datetime:
    """``at + delta``, held at the calendar's ends instead of overflowing: one odd stored time
    (a meeting in year 0001) must not make every page that does arithmetic on it fail."""
    try:
        return at + delta
    except OverflowError:
        end = datetime.max if delta > timedelta(0) else datetime.min
        return end.replace(tzinfo=at.tzinfo)


def local_time(at: datetime) -> datetime:
    """A stored naive-UTC time as the organisation's wall-clock time."""
    return shifted(at, LOCAL_OFFSET)


def from_local(at: datetime) -> datetime:
    """A wall-clock time entered in the organisation's zone, as naive UTC for storage."""
    return shifted(at, -LOCAL_OFFSET)
