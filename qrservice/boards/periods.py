"""The periods a board reads: a month (2026-08), a quarter (2026-Q3) or a year (2026).

Times are the organisation's local months: a meeting belongs to the month its local start
falls in, as the calendar shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from qrservice.timeutil import add_months, from_local, half_width, month_start

PERIOD_KINDS = ("month", "quarter", "year")
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(\d{1,2})|[Qq]([1-4])))?$")


class PeriodError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errors = {"period": message}


@dataclass(frozen=True)
class Period:
    kind: str
    #: First day of the first month.
    start: date
    #: First day after the period (the first day of the following month).
    end: date

    @property
    def key(self) -> str:
        """How the period is written in URLs, exports and notes: 2026-08, 2026-Q3, 2026."""
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def label(self) -> str:
        if self.kind == "month":
            return _("%(year)d-%(month)02d", year=self.start.year, month=self.start.month)
        if self.kind == "quarter":
            return _(
                "%(year)d Q%(quarter)d",
                year=self.start.year,
                quarter=(self.start.month - 1) // 3 + 1,
            )
        return _("year %(year)d", year=self.start.year)

    def months(self) -> list[date]:
        out, month = [], self.start
        while month < self.end:
            out.append(month)
            month = add_months(month, 1)
        return out

    @property
    def starts_at(self) -> datetime:
        """The period's first moment, as stored (UTC)."""
        return from_local(datetime.combine(self.start, datetime.min.time()))

    @property
    def ends_at(self) -> datetime:
        return from_local(datetime.combine(self.end, datetime.min.time()))

    def previous(self) -> Period:
        return period_of(self.kind, add_months(self.start, -_LENGTH[self.kind]))

    def following(self) -> Period:
        return period_of(self.kind, self.end)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


_LENGTH = {"month": 1, "quarter": 3, "year": 12}


def period_of(kind: str, day: date) -> Period:
    """The month, quarter or year holding ``day``."""
    if kind == "month":
        start = month_start(day)
    elif kind == "quarter":
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    else:
        start = date(day.year, 1, 1)
    return Period(kind, start, add_months(start, _LENGTH[kind]))


def parse_period(value: Any, today: date, default_kind: str = "month") -> Period:
    """2026-08, 2026-Q3 or 2026 (blank: this ``default_kind``). Raises PeriodError."""
    text = half_width(value)
    if not text:
        return period_of(default_kind, today)
    match = _PERIOD_RE.match(text)
    if match:
        year, month, quarter = match.groups()
        if 2000 <= int(year) <= 2100:
            if month is None and quarter is None:
                return period_of("year", date(int(year), 1, 1))
            if quarter is not None:
                return period_of("quarter", date(int(year), int(quarter) * 3 - 2, 1))
            if 1 <= int(month) <= 12:
                return period_of("month", date(int(year), int(month), 1))
    raise PeriodError(_("not a period; write a month 2026-08, a quarter 2026-Q3 or a year 2026"))
