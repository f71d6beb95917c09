"""What boards, the overview and the reports show: plain values, computed elsewhere.

``measures`` fills ``BranchMeasures`` for any number of branches with aggregate queries;
``compliance`` fills ``Compliance``; ``board`` assembles a ``Board`` for one branch;
``overview`` an ``Overview`` for an organiser; ``charts`` and ``reports`` draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

from qrservice.boards.periods import Period

#: Measures written as percentages; the others are average points and members.
PERCENT_MEASURES = frozenset({"compliance", "attendance", "dues"})


def number_text(value: Any) -> str:
    """A figure as pages, charts and reports print it: '–' for none, no trailing '.0'."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def percent_text(value: Any) -> str:
    return "–" if value is None else f"{number_text(value)}%"


def value_text(measure: str, value: Any) -> str:
    """A measure's value (or target) as shown: 93%, 12.5, 3."""
    return percent_text(value) if measure in PERCENT_MEASURES else number_text(value)


def percent(part: int, whole: int) -> int | None:
    """A whole percentage, None when there is nothing to divide by."""
    return round(100 * part / whole) if whole else None


@dataclass(frozen=True)
class Rate:
    """Attended over expected (present, late, made up / those plus absent; leave is neither)."""

    attended: int = 0
    absent: int = 0
    excused: int = 0
    meetings: int = 0

    @property
    def expected(self) -> int:
        return self.attended + self.absent

    def __add__(self, other: Any) -> Rate:
        """Counts added up (``other``: a Rate or a row with the same four counts)."""
        return Rate(
            self.attended + other.attended,
            self.absent + other.absent,
            self.excused + other.excused,
            self.meetings + other.meetings,
        )

    @property
    def percent(self) -> int | None:
        return percent(self.attended, self.expected)


@dataclass(frozen=True)
class TrendPoint:
    month: date
    rate: Rate


class ComplianceSlot(NamedTuple):
    """One required meeting slot: a kind, a unit (the branch or one of its groups), a month,
    quarter or year; met, missed (ended without enough meetings) or due (still running). A
    named tuple: the overview of a thousand branches makes tens of thousands."""

    kind: str
    unit_id: int
    unit_name: str
    slot: Period
    required: int
    held: int
    state: str  # met, missed, due


@dataclass(frozen=True)
class Compliance:
    slots: tuple[ComplianceSlot, ...] = ()

    @cached_property
    def met(self) -> int:
        return sum(1 for s in self.slots if s.state == "met")

    @cached_property
    def counted(self) -> int:
        """Slots that count: ended ones, and running ones already met."""
        return sum(1 for s in self.slots if s.state != "due")

    @cached_property
    def missed(self) -> tuple[ComplianceSlot, ...]:
        return tuple(s for s in self.slots if s.state == "missed")

    @property
    def percent(self) -> int | None:
        return percent(self.met, self.counted)


@dataclass(frozen=True)
class DuesFigures:
    #: Members who owe for at least one month of the period (up to this month).
    owing: int = 0
    #: Of those, members whose months of the period are all paid or exempt.
    settled: int = 0
    #: Live payments received in the period (by the day paid), in fen.
    collected_fen: int = 0
    #: Members with a past owed month not fully paid (as of the period's end or today).
    in_arrears: int = 0
    #: What the members owe today, in fen (the board only; None in the overview).
    owed_fen: int | None = None

    @property
    def percent(self) -> int | None:
        return percent(self.settled, self.owing)


@dataclass(frozen=True)
class PointsFigures:
    #: Points earned in the period by the branch's members, all sources.
    total: int = 0
    members: int = 0
    #: (label, members) from fewest points to most (the board only).
    distribution: tuple[tuple[str, int], ...] = ()
    #: (member name, points), most first; only when rankings are on (the board only).
    top: tuple[tuple[str, int], ...] = ()

    @property
    def average(self) -> Decimal | None:
        if not self.members:
            return None
        return (Decimal(self.total) / self.members).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class TargetCheck:
    measure: str
    #: The measure's value this period (percent, average points or members warned).
    value: Decimal | None
    must_reach: Decimal | None
    stretch: Decimal | None
    #: stretch (stretch target reached), met (must-reach reached), missed, or none (no target
    #: or no value).
    state: str
    #: The plan–do–check–act note for this period, if written (a TargetNote).
    note: Any = None


@dataclass
class BranchMeasures:
    """One branch's row of the overview, and the head of its board."""

    unit_id: int
    code: str
    name: str
    members: int = 0
    compliance: Compliance = field(default_factory=Compliance)
    attendance: Rate = field(default_factory=Rate)
    dues: DuesFigures = field(default_factory=DuesFigures)
    points: PointsFigures = field(default_factory=PointsFigures)
    yellow: int = 0
    red: int = 0
    targets: dict[str, TargetCheck] = field(default_factory=dict)

    @property
    def warned(self) -> int:
        return self.yellow + self.red

    def value(self, measure: str) -> Decimal | None:
        """The measure a target is set for, in the target's unit."""
        raw: Any = {
            "compliance": self.compliance.percent,
            "attendance": self.attendance.percent,
            "dues": self.dues.percent,
            "points": self.points.average,
            "warnings": self.warned,
        }[measure]
        return None if raw is None else Decimal(raw)


@dataclass
class Board:
    """A branch's board for a period (电子方针管理板)."""

    unit: Any  # the branch (a Unit)
    period: Period
    today: date
    measures: BranchMeasures
    #: Attendance per meeting kind, in the order of MEETING_KINDS.
    by_kind: dict[str, Rate] = field(default_factory=dict)
    #: The 12 months ending with the period's last month.
    trend: list[TrendPoint] = field(default_factory=list)
    #: The monthly assessment for the period's last month (qrservice.life.assessment).
    assessment: Any = None
    #: attention rows (qrservice.life.attention.Row) of warned members, worst first.
    warned: list[Any] = field(default_factory=list)
    #: qrservice.life.birthdays.Birthday of the period's last month (this month if current).
    birthdays: list[Any] = field(default_factory=list)
    pending_leave: list[Any] = field(default_factory=list)
    pending_makeup: list[Any] = field(default_factory=list)
    pending_transfers: list[Any] = field(default_factory=list)
    #: The period's closed meetings whose trace (minutes) is overdue.
    untraced: list[Any] = field(default_factory=list)


@dataclass
class ActivityRecord:
    """A unit's quarter, as the committee publishes it: meetings held, traces filed and
    updates recorded by its officers."""

    unit_id: int
    code: str
    name: str
    kind: str
    meetings: int = 0
    traces: int = 0
    updates: int = 0


@dataclass
class Overview:
    scope: Any  # the organiser's unit
    period: Period
    today: date
    rows: list[BranchMeasures] = field(default_factory=list)
