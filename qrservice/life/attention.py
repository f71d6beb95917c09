"""Who needs attention: members with a yellow or red warning, floating members not seen for
months, members in arrears; the lists a secretary and an organiser work from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qrservice.life.standing import Cause, Standing, standings
from qrservice.models import Member, Unit

#: What the list shows: anyone needing attention, or one reason.
SHOWS = ("all", "warnings", "floating", "arrears")
#: A floating member is "not seen" after this many months without a meeting, unless chosen.
FLOATING_MONTHS = 3


@dataclass(frozen=True)
class AttentionFilter:
    show: str = "all"
    #: Months without a meeting that make a floating member "not seen" (1–24).
    months: int = FLOATING_MONTHS


@dataclass(frozen=True)
class Row:
    member: Member
    standing: Standing
    reasons: tuple[str, ...]  # warnings, floating, arrears


@dataclass(frozen=True)
class AttentionList:
    rows: list[Row]
    counts: dict[str, int]


def reasons_for(member: Member, standing: Standing, months: int) -> tuple[str, ...]:
    reasons = []
    if standing.warning:
        reasons.append("warnings")
    if member.floating and standing.months_without_meeting >= months:
        reasons.append("floating")
    if standing.dues.arrears_months > 0:
        reasons.append("arrears")
    return tuple(reasons)


def attention_list(s: Session, unit: Unit, filt: AttentionFilter, today: date) -> AttentionList:
    """Active members in ``unit``'s subtree who need attention, worst first; ``counts`` says
    how many there are for each reason whatever ``filt.show`` chose."""
    members = list(
        s.scalars(
            select(Member)
            .join(Member.unit)
            .options(selectinload(Member.unit).selectinload(Unit.parent))
            .where(Member.active.is_(True), Unit.path.startswith(unit.path, autoescape=True))
            .order_by(Member.number)
        )
    )
    by_id = standings(s, members, today)
    rows = []
    counts = dict.fromkeys(SHOWS, 0)
    for member in members:
        standing = by_id[member.id]
        reasons = reasons_for(member, standing, filt.months)
        if not reasons:
            continue
        counts["all"] += 1
        for reason in reasons:
            counts[reason] += 1
        if filt.show == "all" or filt.show in reasons:
            rows.append(Row(member, standing, reasons))
    severity = {"red": 0, "yellow": 1, None: 2}
    rows.sort(
        key=lambda r: (
            severity[r.standing.warning],
            -max(r.standing.months_without_meeting, r.standing.dues.arrears_months),
            r.member.number,
        )
    )
    return AttentionList(rows, counts)


def warning_name(warning: str | None) -> str:
    return {"red": _("Red warning"), "yellow": _("Yellow warning")}.get(warning or "", "")


def reason_name(reason: str) -> str:
    return {
        "warnings": _("Warning"),
        "floating": _("Floating, not seen"),
        "arrears": _("In arrears"),
    }[reason]


def cause_text(cause: Cause) -> str:
    """A warning's cause as the officer reads it, with its date."""
    if cause.kind == "meetings":
        return ngettext(
            "No organisational life since %(date)s (%(num)d month)",
            "No organisational life since %(date)s (%(num)d months)",
            cause.months,
            date=cause.since.isoformat(),
        )
    return ngettext(
        "Dues unpaid since %(month)s (%(num)d month)",
        "Dues unpaid since %(month)s (%(num)d months)",
        cause.months,
        month=cause.since.strftime("%Y-%m"),
    )


def yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f}"


def export_headers() -> list[str]:
    return [
        _("Number"), _("Name"), _("Unit"), _("Why"), _("Warning"), _("Causes"),
        _("Last meeting attended"), _("Months without a meeting"), _("Floating location"),
        _("Months in arrears"), _("Owed (yuan)"), _("Paid through"),
    ]  # fmt: skip


def export_row(row: Row) -> list[Any]:
    st, m = row.standing, row.member
    return [
        m.number, m.name, m.unit.name, "、".join(reason_name(r) for r in row.reasons),
        warning_name(st.warning), "；".join(cause_text(c) for c in st.causes), st.last_attended,
        st.months_without_meeting, m.floating_location if m.floating else "",
        st.dues.arrears_months, yuan(st.dues.owed_fen),
        st.dues.paid_through.strftime("%Y-%m") if st.dues.paid_through else "",
    ]  # fmt: skip
