"""Time in one place: timestamps are naive UTC in the database, shown in the organisation's zone;
months (dues, plans, lists) are kept as their first day, and read as people write them."""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


#: The organisation's time zone (configuration TIME_ZONE; China's by default, UTC+8 without
#: daylight saving). Months, years, "today" and every time shown are in it.
DEFAULT_ZONE = "Asia/Shanghai"
_zone = ZoneInfo(DEFAULT_ZONE)


def set_zone(name: str) -> None:
    """Use the zone called ``name`` (an IANA name such as Asia/Shanghai); ValueError if no
    such zone is known here."""
    global _zone
    try:
        _zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name: Asia/Shanghai)") from None


def local_offset(at: datetime | None = None) -> timedelta:
    """How far the organisation's clock is ahead of UTC at ``at`` (UTC, naive; now if None)."""
    return _zone.utcoffset((at or utcnow()).replace(tzinfo=None)) or timedelta(0)


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
    try:
        return at.replace(tzinfo=UTC).astimezone(_zone).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return shifted(at, local_offset(datetime(2000, 1, 1)))


def from_local(at: datetime) -> datetime:
    """A wall-clock time entered in the organisation's zone, as naive UTC for storage."""
    try:
        return at.replace(tzinfo=_zone).astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return shifted(at, -local_offset(datetime(2000, 1, 1)))


def month_start(d: date) -> date:
    """The first day of ``d``'s month: months are kept as their first day."""
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    """The first day of the month ``n`` months after ``d``'s."""
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_number(d: date) -> int:
    """The month of ``d`` as one number (year * 12 + month - 1): months apart is a subtraction."""
    return d.year * 12 + d.month - 1


def same_day_months_later(day: date, n: int) -> date:
    """The same day ``n`` months later; a day past that month's end becomes its last day."""
    month = add_months(day, n)
    return month.replace(day=min(day.day, calendar.monthrange(month.year, month.month)[1]))


def months_between(a: date, b: date) -> int:
    """Whole months from month a to month b (b after a gives a positive number)."""
    return (b.year - a.year) * 12 + b.month - a.month


def local_today() -> date:
    """Today in the organisation's zone."""
    return local_time(utcnow()).date()


def month_text(d: date | None) -> str:
    return d.strftime("%Y-%m") if d else ""


def half_width(value: Any) -> str:
    """A form value or spreadsheet cell as trimmed half-width text (full-width digits too)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


_MONTH_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:月)?(?:\s*[-/.]\s*\d{1,2}\s*日?)?$")


def parse_month(value: Any) -> date:
    """A month written YYYY-MM (also 2026/1, 2026.01, 2026年1月, or a date in that month), or a
    spreadsheet date cell: its first day. Raises ValueError with a message to show."""
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    text = half_width(value)
    match = _MONTH_RE.match(text)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12:
            return date(year, month, 1)
    raise ValueError(_("not a month; write it as YYYY-MM"))


def parse_day(value: Any) -> date:
    """A date written YYYY-MM-DD (also with / or .), or a spreadsheet date cell."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = half_width(value).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError:
        raise ValueError(_("not a date; write it as YYYY-MM-DD")) from None
